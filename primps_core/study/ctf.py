"""Notebook 08: many classes from fewer high-quality images, after CTF-GAN (Wu et al., IJCNN 2020).

The data side of the experiment. A preset trains on ``class_subset(count)``: classes spread evenly
over the 3,755 GB2312 level-1 characters (the table is ordered by pronunciation, so an even spread
is not biased towards any reading). Of those, ``removed_classes`` (a seeded 30%) lose their
high-quality (HQ) images; what the discriminator sees as real in each setting
(``training_set``):

- ``hq-100``: HQ images of every class (the reference, nothing removed);
- ``hq-70``: HQ images of the kept classes only (the removed classes get no real images);
- ``hq-70+lq``: plus the low-quality (LQ) images of the removed classes, used as they are;
- ``hq-70+lq-transfer``: plus the LQ images of the removed classes passed through the LQ -> HQ
  transfer (``gan.ctf.FeatureTransfer``), trained on the (LQ, HQ) pairs of the kept classes
  (``transfer_pairs``).

HQ images are ``data.glyphs.high_quality`` variants, LQ images ``data.glyphs.low_quality`` of
other HQ variants of the same classes (so an LQ image is never the degraded copy of an HQ image
the discriminator also sees).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks
from ..data import glyphs

SETTINGS = ("hq-100", "hq-70", "hq-70+lq", "hq-70+lq-transfer")
KEPT_FRACTION = 0.7
_HQ_SEED, _LQ_SOURCE_SEED, _LQ_SEED, _REMOVED_SEED = range(4)


def class_subset(count: int) -> np.ndarray:
    """``count`` class indices spread evenly over the 3,755 characters, first and last included."""
    total = len(glyphs.gb2312_level1())
    count = checks.integer(count, "classes", 2, total)
    return np.unique(np.round(np.linspace(0, total - 1, count)).astype(int))


def removed_classes(count: int, seed: int, kept_fraction: float = KEPT_FRACTION) -> np.ndarray:
    """Boolean mask over ``count`` classes: True for the classes whose HQ images are removed (a
    seeded ``1 - kept_fraction`` of them, at least one)."""
    if not 0 < kept_fraction < 1:
        raise ValueError(f"kept_fraction must be in (0, 1), got {kept_fraction!r}")
    removed = max(1, round((1 - kept_fraction) * count))
    mask = np.zeros(count, bool)
    mask[np.random.default_rng([_REMOVED_SEED, seed]).permutation(count)[:removed]] = True
    return mask


@dataclass(frozen=True)
class TrainingSet:
    """What one setting trains on: ``images``/``labels`` are the discriminator's real images
    (``transfer`` marks the LQ ones the transfer module must map first); ``removed`` the mask of
    classes without HQ images."""
    images: np.ndarray          # uint8 (N, S, S)
    labels: np.ndarray          # int (N,): positions in the class subset
    transfer: np.ndarray        # bool (N,)
    removed: np.ndarray         # bool (classes,)


def training_set(setting: str, clean: np.ndarray, classes: np.ndarray, per_class: int, seed: int) -> TrainingSet:
    """The real images of ``setting`` for the class subset ``classes`` of ``clean`` (the glyph table,
    (classes, faces, S, S)), ``per_class`` images per class."""
    checks.choice(setting, "setting", SETTINGS)
    high, labels = glyphs.high_quality(clean, classes, per_class, seed=_HQ_SEED + 10 * seed)
    removed = removed_classes(len(classes), seed) if setting != "hq-100" else np.zeros(len(classes), bool)
    keep = ~removed[labels]
    images, kept_labels = high[keep], labels[keep]
    transfer = np.zeros(len(images), bool)
    if setting in ("hq-70+lq", "hq-70+lq-transfer"):
        low, low_labels = low_quality_images(clean, classes[removed], per_class, seed)
        images = np.concatenate([images, low])
        kept_labels = np.concatenate([kept_labels, np.flatnonzero(removed)[low_labels]])
        transfer = np.concatenate([transfer, np.full(len(low), setting == "hq-70+lq-transfer")])
    return TrainingSet(images, kept_labels, transfer, removed)


def low_quality_images(clean: np.ndarray, classes: np.ndarray, per_class: int,
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """LQ images of ``classes``: degraded HQ variants drawn apart from the HQ training images."""
    sources, labels = glyphs.high_quality(clean, classes, per_class, seed=_LQ_SOURCE_SEED + 10 * seed)
    return glyphs.low_quality(sources, seed=_LQ_SEED + 10 * seed), labels


def transfer_pairs(clean: np.ndarray, classes: np.ndarray, removed: np.ndarray, per_class: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(LQ, HQ, labels) pairs of the kept classes for the transfer module: each HQ variant and its
    own degraded copy."""
    kept = np.flatnonzero(~removed)
    high, labels = glyphs.high_quality(clean, classes[kept], per_class, seed=_LQ_SOURCE_SEED + 10 * seed + 5)
    return glyphs.low_quality(high, seed=_LQ_SEED + 10 * seed + 5), high, kept[labels]
