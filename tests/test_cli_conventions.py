"""The command line's conventions, as a user meets them: progress while a long command runs, one
name and help text for every option, outputs that a second writer cannot clobber, notes where a
result is easy to misread, and caches where a user expects them."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import train_until_interrupted
from primps_core import paths, progress
from primps_core.__main__ import build_parser, main
from primps_core.data import images as image_files
from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.gan import training
from primps_core.gan.models import ModelConfig

TINY = ModelConfig(resolution=16, base_channels=8, max_channels=16, latent_dim=16)


def tiny_config(iterations: int) -> training.TrainConfig:
    return training.TrainConfig(source=sources.resolve("primitives-ps"), model=TINY, iterations=iterations,
                                batch_size=4, log_every=1, sample_every=100, checkpoint_every=2)


# --- progress ------------------------------------------------------------------------------------

def test_off_a_terminal_progress_is_whole_lines_with_rate_postfix_and_time_left(capsys, monkeypatch):
    clock = iter(float(t) for t in range(0, 1000, 4))      # each reading of the clock 4 s later
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    bar = progress.bar(total=10, desc="train x", unit="it")
    assert isinstance(bar, progress.Lines)                  # pytest's captured stderr is no terminal
    for _ in range(10):
        bar.update(1)
        bar.set_postfix(img_s="120")
    bar.close()
    bar.close()                                             # a second close adds nothing
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("train x: 3/10 it (30%), ") and "img_s=120" in lines[0] and lines[0].endswith(" left")
    assert lines[-1].startswith("train x: 10/10 it (100%)") and "done in" in lines[-1]
    assert 3 <= len(lines) <= 5                              # one line per 10 s of the fake clock, and the last


def test_a_failed_loop_does_not_say_done(capsys, monkeypatch):
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    with pytest.raises(KeyboardInterrupt), progress.bar(total=5, desc="synth") as bar:
        bar.update(1)
        raise KeyboardInterrupt
    lines = capsys.readouterr().err.splitlines()
    assert lines and not any("done in" in line for line in lines)


def test_a_short_loop_prints_nothing_off_a_terminal(capsys):
    for _ in progress.bar(range(50), desc="quick"):
        pass
    assert capsys.readouterr().err == ""


def test_a_resumed_run_says_where_it_resumed(tmp_path, capsys):
    train_until_interrupted(tiny_config(4), tmp_path, at=3)          # its checkpoint: iteration 2
    capsys.readouterr()
    training.train(tiny_config(4), tmp_path, progress=True)
    assert f"resuming {tmp_path} at iteration 2 of 4" in capsys.readouterr().err


# --- one vocabulary ------------------------------------------------------------------------------

def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_option_of_every_command_has_help_text():
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, sub in subcommands().items()
               for a in sub._actions if a.help is None and a.dest != "help"]
    assert missing == []


def test_one_name_per_thing_in_every_command():
    for name, sub in subcommands().items():
        options = {o for a in sub._actions for o in a.option_strings if a.help != "==SUPPRESS=="}
        assert not options & {"--outdir", "--json", "--run-dir", "--runs-dir"}, name
        if any(o in options for o in ("--iterations", "--epsilon", "--hq-fraction")):    # a model trains
            assert {"--runs", "--device", "--threads"} <= options, name
    assert "--pretrain-seed" in {o for a in subcommands()["transfer"]._actions for o in a.option_strings}


@pytest.mark.parametrize("argv, message", [
    (["pretrain", "--source", "ps-noise", "--preset", "smoke", "--outdir", "r"], "--outdir is now --runs"),
    (["synth", "--n", "2", "--out", "x.zip", "--json"], "--json is no longer needed"),
    (["readme", "--json"], "--json is no longer needed"),
])
def test_old_spellings_fail_with_a_line_naming_the_new_one(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_readme_and_synth_print_one_json_line(tmp_path, capsys):
    assert main(["synth", "--n", "2", "--resolution", "8", "--out", str(tmp_path / "a.zip")]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["last_index"] == 1


# --- outputs safe against a second writer ----------------------------------------------------------

def test_of_two_writers_of_one_output_exactly_one_succeeds(tmp_path):
    """Both pass the check before either finishes (the race a second `primps sample` runs into)."""
    out = tmp_path / "samples.zip"
    first = image_files.ImageWriter(out, n=2)
    second = image_files.ImageWriter(out, n=2)
    red, blue = (np.full((2, 8, 8, 3), value, np.uint8) for value in (200, 30))
    with first:
        first.write(red)
    with pytest.raises(FileExistsError, match="created by another process while this one was writing it"):
        with second:
            second.write(blue)
    np.testing.assert_array_equal(image_files.load_images(out), red)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.zip"]


def test_forced_writers_replace_and_a_file_written_meanwhile_is_kept(tmp_path):
    grid = tmp_path / "walk.png"
    paths.atomic_write(grid, lambda temporary: Path(temporary).write_text("theirs"), replace=False)
    with pytest.raises(FileExistsError):
        paths.atomic_write(grid, lambda temporary: Path(temporary).write_text("mine"), replace=False)
    assert grid.read_text() == "theirs"
    paths.atomic_write(grid, lambda temporary: Path(temporary).write_text("mine"), replace=True)
    assert grid.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["walk.png"]


def test_two_concurrent_synth_commands_on_one_output_leave_one_success(tmp_path):
    command = [sys.executable, "-m", "primps_core", "synth", "--n", "300", "--resolution", "32", "--out", "same.zip"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    processes = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in processes]
    assert sorted(code for code, _ in results) == [0, 1], results
    failed = next(err for code, err in results if code == 1)
    assert re.search(r"already exists|created by another process", failed)
    assert len(image_files.load_images(tmp_path / "same.zip")) == 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.zip"]


# --- notes where a result is easy to misread ----------------------------------------------------------

def test_fid_notes_unlike_resolutions_and_small_sets(tmp_path, capsys):
    rng = np.random.default_rng(0)
    image_files.save_images(rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), tmp_path / "a.npz")
    image_files.save_images(rng.integers(0, 256, (30, 16, 16, 3), dtype=np.uint8), tmp_path / "b.npz")
    args = ["fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "the sets differ in resolution (a.npz: 32 px, b.npz: 16 px)" in err
    assert "FID of 8 against 30 images: with fewer than 2,048 images" in err
    assert main(args + ["--resolution", "16"]) == 0
    assert "differ in resolution" not in capsys.readouterr().err


def test_features_of_a_users_sets_are_cached_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert metrics.default_feature_cache() == tmp_path / "xdg" / "primps" / "features"
    monkeypatch.chdir(paths.ROOT / "notebooks")
    assert metrics.default_feature_cache() == paths.RUNS_DIR / "cache" / "features"
