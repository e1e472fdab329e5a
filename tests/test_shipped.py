"""Shipped pretraining runs (study.shipped): exported in float16 with a manifest, restored into a
run folder a transfer starts from, used only when asked, keyed apart from the trained run, and
refused when missing or altered."""
import json

import pytest
import torch

from primps_core.__main__ import main
from primps_core.gan import training
from primps_core.study import pipeline, runs, shipped


@pytest.fixture
def shipped_run(tmp_path, monkeypatch):
    """A finished smoke pretraining run of Primitives-PS (seed 10) exported to a weights folder."""
    monkeypatch.setattr("primps_core.paths.RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(shipped, "weights_dir", lambda: tmp_path / "weights")
    context = pipeline.Context(tmp_path / "runs", progress=False)
    trained = runs.pretrain("primitives-ps", "smoke", context=context)
    written = shipped.export(trained.path, "smoke", "primitives-ps-seed10", command="pytest")
    return trained, written, context


def test_an_exported_run_is_float16_listed_with_its_digest_and_restores_to_its_rounded_weights(shipped_run, tmp_path):
    trained, written, context = shipped_run
    manifest = json.loads((tmp_path / "weights" / shipped.MANIFEST).read_text())
    (name, entry), = manifest["files"].items()
    assert name == "smoke/primitives-ps-seed10.pt" and written == tmp_path / "weights" / name
    assert entry["sha256"] == shipped.sha256(written) and entry["bytes"] == written.stat().st_size
    assert (entry["pretrain_folder"], entry["source"], entry["seed"], entry["command"]) == (
        trained.path.name, "primitives-ps", runs.PRETRAIN_SEED, "pytest")
    state = torch.load(written, weights_only=True)
    assert {tensor.dtype for network in shipped.NETWORKS for tensor in state[network].values()} == {torch.float16}
    config = runs.pretrain_config("primitives-ps", "smoke")
    restored = shipped.shipped_pretrain_stage(shipped.RestoreConfig(config, entry["sha256"]), preset="smoke", context=context)
    assert restored.value["curve"] == trained.value["curve"] and restored.value["shipped"] == f"weights/{name}"
    original = training.load_checkpoint(trained.path / training.CHECKPOINT)
    copy = training.load_checkpoint(restored.path / training.CHECKPOINT)
    for network in shipped.NETWORKS:
        for key, value in original[network].items():
            assert copy[network][key].dtype == torch.float32
            assert torch.equal(copy[network][key], value.half().float())
    assert runs.read_log(restored) == [json.loads(json.dumps(p)) for p in trained.value["curve"]]
    assert runs.load_generator(restored).config.resolution == 16          # a run folder like any other


def test_a_transfer_uses_the_shipped_copy_only_when_asked_and_is_keyed_apart(shipped_run, tmp_path, monkeypatch):
    trained, written, context = shipped_run
    plain = runs.transfer_config("emoji-food", "primitives-ps", "smoke", seed=3)
    from_copy = runs.transfer_config("emoji-food", "primitives-ps", "smoke", seed=3, from_shipped=True)
    assert plain.init_shipped == "" and from_copy.init_shipped == shipped.sha256(written)
    assert runs.transfer_stage.path_for(plain, "smoke") != runs.transfer_stage.path_for(from_copy, "smoke")
    result = runs.run_transfer(from_copy, context)
    assert [p["iteration"] for p in result.value["curve"]] == [0, 4, 8]
    assert len(list((tmp_path / "runs" / "smoke" / "pretrain").glob("[!.]*"))) == 1      # nothing pretrained again
    assert len(list((tmp_path / "runs" / "smoke" / "shipped_pretrain").glob("[!.]*"))) == 1
    monkeypatch.setenv(shipped.ENVIRONMENT, "1")                       # make reproduce SHIPPED=1
    assert runs.transfer_config("emoji-food", "primitives-ps", "smoke", seed=3) == from_copy
    assert runs.pretrain_job("primitives-ps", "smoke").stage is shipped.shipped_pretrain_stage
    assert runs.pretrain_job("primitives-ps", "smoke", seed=11).stage is runs.pretrain_stage    # none shipped: trained
    assert runs.transfer_config("emoji-food", "ps-noise", "smoke").init_shipped == ""


def test_a_missing_or_altered_shipped_copy_is_one_clear_error(shipped_run, tmp_path, capsys):
    trained, written, context = shipped_run
    assert main(["transfer", "--target", "emoji-food", "--init", "primitives-ps", "--pretrain-seed", "11",
                 "--preset", "smoke", "--shipped", "--runs", str(tmp_path / "runs")]) == 1
    error = capsys.readouterr().err.strip()
    assert "no shipped weights for pretraining run smoke/pretrain/" in error
    assert "smoke/primitives-ps-seed10.pt" in error and error.endswith("run without --shipped to train it")
    written.write_bytes(written.read_bytes()[:-10] + b"0123456789")
    config = runs.transfer_config("emoji-food", "primitives-ps", "smoke", from_shipped=True)
    with pytest.raises(ValueError, match="is missing or not the file weights/MANIFEST.json lists"):
        runs.run_transfer(config, context)
    assert not list((tmp_path / "runs" / "smoke" / "shipped_pretrain").glob("[!.]*"))   # nothing half-written
