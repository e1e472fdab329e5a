"""Pretraining and transfer stages through the command line: JSON result, caching, clear errors."""
import json

import numpy as np
import pytest

from primps_core.data import images as image_files, photos as photo_data, sources
from primps_core.__main__ import main


def test_transfer_from_a_pretrained_source_prints_scores_and_is_cached(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("primps_core.paths.RUNS_DIR", tmp_path / "runs")
    target = sources.load_images("emoji-food")[:12]
    image_files.save_images(target, tmp_path / "target.zip")
    argv = ["transfer", "--target", str(tmp_path / "target.zip"), "--init", "primitives-ps", "--preset", "smoke",
            "--iterations", "4", "--out", str(tmp_path / "copy")]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["iterations"] == 4 and first["fid"] > 0 and np.isfinite(first["kid_mean"]) and not first["cached"]
    assert (tmp_path / "copy" / "log.jsonl").exists() and (tmp_path / "copy" / "checkpoint.pt").exists()
    assert len(list((tmp_path / "runs" / "smoke" / "pretrain").glob("[!.]*"))) == 1   # the pretraining it reused
    assert list((tmp_path / "runs" / "cache" / "features").rglob("*.npy"))              # target features cached
    assert main(argv) == 1                                                           # --out exists: refused
    assert capsys.readouterr().err.strip().endswith("copy already exists: choose another output, or pass --force "
                                                    "to replace it")
    assert main(argv + ["--force"]) == 0                                             # an earlier copy: replaced
    again = json.loads(capsys.readouterr().out)
    assert again["cached"] and again["fid"] == first["fid"] and (tmp_path / "copy" / "checkpoint.pt").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(argv[:-1] + [str(mine), "--force"]) == 1                              # not a run copy: never replaced
    assert "is not a copy of a run folder: refusing to replace it" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"


def test_own_images_at_a_chosen_resolution_with_runs_outside_the_repository(tmp_path, capsys):
    images = sources.load_images("emoji-food", 64)[:12]                    # 64 px own images
    image_files.save_images(images, tmp_path / "mine.zip")
    common = ["transfer", "--target", str(tmp_path / "mine.zip"), "--init", "scratch", "--preset", "smoke",
              "--iterations", "2", "--runs", str(tmp_path / "elsewhere")]
    assert main(common) == 0
    written = capsys.readouterr()
    assert json.loads(written.out)["resolution"] == 16                     # the smoke preset's, said aloud
    assert "are 64 px; training centre-crops them to squares and resizes them to 16 px" in written.err
    assert main(common + ["--resolution", "32"]) == 0
    written = capsys.readouterr()
    result = json.loads(written.out)
    assert result["resolution"] == 32 and "resizes them to 32 px" in written.err
    assert result["run_dir"].startswith(str(tmp_path / "elsewhere" / "smoke" / "transfer"))
    assert main(common + ["--resolution", "24"]) == 1                      # not a resolution the networks build
    assert "resolution must be one of" in capsys.readouterr().err


def test_unknown_init_or_target_gives_one_clear_error(tmp_path, capsys):
    assert main(["transfer", "--target", "emoji-food", "--init", "imagenet", "--preset", "smoke"]) == 1
    assert "init must be one of 'scratch'" in capsys.readouterr().err
    assert main(["transfer", "--target", str(tmp_path / "none"), "--init", "scratch", "--preset", "smoke"]) == 1
    assert "none does not exist" in capsys.readouterr().err
    assert main(["pretrain", "--source", "imagenet", "--preset", "smoke"]) == 1
    assert "pretraining source must be one of 'ps-noise'" in capsys.readouterr().err


def test_run_jobs_pretrains_first_runs_in_workers_and_caches(tmp_path, monkeypatch):
    from primps_core.study import runs, scheduler
    monkeypatch.setattr("primps_core.paths.RUNS_DIR", tmp_path / "runs")
    image_files.save_images(sources.load_images("emoji-food")[:12], tmp_path / "target.zip")
    options = dict(iterations=2, pretrain_iterations=4)
    jobs = [runs.transfer_job(str(tmp_path / "target.zip"), init, "smoke", seed=seed, **options)
            for init, seed in (("primitives-ps", 0), ("primitives-ps", 1), ("scratch", 0))]
    results = scheduler.run_jobs(jobs, workers=2, progress=False)
    assert [r.path for r in results] == [job.path() for job in jobs] and not any(r.cached for r in results)
    assert len(list((tmp_path / "runs" / "smoke" / "pretrain").glob("[!.]*"))) == 1      # one shared pretraining
    pretrained = runs.pretrain_stage(jobs[0].config.init, preset="smoke")
    assert pretrained.cached and [p["iteration"] for p in pretrained.value["curve"]] == [0, 2, 4]
    for result in results:      # smoke: the start, then 2 evaluations, the last at the end; scores as in the log
        assert [p["iteration"] for p in result.value["curve"]] == [0, 1, 2]
        assert result.value["fid"] == result.value["curve"][-1]["fid"] == runs.read_log(result)[-1]["fid"]
    assert results[0].value["fid"] != results[1].value["fid"]                     # seeds differ
    stage_record = json.loads((results[0].path / "stage.json").read_text())          # beside the run's own config
    assert stage_record["stage"] == "transfer" and stage_record["config"]["init"]["train"]["source"] == "primitives-ps"
    assert json.loads((results[0].path / "config.json").read_text())["source"] == str(tmp_path / "target.zip")
    again = scheduler.run_jobs(jobs, workers=2, progress=False)
    assert all(r.cached for r in again) and [r.value for r in again] == [r.value for r in results]


def test_a_job_starts_once_its_needs_end_and_before_unrelated_queued_ones(tmp_path):
    """The natural-selected runs of notebook 07 wait for their pretraining, not for every other run."""
    from scheduled_stage import After, Sleep, follow, step

    from primps_core.study import scheduler
    from primps_core.study.pipeline import Context, Job
    need = Sleep("pretraining", 0.5)
    jobs = [Job(follow, After("dependent", 0.2, need), "smoke"),
            Job(step, Sleep("long", 3.0), "smoke"), Job(step, Sleep("queued", 0.2), "smoke")]
    dependent, long, queued = (r.value for r in scheduler.run_jobs(jobs, workers=2, progress=False,
                                                                   context=Context(tmp_path / "runs")))
    assert dependent["start"] >= dependent["need"]["end"]           # after what it needs
    assert dependent["end"] <= queued["start"] < long["end"]        # before the job queued earlier; not after all
    assert [run["threads"] for run in (dependent["need"], dependent, long, queued)] == [1, 1, 1, 1]


def test_balanced_workers_known_answers():
    from primps_core.study.scheduler import balanced_workers
    assert [balanced_workers(n, 2) for n in (1, 2, 3, 4, 5, 36)] == [2, 2, 3, 2, 3, 2]
    assert balanced_workers(40, 16) == 16


def test_scoring_less_often_changes_neither_the_training_nor_the_final_scores(tmp_path, monkeypatch):
    """What lets notebook 05 score its new runs once and compare them with notebook 04's."""
    import torch

    from primps_core.gan import training
    from primps_core.study import runs
    from primps_core.study.pipeline import Context
    context = Context(tmp_path / "runs", progress=False)
    results = [runs.transfer("emoji-food", "scratch", "smoke", iterations=4, context=context) if evals is None else
               runs.transfer_stage(runs.transfer_config("emoji-food", "scratch", "smoke", iterations=4, evals=evals),
                                   preset="smoke", context=context)
               for evals in (None, 1)]
    assert [len(r.value["curve"]) for r in results] == [3, 2] and results[0].path != results[1].path
    assert {key: results[0].value[key] for key in runs.SCORES} == {key: results[1].value[key] for key in runs.SCORES}
    weights = [training.load_checkpoint(r.path / "checkpoint.pt")["G_ema"] for r in results]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_membership_part_and_photo_split_options_select_the_training_images():
    from primps_core.study import runs
    config = runs.transfer_config("faces-100", "scratch", "smoke", target_options=(("part", "members"),)).train
    images = sources.image_stream(config.source, 16, config.seed)(0, 50)
    members = sources.load_images("faces-100", 16)[photo_data.membership_split(100)["members"]]
    assert {m.tobytes() for m in images} == {m.tobytes() for m in members}        # one epoch: each member once
    reference = runs.pretrain_config("natural-patches", "smoke", source_options=(("split", "reference"),)).train
    np.testing.assert_array_equal(sources.image_stream(reference.source, 16, reference.seed)(5, 3),
                                  photo_data.natural_patches(3, resolution=16, seed=reference.seed, start=5,
                                                             split="reference"))
    with pytest.raises(ValueError, match="part must be one of 'members'"):
        runs.transfer_config("faces-100", "scratch", "smoke", target_options=(("part", "all"),))
    with pytest.raises(ValueError, match="an option of faces-100 must be one of 'part'; got 'n_shapes'"):
        runs.transfer_config("faces-100", "scratch", "smoke", target_options=(("n_shapes", 3),))


def test_zero_or_negative_sizes_are_refused_not_replaced_by_the_presets(capsys):
    """--iterations 0 used to mean "the preset's default"; now it is one clear error."""
    from primps_core.study import runs
    assert runs.transfer_config("faces-100", "scratch", "smoke").train.iterations == 8          # None: the preset's
    for value, error in ((0, ValueError), (-3, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="iterations must be an integer >= 1"):
            runs.transfer_config("faces-100", "scratch", "smoke", iterations=value)
    with pytest.raises(ValueError, match="evals must be an integer >= 1, got 0"):
        runs.pretrain_config("ps-noise", "smoke", evals=0)
    assert main(["pretrain", "--source", "ps-noise", "--preset", "smoke", "--iterations", "0"]) == 1
    assert capsys.readouterr().err == "error: iterations must be an integer >= 1, got 0\n"


def test_a_run_is_scored_evals_times_evenly_the_last_at_its_end():
    from primps_core.study import runs
    for iterations, evals, expected in ((1000, 3, [334, 668, 1000]), (600, 3, [200, 400, 600]), (8, 2, [4, 8]),
                                        (20, 1, [20]), (2000, 4, [500, 1000, 1500, 2000])):
        every = runs.evaluation_interval(iterations, evals)
        points = sorted({k for k in range(every, iterations + 1, every)} | {iterations})
        assert points == expected, (iterations, evals, points)
