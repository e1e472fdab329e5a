"""Faults outside the user's arguments: a full disk, a killed or terminated process, two identical
runs at once, hostile files sized to exhaust memory, and the umask. Each ends in one clear line (or
a correct result) and leaves nothing half-written behind."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from primps_core import paths
from primps_core.__main__ import main
from primps_core.data import images as image_files, sources

CLI = [sys.executable, "-m", "primps_core"]


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in Path(folder).rglob("*") if re.search(r"-tmp\d+-[0-9a-f]{8}", p.name)]


@pytest.fixture
def small_disk(tmp_path):
    """A 1.5 MB tmpfs: writes past it fail with ENOSPC, as on a full disk (needs root's mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def one_error_line(capsys) -> str:
    """The one error line a failed command printed last; before it only progress lines (a command
    that trained for more than ``progress.EVERY_S`` before failing reports that progress too)."""
    captured = capsys.readouterr()
    *before, last = captured.err.splitlines()
    assert last.startswith("error: ") and captured.out == "", captured.err
    assert all(re.match(r"[\w .-]+: [\d,]+/[\d,]+ \w+ \(\d+%\)", line) for line in before), captured.err
    return last


def test_a_full_disk_is_one_line_and_leaves_nothing(small_disk, tmp_path, monkeypatch, capsys):
    for out in ("set.zip", "set.npz", "set"):
        assert main(["synth", "--n", "400", "--resolution", "64", "--out", str(small_disk / out)]) == 1
        assert re.fullmatch(rf"error: \[Errno 28\] cannot write {small_disk / out}: No space left on device",
                            one_error_line(capsys))
        assert list(small_disk.iterdir()) == []
    # a training run whose runs folder fills up: its checkpoint cannot be written
    monkeypatch.setattr(paths, "RUNS_DIR", small_disk / "runs")
    (small_disk / "filler").write_bytes(b"\0" * 1_300_000)
    argv = ["transfer", "--target", "emoji-food", "--init", "scratch", "--preset", "smoke", "--iterations", "2"]
    assert main(argv) == 1
    assert "No space left on device" in one_error_line(capsys)
    left = [p for p in (small_disk / "runs").rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert [p for p in left if ".partial" in str(p) or "-tmp" in p.name] == []
    # the run folder's copy (--out) on a full disk: nothing under the chosen name
    (small_disk / "filler").unlink()
    shutil.rmtree(small_disk / "runs")
    monkeypatch.setattr(paths, "RUNS_DIR", tmp_path / "runs")
    (small_disk / "filler").write_bytes(b"\0" * 1_450_000)
    assert main(argv + ["--out", str(small_disk / "copy")]) == 1
    assert "No space left on device" in one_error_line(capsys)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    assert (tmp_path / "runs" / "smoke" / "transfer").is_dir()          # the run itself finished and is cached


def test_sigterm_removes_temporaries_and_sigkill_leftovers_are_swept_at_the_next_write(tmp_path):
    out = tmp_path / "set.zip"
    argv = CLI + ["synth", "--n", "100000", "--resolution", "64", "--out", str(out)]
    for signum in (signal.SIGTERM, signal.SIGKILL):
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not temporaries(tmp_path) and time.time() < deadline:
            time.sleep(0.1)
        assert temporaries(tmp_path), "the writer never started"
        time.sleep(1)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        if signum == signal.SIGTERM:
            assert process.returncode == 143 and err == "error: terminated (SIGTERM); temporary files were removed\n"
            assert list(tmp_path.iterdir()) == []
        else:
            assert process.returncode == -signal.SIGKILL
            (leftover,) = temporaries(tmp_path)
            assert leftover.startswith(f".set.zip-tmp{process.pid}-")
    assert main(["synth", "--n", "3", "--resolution", "16", "--out", str(out)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["set.zip"]          # swept: its owner is dead


def test_a_live_writers_temporary_is_never_swept(tmp_path):
    mine = paths.temporary(tmp_path / "set.zip")
    assert paths.sweep(tmp_path / "set.zip") == [] and mine.exists()
    dead = tmp_path / f".set.zip-tmp{2**22 + 12345}-0123abcd.zip"      # beyond the kernel's pid_max default
    dead.write_bytes(b"x")
    other = tmp_path / f".set.zip-tmp{2**22 + 12345}-0123abcd.npz"     # another output's temporary: not ours
    other.write_bytes(b"x")
    assert paths.sweep(tmp_path / "set.zip") == [dead] and mine.exists() and other.exists()
    old = paths.temporary(tmp_path / "set.zip")
    os.utime(old, (time.time() - paths.STALE_AFTER - 60,) * 2)         # untouched for a week: pid may be reused
    assert paths.sweep(tmp_path / "set.zip") == [old]


def test_two_identical_runs_at_once_train_once_and_agree(tmp_path):
    """Both processes start together; the stage lock makes the second wait, then load the first's run."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "data").symlink_to(paths.DATA_DIR)
    environment = {**os.environ, "PRIMPS_ROOT": str(root)}
    argv = CLI + ["transfer", "--target", "emoji-food", "--init", "scratch", "--preset", "smoke", "--iterations", "3"]
    processes = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    results = [json.loads(out) for out, _ in outputs]
    assert sorted(result["cached"] for result in results) == [False, True]
    assert results[0]["fid"] == results[1]["fid"] and results[0]["run_dir"] == results[1]["run_dir"]
    waited = [err for _, err in outputs if "waiting for another process" in err]
    assert len(waited) == 1
    stage = root / "runs" / "smoke" / "transfer"
    (run,) = stage.glob("[!.]*")
    assert sorted(p.name for p in stage.glob(".*")) == [f".{run.name}.lock"]
    assert (run / "stage.json").is_file() and (run / "config.json").is_file() and (run / "result.json").is_file()
    iterations = [json.loads(line)["iteration"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert iterations == sorted(set(iterations))                        # one training wrote the log


PEAK_PROBE = """
import re, sys
from pathlib import Path
from primps_core.data import images
try:
    images.load_images(sys.argv[1], resolution=int(sys.argv[2]) if sys.argv[2] != "-" else None)
    outcome = "loaded"
except ValueError as error:
    outcome = "refused: " + str(error)
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]) // 1024, outcome)
"""


def peak_mb(path, resolution) -> tuple[int, str]:
    """Peak resident memory (MB) of a fresh process that loads ``path``, and what happened. The peak
    is the kernel's VmHWM (reset at exec; ``ru_maxrss`` would carry over this process's)."""
    done = subprocess.run([sys.executable, "-c", PEAK_PROBE, str(path), str(resolution or "-")],
                          capture_output=True, text=True, check=True)
    peak, outcome = done.stdout.strip().split(" ", 1)
    return int(peak), outcome


def test_hostile_files_are_read_in_bounded_memory(tmp_path):
    """Each hostile input costs at most BOUND MB above a process that loads a small set, whatever it
    claims: a 1.5 GB zip member, a 400-megapixel PNG, a lying .npz header, and a 49-megapixel JPEG
    (allowed, but decoded at 1/8 scale for a 64 px set instead of 147 MB of pixels)."""
    bound = 100
    image_files.save_images(np.zeros((4, 16, 16, 3), np.uint8), tmp_path / "small.zip")
    with image_files.ImageWriter(tmp_path / "member.zip", format="zip") as writer:
        writer.write(np.zeros((1, 16, 16, 3), np.uint8))
    import zipfile
    with zipfile.ZipFile(tmp_path / "inflated.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.png", b"\0" * 1_500_000_000)               # 1.5 MB on disk
    Image.new("L", (20000, 20000)).save(tmp_path / "bomb.png")              # 400 megapixels of zeros, ~ 400 kB
    (tmp_path / "bomb").mkdir()
    (tmp_path / "bomb.png").rename(tmp_path / "bomb" / "bomb.png")
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1, 1, 3), np.uint8))
    header["shape"] = (20000, 1000, 1000, 3)
    with zipfile.ZipFile(tmp_path / "lying.npz", "w") as archive:
        with archive.open("images.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(b"\0" * 3000)
    gradient = np.linspace(0, 255, 7000, dtype=np.float32)
    photo = np.stack([np.add.outer(gradient, gradient) / 2] * 3, axis=-1).astype(np.uint8)
    (tmp_path / "photo").mkdir()
    Image.fromarray(photo).save(tmp_path / "photo" / "big.jpg", quality=80)
    del photo
    baseline, outcome = peak_mb(tmp_path / "small.zip", 16)
    assert outcome == "loaded"
    for name, resolution, expected in (("inflated.zip", 64, "refused: .*1,500,000,000 bytes, above the limit"),
                                       ("bomb", 64, "refused: .*20000 x 20000 pixels|refused: .*decompression bomb"),
                                       ("lying.npz", 64, "refused: .*announces"),
                                       ("photo", 64, "loaded")):
        peak, outcome = peak_mb(tmp_path / name, resolution)
        assert re.match(expected, outcome), outcome
        assert peak - baseline < bound, f"{name}: {peak} MB peak vs {baseline} MB baseline"


def test_outputs_get_the_umask_mode(tmp_path):
    previous = os.umask(0o027)
    try:
        image_files.save_images(np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "set.zip")
        image_files.save_images(np.zeros((2, 8, 8, 3), np.uint8), tmp_path / "set")
        paths.write_csv(tmp_path / "table.csv", [{"a": 1}])
    finally:
        os.umask(previous)
    assert (tmp_path / "set.zip").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "table.csv").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "set").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "set" / "00000" / "img00000000.png").stat().st_mode & 0o777 == 0o640
    assert sources.resolve(tmp_path / "set").digest                     # readable back
