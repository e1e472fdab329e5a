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


def test_run_jobs_pretrains_first_runs_in_workers_and_caches(tmp_path, monkeypatch):
    from primps_core import experiments
    monkeypatch.setattr("primps_core.paths.RUNS_DIR", tmp_path / "runs")
    datasets.save_images(datasets.load_images("emoji-food")[:12], tmp_path / "target.zip")
    options = dict(iterations=2, pretrain_iterations=4)
    jobs = [experiments.transfer_job(str(tmp_path / "target.zip"), init, "smoke", seed=seed, **options)
            for init, seed in (("primitives-ps", 0), ("primitives-ps", 1), ("scratch", 0))]
    results = experiments.run_jobs(jobs, workers=2, progress=False)
    assert [r.path for r in results] == [job.path() for job in jobs] and not any(r.cached for r in results)
    assert len(list((tmp_path / "runs" / "smoke" / "pretrain").iterdir())) == 1      # one shared pretraining
    pretrained = experiments.pretrain_stage(jobs[0].config.init, preset="smoke")
    assert pretrained.cached and [p["iteration"] for p in pretrained.value["curve"]] == [2, 4]
    for result in results:      # smoke: 2 evaluations, the last at the end; scores as in the log
        assert [p["iteration"] for p in result.value["curve"]] == [1, 2]
        assert result.value["fid"] == result.value["curve"][-1]["fid"] == experiments.read_log(result)[-1]["fid"]
    assert results[0].value["fid"] != results[1].value["fid"]                     # seeds differ
    stage_record = json.loads((results[0].path / "stage.json").read_text())          # beside the run's own config
    assert stage_record["stage"] == "transfer" and stage_record["config"]["init"]["train"]["source"] == "primitives-ps"
    assert json.loads((results[0].path / "config.json").read_text())["source"] == str(tmp_path / "target.zip")
    again = experiments.run_jobs(jobs, workers=2, progress=False)
    assert all(r.cached for r in again) and [r.value for r in again] == [r.value for r in results]


def test_balanced_workers_known_answers():
    from primps_core.experiments import balanced_workers
    assert [balanced_workers(n, 2) for n in (1, 2, 3, 4, 5, 36)] == [2, 2, 3, 2, 3, 2]
    assert balanced_workers(40, 16) == 16


def test_scoring_less_often_changes_neither_the_training_nor_the_final_scores(tmp_path, monkeypatch):
    """What lets notebook 05 score its new runs once and compare them with notebook 04's."""
    import torch

    from primps_core import experiments, training
    monkeypatch.setattr("primps_core.paths.RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr("primps_core.experiments.SHOW_PROGRESS", False)
    runs = [experiments.transfer("emoji-food", "scratch", "smoke", iterations=4) if evals is None else
            experiments.transfer_stage(experiments.transfer_config("emoji-food", "scratch", "smoke", iterations=4,
                                                                   evals=evals), preset="smoke")
            for evals in (None, 1)]
    assert [len(r.value["curve"]) for r in runs] == [2, 1] and runs[0].path != runs[1].path
    assert {key: runs[0].value[key] for key in experiments.SCORES} == {key: runs[1].value[key] for key in experiments.SCORES}
    weights = [training.load_checkpoint(r.path / "checkpoint.pt")["G_ema"] for r in runs]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_membership_part_and_photo_split_options_select_the_training_images():
    from primps_core import experiments, training
    config = experiments.transfer_config("faces-100", "scratch", "smoke", target_options=(("part", "members"),)).train
    images = training.image_source(config)(0, 50)
    members = datasets.load_images("faces-100", 16)[datasets.membership_split(100)["members"]]
    assert {m.tobytes() for m in images} == {m.tobytes() for m in members}        # one epoch: each member once
    reference = experiments.pretrain_config("natural-patches", "smoke", source_options=(("split", "reference"),)).train
    np.testing.assert_array_equal(training.image_source(reference)(5, 3),
                                  datasets.natural_patches(3, resolution=16, start=5, split="reference"))
    import pytest
    with pytest.raises(ValueError, match="part must be one of"):
        training.image_source(experiments.transfer_config("faces-100", "scratch", "smoke",
                                                          target_options=(("part", "all"),)).train)
    with pytest.raises(ValueError, match="takes only the option 'part'"):
        training.image_source(experiments.transfer_config("faces-100", "scratch", "smoke",
                                                          target_options=(("n_shapes", 3),)).train)
