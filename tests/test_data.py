"""The embedded photographs, their provenance, photo IO errors and the DEP-5 licence lookup."""
import hashlib
import importlib.util

import numpy as np
import pytest
from PIL import Image

from primps_core import paths
from primps_core.data import images as image_files, photos as photo_data


def test_photos_are_many_distinct_real_files_with_provenance():
    records = photo_data.photo_records()
    files = sorted(p.name for p in paths.PHOTOS_DIR.glob("*.jpg"))
    assert len(records) >= 80
    assert sorted(r["file"] for r in records) == files
    assert all(r["source"] and r["version"] and r["original_path"] and r["licence"] for r in records)
    digests = set()
    for record in records:
        with Image.open(paths.PHOTOS_DIR / record["file"]) as image:
            assert image.format == "JPEG" and image.mode == record["mode"]
            assert max(image.size) <= 512 and image.size == (int(record["width"]), int(record["height"]))
            digests.add(hashlib.sha256(image.tobytes()).hexdigest())
    assert len(digests) == len(records)


def test_data_folder_stays_small():
    total = sum(p.stat().st_size for p in paths.DATA_DIR.rglob("*") if p.is_file())
    assert total < 25 * 2**20


def test_load_photos_returns_rgb_and_colour_filter():
    photos, records = photo_data.load_photos()
    colour, colour_records = photo_data.load_photos(colour_only=True)
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in photos)
    assert len(colour) == sum(r["mode"] == "RGB" for r in records) < len(photos)
    grey = [p for p, r in zip(photos, records) if r["mode"] == "L"]
    assert all(np.array_equal(p[..., 0], p[..., 2]) for p in grey)


def test_random_patches_are_deterministic_crops():
    photos = [np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8), np.zeros((10, 10, 3), np.uint8)]
    a = photo_data.random_patches(photos, 16, 5, seed=1)
    assert a.shape == (5, 16, 16, 3)
    np.testing.assert_array_equal(a, photo_data.random_patches(photos, 16, 5, seed=1))
    np.testing.assert_array_equal(a[:3], photo_data.random_patches(photos, 16, 3, seed=1))
    source = photos[0]
    windows = np.lib.stride_tricks.sliding_window_view(source, (16, 16, 3)).reshape(-1, 16, 16, 3)
    for patch in a:                      # every patch is a window of the only large-enough photo
        assert np.any(np.all(windows == patch, axis=(1, 2, 3)))
    with pytest.raises(ValueError, match="no photo is at least 64 px"):
        photo_data.random_patches(photos, 64, 1, seed=0)
    with pytest.raises(ValueError, match="patch size"):
        photo_data.random_patches(photos, 2, 1, seed=0)


def test_read_image_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jpg does not exist"):
        image_files.read_image(tmp_path / "missing.jpg")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="text.jpg is not a readable image"):
        image_files.read_image(tmp_path / "text.jpg")
    good = paths.PHOTOS_DIR / photo_data.photo_records()[0]["file"]
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ValueError, match="cut.jpg is not a readable image"):
        image_files.read_image(tmp_path / "cut.jpg")
    with pytest.raises(FileNotFoundError, match="PROVENANCE.csv does not exist"):
        photo_data.photo_records(tmp_path)


def test_dep5_licence_lookup_takes_the_most_specific_stanza(tmp_path):
    spec = importlib.util.spec_from_file_location("build_data", paths.ROOT / "scripts" / "build_data.py")
    build_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_data)
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2020 Someone\nLicense: GPL-2+\n\n"
        "Files: nature/Aqua.jpg\n       nature/Garden.jpg\nCopyright: 2008 Photographer\nLicense: CC-BY-4.0\n\n"
        "License: CC-BY-4.0\n Full text of the licence.\n")
    assert build_data.debian_licence(copyright_file, "usr/share/backgrounds/mate/nature/Garden.jpg") == "CC-BY-4.0"
    assert build_data.debian_licence(copyright_file, "usr/share/backgrounds/mate/nature/Dune.jpg") == "GPL-2+"
