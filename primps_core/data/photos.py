"""The embedded photographs and the study's splits: natural patches, low-shot subsets, membership.

The photographs ``data/photos/`` are built by ``scripts/build_data.py`` from offline package
registries; ``PROVENANCE.csv`` lists every file's source and licence. ``natural_patches`` is the
natural-image pretraining source: multi-scale random crops of the photographs of one split
(``photo_split``), index-addressable like the synthesizer. ``low_shot`` and ``membership_split``
cut reproducible subsets of a target.
"""
from __future__ import annotations

import csv
import functools
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from .. import checks, paths
from .images import RESAMPLE, check_images, read_image

PHOTO_SPLITS = ("pretrain", "heldout", "reference")
MEMBERSHIP_PARTS = ("members", "nonmembers", "reference")


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
    size, n = checks.integer(size, "patch size", 4), checks.integer(n, "n", 1)
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


def low_shot_indices(n: int, k: int, seed: int) -> np.ndarray:
    """Sorted indices of a reproducible ``k``-of-``n`` subset.

    The subsets of one seed are nested (the 10 shots are among the 25, which are among the 50 ...),
    as when a paper's smaller splits are cut from its larger ones; the complement is the held-out
    part the privacy study uses as non-members.
    """
    n, k = checks.integer(n, "n", 1), checks.integer(k, "k", 1)
    if k > n:
        raise ValueError(f"k={k} shots requested from a set of only {n} images")
    order = np.random.default_rng([seed, n]).permutation(n)
    return np.sort(order[:k])


def low_shot(images, k: int, seed: int) -> np.ndarray:
    """A reproducible ``k``-shot subset of ``images`` (k = 10/25/50/100 in the paper); see ``low_shot_indices``."""
    images = check_images(images)
    return images[low_shot_indices(len(images), k, seed)]


def photo_split(records: list[dict] | None = None) -> dict[str, list[str]]:
    """The embedded photos split into ``"pretrain"`` (about 80%), ``"heldout"`` and ``"reference"``
    (about 10% each).

    The first byte of the SHA-256 of a photo's file name decides: below 26 reference, below 52
    held out, else pretrain. Fixed by the name alone, so the split never changes when photos are
    added or reordered. The natural-patches source draws from ``pretrain``; the privacy study
    queries ``heldout`` photos as non-members and trains the calibrated attack's reference model
    on ``reference`` photos, which are neither members nor queries.
    """
    records = records if records is not None else photo_records()
    split: dict[str, list[str]] = {name: [] for name in PHOTO_SPLITS}
    for record in records:
        byte = hashlib.sha256(record["file"].encode()).digest()[0]
        split["reference" if byte < 26 else "heldout" if byte < 52 else "pretrain"].append(record["file"])
    return split


def membership_split(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Sorted indices of a dataset of ``n`` images in three disjoint parts for the privacy study.

    ``members``: the ``n // 2``-shot subset (``low_shot_indices``), what a model is fine-tuned on;
    the rest is halved in a seeded order into ``nonmembers`` (held-out queries) and ``reference``
    (the calibrated attack's reference model trains on them).
    """
    n = checks.integer(n, "n", 1)
    if n < 4:
        raise ValueError(f"a membership split needs at least 4 images, got {n}")
    members = low_shot_indices(n, n // 2, seed)
    rest = np.random.default_rng([seed, n, 1]).permutation(np.setdiff1d(np.arange(n), members))
    half = len(rest) // 2
    return {"members": members, "nonmembers": np.sort(rest[:half]), "reference": np.sort(rest[half:])}


@functools.lru_cache(maxsize=3)
def _split_photos(split: str) -> tuple[np.ndarray, ...]:
    names = set(photo_split()[split])
    photos, records = load_photos()
    return tuple(p for p, r in zip(photos, records) if r["file"] in names)


def natural_patches(n: int, *, resolution: int = 64, seed: int = 0, start: int = 0,
                    split: str = "pretrain", min_scale: float = 0.25, with_photos: bool = False):
    """Multi-scale random crops of the embedded photos, uint8 (n, R, R, 3): the natural source
    (with ``with_photos``, also the index in ``photo_split()[split]`` of each crop's photo).

    Crop ``start + i`` depends only on (seed, start + i, split, min_scale): a photo of the split
    is drawn uniformly, then a square whose side is a fraction ``s`` of the photo's shorter side
    with ``log s`` uniform in [log min_scale, 0] (so every scale from a quarter of the photo to all
    of it is equally likely per octave), placed uniformly and resized to ``resolution`` with
    Lanczos. A random horizontal flip doubles the variety, as in StyleGAN2-ADA's ``--mirror``.
    """
    n, resolution = checks.integer(n, "n", 1), checks.integer(resolution, "resolution", 1)
    checks.choice(split, "split", PHOTO_SPLITS)
    if not 0 < min_scale <= 1:
        raise ValueError(f"min_scale must be in (0, 1], got {min_scale!r}")
    photos = _split_photos(split)
    out, sources = np.empty((n, resolution, resolution, 3), np.uint8), np.empty(n, np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, start + i])
        sources[i] = rng.integers(len(photos))
        photo = photos[sources[i]]
        height, width = photo.shape[:2]
        side = max(1, round(min(height, width) * np.exp(rng.uniform(np.log(min_scale), 0.0))))
        top, left = rng.integers(height - side + 1), rng.integers(width - side + 1)
        crop = Image.fromarray(photo[top:top + side, left:left + side])
        crop = crop.resize((resolution, resolution), RESAMPLE)
        out[i] = np.asarray(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop)
    return (out, sources) if with_photos else out

