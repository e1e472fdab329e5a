"""The synth command line: formats, shards equal to the whole, options, and clear errors."""
import json
import zipfile

import numpy as np
import pytest

from primps_core import __version__, synth
from primps_core.data import export, sources
from primps_core.__main__ import main


def test_zip_is_a_stylegan_dataset_equal_to_generate(tmp_path, capsys):
    out = tmp_path / "pps.zip"
    assert main(["synth", "--n", "12", "--resolution", "16", "--seed", "3", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        record = json.loads(archive.read("dataset.json"))
    assert record == {"labels": None, "primps": {"version": __version__, "variant": "primitives-ps", "resolution": 16,
                                                 "seed": 3, "first_index": 0, "images": 12, "options": {}}}
    expected = synth.generate(12, variant="primitives-ps", resolution=16, seed=3)
    np.testing.assert_array_equal(sources.load_images(out), expected)
    written = capsys.readouterr()
    assert json.loads(written.out)["last_index"] == 11 and "warning" not in written.err


def test_stylegan_users_get_an_error_for_an_unknown_suffix_and_a_warning_for_a_resolution_it_cannot_train(
        tmp_path, capsys):
    assert main(["synth", "--n", "2", "--resolution", "16", "--out", str(tmp_path / "y.tar")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error:") and "'.tar'" in error and error.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    assert main(["synth", "--n", "2", "--resolution", "16", "--format", "folder", "--out", str(tmp_path / "y.tar")]) == 0
    assert main(["synth", "--n", "2", "--resolution", "24", "-o", "n_shapes=5", "--out", str(tmp_path / "a.zip")]) == 0
    assert "warning: resolution 24 is not a power of two" in capsys.readouterr().err
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert json.loads(archive.read("dataset.json"))["primps"]["options"] == {"n_shapes": 5}
    assert [export.stylegan_warning(r) is None for r in (4, 32, 256, 12, 2, 48)] == [True] * 3 + [False] * 3


def test_shards_together_equal_the_unsharded_dataset(tmp_path):
    common = ["synth", "--variant", "primitives-s", "--n", "10", "--resolution", "12", "--format", "folder"]
    assert main(common + ["--out", str(tmp_path / "whole")]) == 0
    for i in range(3):
        assert main(common + ["--shard", f"{i}/3", "--out", str(tmp_path / f"part{i}")]) == 0
    whole = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*.png"))
    parts = sorted(p.relative_to(tmp_path / f"part{i}") for i in range(3) for p in (tmp_path / f"part{i}").rglob("*.png"))
    assert parts == whole
    for name in whole:
        part = next(tmp_path / f"part{i}" / name for i in range(3) if (tmp_path / f"part{i}" / name).exists())
        assert part.read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_npz_start_offset_and_options(tmp_path):
    out = tmp_path / "noise.npz"
    assert main(["synth", "--variant", "primitives", "--n", "5", "--start", "7", "--resolution", "16",
                 "--out", str(out), "-o", "n_shapes=3", "-o", "antialias=False"]) == 0
    expected = synth.generate(5, variant="primitives", resolution=16, start=7, n_shapes=3, antialias=False)
    np.testing.assert_array_equal(sources.load_images(out), expected)


@pytest.mark.parametrize("arguments, message", [
    (["--variant", "fractal"], "variant"),
    (["--resolution", "4"], "resolution"),
    (["--n", "0"], "n must be"),
    (["--shard", "3/3"], "impossible"),
    (["--shard", "two/3"], "i/N"),
    (["-o", "n_shapes"], "KEY=VALUE"),
    (["-o", "colour=red"], "colour"),
])
def test_bad_arguments_give_one_clear_error_and_write_nothing(tmp_path, capsys, arguments, message):
    defaults = ["synth", "--n", "4", "--resolution", "16", "--out", str(tmp_path / "set.zip")]
    assert main(defaults + arguments) == 1                      # a repeated flag: the last value wins
    error = capsys.readouterr().err
    assert error.startswith("error:") and message in error and error.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n, seed, message", [(0, 0, "n must be"), (4, -1, "seed must be")])
def test_write_dataset_checks_its_arguments_before_creating_anything(tmp_path, n, seed, message):
    with pytest.raises(ValueError, match=message):
        export.write_dataset(tmp_path / "set.zip", n, resolution=16, seed=seed, progress=False)
    assert list(tmp_path.iterdir()) == []


def listing(folder):
    """Every file under ``folder`` with its bytes: what a refused command must leave unchanged."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_existing_output_is_refused_and_force_replaces_only_an_earlier_dataset(tmp_path, capsys, monkeypatch):
    command = ["synth", "--n", "3", "--resolution", "16", "--out"]
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    (mine / "sub" / "photo.png").write_bytes(b"not ours")
    before = listing(tmp_path)
    for extra in ([], ["--force"]):                   # a folder of the user's files: never replaced
        assert main(command + [str(mine)] + extra) == 1
        error = capsys.readouterr().err
        assert error.startswith(f"error: {mine}") and error.count("\n") == 1
    monkeypatch.chdir(mine)                           # `--out .`: the current directory, never emptied
    assert main(command + [".", "--force"]) == 1 and "refusing to replace it, even with --force" in capsys.readouterr().err
    assert main(command + [str(mine), "--format", "zip", "--force"]) == 1          # a folder where a zip would go
    capsys.readouterr()
    assert listing(tmp_path) == before and not [p for p in tmp_path.rglob(".*")]     # nothing changed or left over

    for name in ("set.zip", "set.npz", "set"):        # an earlier dataset of the same kind: replaced with --force
        out = tmp_path / name
        assert main(command + [str(out)]) == 0
        assert main(command + [str(out), "--seed", "1"]) == 1
        assert "already exists" in capsys.readouterr().err
        assert main(command + [str(out), "--seed", "1", "--force"]) == 0
        np.testing.assert_array_equal(sources.load_images(out), synth.generate(3, resolution=16, seed=1))
    assert not [p for p in tmp_path.rglob(".*")]


def test_every_command_follows_one_convention(tmp_path, capsys):
    import subprocess
    import sys
    import tomllib
    from primps_core import __main__, paths
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"primps": "primps_core.__main__:entry"} and callable(__main__.entry)
    version = subprocess.run([sys.executable, "-m", "primps_core", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"primps {__version__}" == f"primps {project['version']}"
    usage = subprocess.run([sys.executable, "-m", "primps_core", "synth", "--n"], capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr.startswith("error:") and usage.stdout == ""
    out = tmp_path / "set.npz"
    assert main(["synth", "--n", "3", "--resolution", "8", "--seed", "2", "--out", str(out),
                 "-o", "n_shapes=4"]) == 0
    written = capsys.readouterr()
    assert json.loads(written.out) == {"path": str(out), "first_index": 0, "last_index": 2, "variant": "primitives-ps",
                                       "resolution": 8, "seed": 2, "options": {"n_shapes": 4}}
    assert written.out.count("\n") == 1
    assert main(["readme", "--check"]) == 0                                     # the README is up to date
    assert json.loads(capsys.readouterr().out) == {"check": True, "stale": []}
