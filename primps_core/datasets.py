"""Images in and out: the embedded natural photographs and random crops of them.

The photographs in ``data/photos/`` (built by ``scripts/build_data.py``, listed with their source
and licence in ``PROVENANCE.csv``) are the study's reference for natural-image statistics.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import paths


def read_image(path: Path) -> np.ndarray:
    """One image file as uint8 RGB (H, W, 3); a clear error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path} is not a readable image: {error}") from None


def photo_records(directory: Path | None = None) -> list[dict]:
    """Rows of ``PROVENANCE.csv`` (file, source, version, original_path, licence, mode, ...)."""
    directory = Path(directory or paths.PHOTOS_DIR)
    table = directory / "PROVENANCE.csv"
    if not table.is_file():
        raise FileNotFoundError(f"{table} does not exist: the photo folder must hold PROVENANCE.csv "
                                f"(rebuild it with `python scripts/build_data.py`)")
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "file" not in rows[0]:
        raise ValueError(f"{table} lists no photos (expected a header with a 'file' column)")
    return rows


def load_photos(directory: Path | None = None, *, colour_only: bool = False) -> tuple[list[np.ndarray], list[dict]]:
    """The embedded photographs as uint8 RGB arrays of their own sizes, with their provenance rows.

    Greyscale photos (mode ``L``) are returned as three equal channels unless ``colour_only``.
    """
    directory = Path(directory or paths.PHOTOS_DIR)
    records = [r for r in photo_records(directory) if not colour_only or r["mode"] == "RGB"]
    return [read_image(directory / r["file"]) for r in records], records


def random_patches(photos: list[np.ndarray], size: int, n: int, *, seed: int) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops at native scale, uint8 (n, size, size, C).

    A photo is drawn uniformly among those at least ``size`` on both sides, then a uniformly placed
    window inside it; patch ``i`` depends only on (photos, size, seed, i).
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"patch size must be an integer >= 4, got {size!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"number of patches must be a positive integer, got {n!r}")
    eligible = [p for p in photos if min(p.shape[:2]) >= size]
    if not eligible:
        raise ValueError(f"no photo is at least {size} px on both sides")
    patches = []
    for i in range(n):
        rng = np.random.default_rng([seed, size, i])
        photo = eligible[rng.integers(len(eligible))]
        top = rng.integers(photo.shape[0] - size + 1)
        left = rng.integers(photo.shape[1] - size + 1)
        patches.append(photo[top:top + size, left:left + size])
    return np.stack(patches)
