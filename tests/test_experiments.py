"""Pretraining and transfer stages through the command line: JSON result, caching, clear errors."""
import json

import numpy as np

from primps_core import datasets
from primps_core.__main__ import main


def test_transfer_from_a_pretrained_source_prints_scores_and_is_cached(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("primps_core.paths.RUNS_DIR", tmp_path / "runs")
    target = datasets.load_images("emoji-food")[:12]
    datasets.save_images(target, tmp_path / "target.zip")
    argv = ["transfer", "--target", str(tmp_path / "target.zip"), "--init", "primitives-ps", "--preset", "smoke",
            "--iterations", "4", "--out", str(tmp_path / "copy")]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["iterations"] == 4 and first["fid"] > 0 and np.isfinite(first["kid_mean"]) and not first["cached"]
    assert (tmp_path / "copy" / "log.jsonl").exists() and (tmp_path / "copy" / "checkpoint.pt").exists()
    assert len(list((tmp_path / "runs" / "smoke" / "pretrain").iterdir())) == 1      # the pretraining it reused
    assert list((tmp_path / "runs" / "cache" / "features").rglob("*.npy"))              # target features cached
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cached"] and again["fid"] == first["fid"]


def test_unknown_init_or_target_gives_one_clear_error(tmp_path, capsys):
    assert main(["transfer", "--target", "emoji-food", "--init", "imagenet", "--preset", "smoke"]) == 1
    assert "unknown init 'imagenet'" in capsys.readouterr().err
    assert main(["transfer", "--target", str(tmp_path / "none"), "--init", "scratch", "--preset", "smoke"]) == 1
    assert "neither an embedded dataset" in capsys.readouterr().err
    assert main(["pretrain", "--source", "imagenet", "--preset", "smoke"]) == 1
    assert "unknown pretraining source" in capsys.readouterr().err
