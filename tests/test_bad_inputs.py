"""Every bad input a careless or hostile user can give the command line: one clear line, nothing lost.

Each case runs ``python -m primps_core`` in-process on a workspace of hostile files (corrupt,
truncated, oversized and lying images, archives and arrays) and of the user's own files, and
asserts the exit status (1: bad input, 2: bad usage), that stderr is exactly one line naming the
problem, that nothing went to stdout, that every file of the workspace is unchanged (bytes and
mode, hidden files included) and that no temporary or half-finished run is left behind.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from primps_core import paths
from primps_core.__main__ import main
from primps_core.data import images as image_files


def png_bytes(side: int = 16, seed: int = 0) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A 1 x 1 PNG whose header (IHDR, CRC fixed) claims ``width`` x ``height`` pixels."""
    data = bytearray(png_bytes(1))
    start = 12                                   # 8-byte signature, 4-byte length, then b"IHDR"
    data[start + 4:start + 12] = struct.pack(">II", width, height)
    data[start + 17:start + 21] = struct.pack(">I", zlib.crc32(bytes(data[start:start + 17])))
    return bytes(data)


def npz_with(path: Path, **arrays) -> None:
    np.savez(path, **arrays)


def npy_member(shape, payload: bytes) -> bytes:
    """Raw ``.npy`` bytes: a header announcing uint8 ``shape`` followed by ``payload``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return header.getvalue() + payload


def zip_with(path: Path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def build_workspace(root: Path) -> None:
    """The hostile inputs and the user's own files every case runs beside."""
    good = [png_bytes(16, seed) for seed in range(4)]
    (root / "good").mkdir()
    for k, data in enumerate(good):
        (root / "good" / f"{k}.png").write_bytes(data)
    (root / "corrupt.png").write_bytes(os.urandom(300))
    (root / "truncated.png").write_bytes(good[0][:len(good[0]) // 2])
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_text("not a picture")
    (root / "notes.txt").write_text("the user's notes")
    for name, files in {"empty_dir": {}, "no_images": {"readme.txt": b"x"},
                        "one_corrupt": {"a.png": good[0], "b.png": os.urandom(200)},
                        "one_truncated": {"a.png": good[0], "b.png": good[1][:100]},
                        "mixed_sizes": {"a.png": png_bytes(16), "b.png": png_bytes(20)},
                        "bomb_header": {"a.png": good[0], "b.png": png_claiming(30000, 30000)},
                        "big_header": {"a.png": good[0], "b.png": png_claiming(10000, 10000)},
                        "zero_pixels": {"a.png": good[0], "b.png": png_claiming(0, 5)},
                        "one_image": {"a.png": good[0]},
                        "three_corrupt": {"a.png": good[0], "b.png": os.urandom(200), "c.jpg": b"text",
                                          "d.png": good[1][:100], "e.png": os.urandom(90)},
                        "hidden_only": {".a.png": good[0]}}.items():
        (root / name).mkdir()
        for file, data in files.items():
            (root / name / file).write_bytes(data)
    (root / "huge_file").mkdir()
    with open(root / "huge_file" / "big.png", "wb") as handle:
        handle.truncate(image_files.MAX_FILE_BYTES + 1)               # sparse: no disk used
    (root / "bomb.png").write_bytes(png_claiming(12000, 12000))

    members = {f"00000/img0000000{k}.png": data for k, data in enumerate(good)}
    zip_with(root / "good.zip", members)
    data = bytearray((root / "good.zip").read_bytes())
    offset = data.index(b"PK\x03\x04") + 30 + len("00000/img00000000.png") + 20
    data[offset] ^= 0xFF                                              # corrupt the first member's bytes
    (root / "bad_crc.zip").write_bytes(bytes(data))
    stored = io.BytesIO()
    zip_with(stored, members, zipfile.ZIP_STORED)
    data = bytearray(stored.getvalue())
    data[data.index(b"IEND") - 200] ^= 0xFF                           # a stored member: the CRC check catches it
    (root / "bad_crc_stored.zip").write_bytes(bytes(data))
    (root / "truncated.zip").write_bytes((root / "good.zip").read_bytes()[:300])
    (root / "not_a_zip.zip").write_text("PK but not really")
    zip_with(root / "no_members.zip", {})
    zip_with(root / "text_members.zip", {"a.txt": b"hello"})
    zip_with(root / "corrupt_member.zip", {"a.png": good[0], "b.png": os.urandom(500)})
    zip_with(root / "bomb_member.zip", {"a.png": good[0], "b.png": png_claiming(20000, 20000)})
    big = io.BytesIO()
    zip_with(big, {"a.png": b"\0" * 1000})
    data = bytearray(big.getvalue())                                  # declare a 1.5 GB member (local and central)
    for signature, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        data[at + field:at + field + 4] = struct.pack("<I", 1_500_000_000)
    (root / "huge_member.zip").write_bytes(bytes(data))

    rgb = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    npz_with(root / "good.npz", images=rgb)
    npz_with(root / "one_rgb_image.npz", images=rgb[0])
    npz_with(root / "one_rgba_image.npz", images=np.zeros((16, 16, 4), np.uint8))
    npz_with(root / "float.npz", images=rgb.astype(np.float32))
    npz_with(root / "int16.npz", images=rgb.astype(np.int16))
    npz_with(root / "five_d.npz", images=rgb[None])
    npz_with(root / "two_d.npz", images=rgb[0, :, :, 0])
    npz_with(root / "two_channels.npz", images=rgb[..., :2])
    npz_with(root / "no_images.npz", images=rgb[:0])
    npz_with(root / "two_arrays.npz", a=rgb, b=rgb)
    npz_with(root / "fortran.npz", images=np.asfortranarray(rgb))
    np.savez(root / "objects.npz", images=np.array([rgb[0], None], dtype=object))
    zip_with(root / "lying_header.npz", {"images.npy": npy_member((100000, 64, 64, 3), rgb.tobytes())})
    zip_with(root / "huge_images.npz", {"images.npy": npy_member((1, 100000, 100000, 3), b"")})
    zip_with(root / "bad_magic.npz", {"images.npy": b"\x93NUMPX" + b"\0" * 100})
    zip_with(root / "empty_archive.npz", {})
    (root / "not_a_zip.npz").write_text("not an archive")
    (root / "truncated.npz").write_bytes((root / "good.npz").read_bytes()[:400])

    (root / "user_dir").mkdir()
    (root / "user_dir" / "thesis.tex").write_text("keep me")
    (root / "an_image_set").mkdir()                                   # a folder of this format's names, plus a user file
    (root / "an_image_set" / "00000").mkdir()
    (root / "an_image_set" / "00000" / "img00000000.png").write_bytes(good[0])
    (root / "an_image_set" / "mine.txt").write_text("mine")
    zip_with(root / "user.zip", {"paper.pdf": b"%PDF"})              # a zip that is not a dataset
    zip_with(root / "user.npz", {"weights.npy": b""})
    os.chmod(root / "notes.txt", 0o640)                               # a mode the commands must keep


HOSTILE_SETS = {
    "corrupt.png": "is not a folder, a zip or an .npz file",
    "empty_dir": "holds no images",
    "no_images": "holds no images",
    "hidden_only": "holds no images",
    "one_corrupt": r"b\.png is not a readable image",
    "one_truncated": r"b\.png is not a readable image",
    "bomb_header": r"b\.png claims more than 178,956,970 pixels \(a decompression bomb\?\), above the limit",
    "zero_pixels": r"b\.png (has no pixels|is not a readable image)",
    "huge_file": r"big\.png is 268,435,457 bytes, above the limit",
    "bad_crc.zip": r"bad_crc\.zip cannot be read: 00000/img00000000\.png (cannot be read from the zip|is not a readable image)",
    "bad_crc_stored.zip": r"bad_crc_stored\.zip cannot be read: 00000/img0000000\d\.png cannot be read from the zip: Bad CRC-32",
    "truncated.zip": "is not a folder, a zip or an .npz file",
    "not_a_zip.zip": "is not a folder, a zip or an .npz file",
    "no_members.zip": "holds no images",
    "text_members.zip": "holds no images",
    "corrupt_member.zip": r"corrupt_member\.zip cannot be read: b\.png is not a readable image",
    "bomb_member.zip": r"bomb_member\.zip cannot be read: b\.png claims more than 178,956,970 pixels",
    "big_header": r"b\.png is 10000 x 10000 pixels, above the limit of 50,000,000 pixels per image",
    "bomb.png": "is not a folder, a zip or an .npz file",
    "huge_member.zip": r"no image of .*huge_member\.zip can be read: a\.png is 1,500,000,000 bytes, above the limit",
    "one_rgb_image.npz": r"a 3-D array \(16, 16, 3\) looks like one colour image",
    "one_rgba_image.npz": r"a 3-D array \(16, 16, 4\) looks like one colour image",
    "float.npz": "expected uint8 images",
    "int16.npz": "expected uint8 images",
    "five_d.npz": "expected uint8 images",
    "two_d.npz": "expected uint8 images",
    "two_channels.npz": "expected uint8 images",
    "no_images.npz": "holds no images",
    "two_arrays.npz": "must hold an array named 'images' or exactly one array",
    "fortran.npz": "in C order, got Fortran-order",
    "objects.npz": "expected uint8 images",
    "lying_header.npz": "the array header announces .* it is truncated or corrupt",
    "huge_images.npz": "is 100000 x 100000 pixels, above the limit",
    "bad_magic.npz": "not a readable array",
    "empty_archive.npz": "must hold an array named 'images' or exactly one array",
    "not_a_zip.npz": r"is not a readable \.npz file",
    "truncated.npz": r"is not a readable \.npz file",
    "missing.png": "missing.png does not exist",
}

DEVICES = {"foo": "device must be one of auto, cpu, cuda, cuda:N or mps; got 'foo'",
           "cuda": "device 'cuda' is not available",
           "cuda:7": "device 'cuda:7' is not available",
           "mps": "device 'mps' is not available",
           "meta": "device must be one of"}

SYNTH = ["synth", "--n", "4", "--resolution", "16"]
TRANSFER = ["transfer", "--init", "scratch", "--preset", "smoke", "--iterations", "2"]
TARGET = ["--target", "good"]


def cases():
    """(id, argv, exit status, stderr pattern) for every bad input tried."""
    for name, message in HOSTILE_SETS.items():
        yield f"fid-{name}", ["fid", name, "good", "--resolution", "16"], 1, message
    for name in ("bomb_header", "bad_crc.zip", "one_rgb_image.npz", "lying_header.npz", "huge_member.zip",
                 "one_corrupt", "empty_dir", "float.npz"):
        yield f"transfer-target-{name}", TRANSFER + ["--target", name], 1, HOSTILE_SETS[name]
    yield "fid-one-image", ["fid", "one_image", "good"], 1, "holds 1 image: .* need at least 2"
    every_bad = (r"^(?!.*BytesIO)error: 4 of the 5 images of .*three_corrupt cannot be read: b\.png is not a readable "
                 r"image.*; c\.jpg .*; d\.png .*; e\.png .*; leave them out with --skip-bad")
    yield "fid-every-corrupt-file-at-once", ["fid", "three_corrupt", "good", "--resolution", "16"], 1, every_bad
    yield "transfer-every-corrupt-file-at-once", TRANSFER + ["--target", "three_corrupt"], 1, every_bad
    yield "transfer-resolution-48-no-note-first", TRANSFER + ["--target", "mixed_sizes", "--resolution", "48"], 1, \
        "resolution must be one of 16, 32, 64, 128, 256; got 48"
    yield "transfer-outdir", TRANSFER + TARGET + ["--outdir", "elsewhere"], 2, "--outdir is now --runs"
    yield "synth-json", SYNTH + ["--out", "new.zip", "--json"], 2, "--json is no longer needed"
    yield "sample-n-to-png", ["sample", "--run", "good", "--n", "3", "--out", "grid.png"], 1, \
        "--n writes a dataset .* a .png is written by --interpolate ROWS"
    for command in (TRANSFER + TARGET, SYNTH + ["--out", "new.zip"], ["fid", "good", "good"]):
        for value, status, message in (("0", 1, "must be a whole number, at least 1; got 0"),
                                       ("-2", 1, "got -2"), ("two", 2, "invalid int value: 'two'")):
            yield f"{command[0]}-threads-{value}", command + ["--threads", value], status, message
    yield "dp-train-device-foo", ["dp-train", "--epsilon", "1", "--device", "foo"], 1, DEVICES["foo"]
    yield "many-classes-train-device-foo", ["many-classes-train", "--device", "foo"], 1, DEVICES["foo"]
    yield "fid-mixed-sizes-no-resolution", ["fid", "mixed_sizes", "good"], 1, "different sizes"
    for value, message in (("0", "resolution must be an integer in 1..4096, got 0"), ("-3", "got -3"),
                           ("100000", "got 100000")):
        yield f"fid-resolution-{value}", ["fid", "good", "good", "--resolution", value], 1, message
    yield "fid-resolution-text", ["fid", "good", "good", "--resolution", "big"], 2, "invalid int value: 'big'"
    yield "fid-unknown-name", ["fid", "cifar10", "good"], 1, "cifar10 does not exist: it is neither"
    yield "fid-synthetic-stream", ["fid", "primitives-ps", "good"], 1, "is an endless synthetic stream"
    for device, message in DEVICES.items():
        yield f"fid-device-{device}", ["fid", "good", "good", "--device", device], 1, message
        yield f"synth-device-{device}", SYNTH + ["--out", "new.zip", "--device", device], 1, message
        yield f"transfer-device-{device}", TRANSFER + TARGET + ["--device", device], 1, message
        yield f"pretrain-device-{device}", ["pretrain", "--source", "ps-noise", "--preset", "smoke", "--device", device], 1, message

    for key, value, status, message in (
            ("--n", "0", 1, "n must be an integer >= 1, got 0"), ("--n", "-5", 1, "got -5"),
            ("--n", "x", 2, "invalid int value"), ("--n", "1e9", 2, "invalid int value"),
            ("--resolution", "0", 1, "resolution must be an integer in 8..4096, got 0"),
            ("--resolution", "7", 1, "got 7"), ("--resolution", "100000", 1, "got 100000"),
            ("--resolution", "64.5", 2, "invalid int value"), ("--seed", "-1", 1, "seed must be an integer"),
            ("--start", "-4", 1, "start must be an integer"), ("--variant", "imagenet", 1, "variant must be one of"),
            ("--variant", "", 1, "variant must be one of"), ("--format", "tar", 2, "invalid choice: 'tar'"),
            ("--shard", "1/0", 1, "shard '1/0' is impossible"), ("--shard", "3/2", 1, "is impossible"),
            ("--shard", "a/b", 1, "shard must look like i/N"), ("--shard", "-1/2", 2, "expected one argument"),
            ("--shard", "0/8", 1, "shard 0/8 of 4 images is empty"), ("--shard", "3/2/1", 1, "shard must look like"),
            ("-o", "n_shapes=-1", 1, "n_shapes must be"), ("-o", "n_shapes=lots", 1, "n_shapes must be"),
            ("-o", "colour=red", 1, "colour"), ("-o", "=3", 1, "options are KEY=VALUE"),
            ("-o", "n_shapes", 1, "options are KEY=VALUE"), ("-o", "alpha_law=flat", 1, "alpha_law must be one of")):
        out = [] if key == "--format" else ["--out", "new.zip"]
        yield f"synth{key}={value}", SYNTH + [key, value] + out + (["--format", "zip"] if key == "--format" else []), \
            status, message
    for out, force, message in (
            ("notes.txt", False, "unknown suffix '.txt'"), ("notes.txt", True, "unknown suffix '.txt'"),
            ("user_dir", False, "user_dir already exists"), ("user_dir", True, "is not an image folder of this format"),
            (".", False, "already exists"), (".", True, "is not an image folder of this format"),
            ("an_image_set", True, "is not an image folder of this format"), ("good.zip", False, "already exists"),
            ("user.zip", True, "user.zip exists and is not a dataset zip of this format"),
            ("user.npz", True, "user.npz exists and is not an .npz of images"),
            ("good", True, "is not an image folder"), ("notes.txt/x.zip", False, "cannot write"),
            ("/sys/new.zip", False, "cannot write /sys/new.zip"), ("/proc/new.zip", False, "cannot write /proc/new.zip")):
        yield f"synth-out-{out}{'-force' if force else ''}", SYNTH + ["--out", out] + ["--force"] * force, 1, message

    for key, value, status, message in (
            ("--iterations", "0", 1, "iterations must be an integer >= 1, got 0"), ("--iterations", "-2", 1, "got -2"),
            ("--iterations", "two", 2, "invalid int value"), ("--freeze-d", "9", 1, "freeze_d must be an integer in"),
            ("--freeze-d", "-1", 1, "freeze_d must be"), ("--seed", "-1", 1, "seed must be an integer"),
            ("--init", "imagenet", 1, "init must be one of 'scratch'"), ("--init", "", 1, "init must be one of"),
            ("--preset", "huge", 2, "invalid choice: 'huge'"), ("--target", "cifar10", 1, "cifar10 does not exist"),
            ("--target", "primitives-ps", 1, "target must be an image set"),
            ("--target", "natural-patches", 1, "target must be an image set")):
        argv = [a for a in TRANSFER + TARGET] + [key, value]
        yield f"transfer{key}={value}", argv, status, message
    for out, force, message in (("notes.txt", False, "notes.txt already exists"),
                                ("notes.txt", True, "is not a copy of a run folder"),
                                ("user_dir", False, "already exists"), ("user_dir", True, "is not a copy of a run folder"),
                                (".", True, "is not a copy of a run folder"), ("good", True, "is not a copy of a run")):
        yield f"transfer-out-{out}{'-force' if force else ''}", TRANSFER + TARGET + ["--out", out] + ["--force"] * force, \
            1, message
    for key, value, status, message in (
            ("--source", "imagenet", 1, "pretraining source must be one of 'ps-noise'"),
            ("--source", "good", 1, "pretraining source must be one of"), ("--iterations", "0", 1, "got 0"),
            ("--iterations", "-1", 1, "got -1"), ("--seed", "-3", 1, "seed must be an integer"),
            ("--preset", "gpu2", 2, "invalid choice: 'gpu2'")):
        argv = ["pretrain", "--source", "ps-noise", "--preset", "smoke", key, value]
        yield f"pretrain{key}={value}", argv, status, message
    for only, message in (("", "names no notebook"), (",", "names no notebook"), (" , ", "names no notebook"),
                          ("99", "'99' names 0 notebooks"), ("0", r"'0' names \d+ notebooks in .*, not one"), ("01,7", "'7' names 0")):
        yield f"reproduce-only-{only!r}", ["reproduce", "--preset", "smoke", "--only", only], 1, message
    yield "reproduce-preset", ["reproduce", "--preset", "paper"], 2, "invalid choice: 'paper'"
    yield "no-command", [], 2, "required: command"
    yield "unknown-command", ["train"], 2, "invalid choice: 'train'"
    yield "unknown-flag", ["fid", "good", "good", "--fast"], 2, "unrecognized arguments: --fast"


CASES = list(cases())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    build_workspace(root)
    return root


def snapshot(root: Path) -> dict:
    """Every file and folder under ``root`` (hidden ones included, runs/ excluded): its mode and,
    for a file, the SHA-256 of its bytes."""
    state = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == "runs":
            continue
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and info.st_size < 1 << 20 else info.st_size
        state[str(relative)] = (info.st_mode, digest)
    return state


def leftovers(runs: Path) -> list[str]:
    """Half-finished runs and temporaries under ``runs`` (lock files are kept by design)."""
    return [str(p) for p in runs.rglob("*") if p.name.endswith(".partial") or re.search(r"-tmp\d+-", p.name)]


def test_the_suite_tries_at_least_a_hundred_bad_inputs():
    assert len(CASES) >= 100 and len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("argv, status, pattern", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_gives_one_clear_line_and_changes_nothing(workspace, monkeypatch, capsys, argv, status, pattern):
    monkeypatch.chdir(workspace)
    monkeypatch.setattr(paths, "RUNS_DIR", workspace / "runs")
    before = snapshot(workspace)
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    assert code == status, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
    assert re.search(pattern, lines[0]), lines[0]
    assert captured.out == ""
    assert snapshot(workspace) == before
    assert leftovers(workspace / "runs") == []
