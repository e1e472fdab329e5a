"""Many-class image sources (notebook 08, many classes): the real images a class-conditional run of
``study.many_classes`` trains on and is scored against, drawn per class, seeded.

Two sources share one ``draw(classes, per_class, purpose, seed)``:

- ``GlyphImages``: the rendered characters of ``data.glyphs``; every draw is fresh high-quality
  (HQ) variants of the table's glyphs, seeded by (purpose, seed), so draws for different purposes or
  seeds never coincide. Its classes are ``class_subset(count)``: spread evenly over the 3,755
  GB2312 level-1 characters (the table is ordered by pronunciation, so an even spread is not biased
  towards any reading).
- ``FashionImages``: Fashion-MNIST's embedded subset, padded to 32 px, whose images are dealt into
  disjoint pools per purpose.

A preset takes the class subset; of those, ``removed_classes`` (a seeded 30%) lose their HQ images.
``training_set`` gives what a setting's discriminator sees as real: the kept classes' HQ images and,
as the setting says (``lq``), the removed classes' low-quality (LQ) images, as they are or marked
for the LQ -> HQ transfer, which learns on ``transfer_pairs`` of the kept classes. LQ images are
``data.glyphs.low_quality`` of other HQ draws of the same classes (``low_quality_images``), so an LQ
image is never the degraded copy of an HQ image the discriminator also sees.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import checks
from . import fashion, glyphs

KEPT_FRACTION = 0.7
LQ_USES = ("none", "naive", "transfer")   # the removed classes' LQ images: unused, as they are, transferred
HQ_SEED, LQ_SOURCE_SEED, LQ_SEED, REMOVED_SEED, CLASSIFIER_SEED, TEST_SEED = range(6)
PURPOSES = ("hq", "lq-source", "pairs", "classifier", "test", "fresh")   # what a draw of real images is for


class GlyphImages:
    """The rendered characters (``data.glyphs``): every draw is fresh HQ variants of the table's
    glyphs, seeded by (purpose, seed), so draws for different purposes or seeds never coincide."""
    name = "cjk-glyphs"
    _OFFSETS = {"hq": HQ_SEED, "lq-source": LQ_SOURCE_SEED, "pairs": LQ_SOURCE_SEED + 5,
                "classifier": CLASSIFIER_SEED, "test": TEST_SEED, "fresh": TEST_SEED + 100}

    def __init__(self):
        self.table = glyphs.load_glyphs()[0]

    def subset(self, count: int) -> np.ndarray:
        return class_subset(count)

    def draw(self, classes: np.ndarray, per_class: int, purpose: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``per_class`` images of each of ``classes`` for ``purpose``; labels are positions in ``classes``."""
        return glyphs.high_quality(self.table, classes, per_class, seed=self._OFFSETS[purpose] + 10 * seed)


class FashionImages:
    """Fashion-MNIST's embedded subset, padded to 32 px, as the second, small benchmark: each class's
    training images are dealt into four disjoint pools (HQ training images, LQ sources, transfer
    pairs, the scoring classifier) and its test images into two (the scored test images, and fresh
    real images scored as a reference); a draw is a seeded sample of its pool."""
    name = "fashion-mnist"
    _POOLS = {"hq": ("train", 0, 4), "lq-source": ("train", 1, 4), "pairs": ("train", 2, 4),
              "classifier": ("train", 3, 4), "test": ("test", 0, 2), "fresh": ("test", 1, 2)}

    def __init__(self):
        pad = (glyphs.SIZE - fashion.SIDE) // 2
        self.splits = {split: (np.pad(images, ((0, 0), (pad, pad), (pad, pad))), labels)
                       for split in fashion.SPLITS for images, labels in [fashion.load_fashion(split)]}

    def subset(self, count: int) -> np.ndarray:
        if count != len(fashion.CLASSES):
            raise ValueError(f"Fashion-MNIST has {len(fashion.CLASSES)} classes, got classes={count}")
        return np.arange(count)

    def draw(self, classes: np.ndarray, per_class: int, purpose: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        split, part, parts = self._POOLS[purpose]
        images, labels = self.splits[split]
        chosen = []
        for c in classes:
            pool = np.flatnonzero(labels == c)[part::parts]
            if per_class > len(pool):
                raise ValueError(f"Fashion-MNIST's {purpose} pool holds {len(pool)} images of class {c}, "
                                 f"{per_class} asked for")
            chosen.append(np.random.default_rng([seed, int(c), part]).permutation(pool)[:per_class])
        return images[np.concatenate(chosen)], np.repeat(np.arange(len(classes)), per_class)


DATASETS = {source.name: source for source in (GlyphImages, FashionImages)}
FASHION_TEST_PER_CLASS = 50        # the most generated images of a class the Fashion-MNIST scores ask for


@functools.cache
def image_source(name: str):
    """The real images of the dataset ``name`` (one of ``DATASETS``), loaded once per process."""
    checks.choice(name, "dataset", tuple(DATASETS))
    return DATASETS[name]()


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
    mask[np.random.default_rng([REMOVED_SEED, seed]).permutation(count)[:removed]] = True
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


def check_recipe(hq_fraction: float, lq: str) -> tuple[float, str]:
    """(HQ fraction, LQ use) checked: the fraction of classes keeping their HQ images in (0, 1], and
    an LQ use other than ``none`` only when some classes lost them."""
    checks.choice(lq, "lq", LQ_USES)
    if not 0 < hq_fraction <= 1:
        raise ValueError(f"hq_fraction must be in (0, 1], got {hq_fraction!r}")
    if lq != "none" and hq_fraction == 1:
        raise ValueError(f"lq={lq!r} uses the LQ images of the classes without HQ images: it needs hq_fraction < 1")
    return float(hq_fraction), lq


def training_set(hq_fraction: float, lq: str, source, classes: np.ndarray, per_class: int,
                 seed: int) -> TrainingSet:
    """The real images when a fraction ``hq_fraction`` of the class subset ``classes`` of ``source``
    (an ``image_source``) keeps its HQ images and the others' LQ images are used as ``lq`` says;
    ``per_class`` images per class (``study.many_classes.SETTINGS`` names the study's four)."""
    hq_fraction, lq = check_recipe(hq_fraction, lq)
    high, labels = source.draw(classes, per_class, "hq", seed)
    removed = removed_classes(len(classes), seed, hq_fraction) if hq_fraction < 1 else np.zeros(len(classes), bool)
    keep = ~removed[labels]
    images, kept_labels = high[keep], labels[keep]
    transfer = np.zeros(len(images), bool)
    if lq != "none":
        low, low_labels = low_quality_images(source, classes[removed], per_class, seed)
        images = np.concatenate([images, low])
        kept_labels = np.concatenate([kept_labels, np.flatnonzero(removed)[low_labels]])
        transfer = np.concatenate([transfer, np.full(len(low), lq == "transfer")])
    return TrainingSet(images, kept_labels, transfer, removed)


def low_quality_images(source, classes: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """LQ images of ``classes``: degraded HQ variants drawn apart from the HQ training images."""
    originals, labels = source.draw(classes, per_class, "lq-source", seed)
    return glyphs.low_quality(originals, seed=LQ_SEED + 10 * seed), labels


def transfer_pairs(source, classes: np.ndarray, removed: np.ndarray, per_class: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(LQ, HQ, labels) pairs of the kept classes for the transfer module: each HQ variant and its
    own degraded copy."""
    kept = np.flatnonzero(~removed)
    high, labels = source.draw(classes[kept], per_class, "pairs", seed)
    return glyphs.low_quality(high, seed=LQ_SEED + 10 * seed + 5), high, kept[labels]
