"""PrivImage's semantic-aware selection of pretraining data by a DP query of the sensitive images.

PrivImage (Li et al., USENIX Security 2024; code SunnierLee/DP-ImaGen, and DPImageBench's port)
trains a *semantic classifier* on the public data's own labels, lets it name the top-k semantic
classes of every sensitive image, counts them per sensitive label, adds Gaussian noise to the
histogram and pretrains only on the public images of the classes that come out on top. One
sensitive image adds 1 to k cells of its own label's row, so the histogram's L2 sensitivity is
sqrt(k); noise of std ``sigma * sqrt(k)`` makes it a Gaussian mechanism of noise multiplier
``sigma`` over the whole dataset: the accountant entry ``(sigma, 1.0, 1)``, composed before
DP-SGD's steps (DPImageBench for Fashion-MNIST: sigma 50, k 1, one class per label). Pretraining is then
conditional, as PrivImage's: the images of the classes a label chose are trained with that label
(``labelled_subset``), so the class embeddings arrive pretrained.

The semantic classes of the two pools, 28x28 grey (``to_grey`` of the RGB sources):
- **natural patches**: the photo each crop comes from (PrivImage's public labels are ImageNet
  classes; the study's public images are its embedded photos, so a class is one photo);
- **Primitives-PS**: the synthesizer has no semantics, so we define them from its two generic
  properties (the paper's): spectral slope and shape density. A class is one cell of
  ``SYNTHETIC_CLASSES``, the published Primitives-PS with ``alpha_range`` one third of the
  published [0.5, 3.5] (rough, medium, smooth textures) and ``n_shapes`` one of 10, 30, 100, 300
  (the published 100 among them).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .. import checks, synth
from ..data.images import to_grey
from ..data.photos import natural_patches, photo_split
from ..eval import classifier

QUERY_SIGMA, TOP_K, PER_LABEL = 50.0, 1, 1          # DPImageBench's Fashion-MNIST settings
ALPHA_BINS = ((0.5, 1.5), (1.5, 2.5), (2.5, 3.5))
SHAPE_COUNTS = (10, 30, 100, 300)
SYNTHETIC_CLASSES = tuple(dict(alpha_range=a, n_shapes=n) for n, a in itertools.product(SHAPE_COUNTS, ALPHA_BINS))
POOLS = ("primitives-ps", "natural-patches")
SIDE = 28


def synthetic_pool(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` grey Primitives-PS images of every ``SYNTHETIC_CLASSES`` cell, with their class."""
    per_class = checks.integer(per_class, "images per class", 1)
    images = [to_grey(synth.generate(per_class, variant="primitives-ps", resolution=SIDE, seed=seed * 1000 + c, **options))
              for c, options in enumerate(SYNTHETIC_CLASSES)]
    return np.concatenate(images), np.repeat(np.arange(len(SYNTHETIC_CLASSES)), per_class)


def natural_pool(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` grey natural patches of the pretraining photos, with the index of each one's photo."""
    images, photos = natural_patches(checks.integer(n, "pool size", 1), resolution=SIDE, seed=seed, with_photos=True)
    return to_grey(images), photos


def pool(name: str, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Images, semantic labels and the number of semantic classes of pool ``name`` (about ``size`` images)."""
    checks.choice(name, "semantic pool", POOLS)
    if name == "primitives-ps":
        images, labels = synthetic_pool(max(1, size // len(SYNTHETIC_CLASSES)), seed)
        return images, labels, len(SYNTHETIC_CLASSES)
    images, labels = natural_pool(size, seed)
    return images, labels, len(photo_split()["pretrain"])


def histogram(semantic_scores: np.ndarray, labels: np.ndarray, classes: int, k: int = TOP_K) -> np.ndarray:
    """Counts (classes, semantic classes): each image adds 1 to its ``k`` top-scoring semantic classes
    in the row of its own label."""
    scores, labels = np.asarray(semantic_scores), np.asarray(labels)
    k = checks.integer(k, "top k", 1, scores.shape[1])
    counts = np.zeros((classes, scores.shape[1]))
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.add.at(counts, (np.repeat(labels, k), top.ravel()), 1.0)
    return counts


def noised(counts: np.ndarray, sigma: float, k: int, seed: int) -> np.ndarray:
    """The histogram with Gaussian noise of std ``sigma * sqrt(k)`` (its L2 sensitivity is sqrt(k))."""
    if not sigma > 0:
        raise ValueError(f"the query's noise multiplier must be positive, got {sigma!r}")
    return counts + np.random.default_rng(seed).normal(0.0, sigma * np.sqrt(k), counts.shape)


def select(noisy_counts: np.ndarray, per_label: int = PER_LABEL) -> np.ndarray:
    """The semantic classes chosen for each sensitive label: each row's ``per_label`` largest cells
    (labels, per_label)."""
    per_label = checks.integer(per_label, "classes per label", 1, noisy_counts.shape[1])
    return np.argsort(-noisy_counts, axis=1, kind="stable")[:, :per_label]


def labelled_subset(pool_labels: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PrivImage's conditional pretraining set: the pool images of the classes chosen for each
    sensitive label, labelled with that label (an image whose class two labels chose is used twice).
    Returns (pool indices, sensitive labels)."""
    pairs = [(np.flatnonzero(np.isin(pool_labels, row)), label) for label, row in enumerate(np.asarray(chosen))]
    return (np.concatenate([index for index, _ in pairs]),
            np.concatenate([np.full(len(index), label) for index, label in pairs]))


@dataclass(frozen=True)
class QueryResult:
    chosen: np.ndarray                # (sensitive classes, per_label) semantic classes chosen per label
    noisy_counts: np.ndarray          # (sensitive classes, semantic classes)
    mechanism: tuple                  # (noise multiplier, sample rate, steps) for the accountant

    @property
    def selected(self) -> tuple:
        """Every semantic class chosen by some label."""
        return tuple(int(c) for c in np.unique(self.chosen))


def query(pool_images: np.ndarray, pool_labels: np.ndarray, semantic_classes: int, sensitive_images: np.ndarray,
          sensitive_labels: np.ndarray, sensitive_classes: int, *, sigma: float = QUERY_SIGMA, k: int = TOP_K,
          per_label: int = PER_LABEL, epochs: int = 3, seed: int = 0) -> QueryResult:
    """PrivImage's query: a semantic classifier trained on the pool (no privacy cost: public or
    synthetic), its top-k classes of the sensitive images counted per label, noised, and the top
    ``per_label`` classes of each label selected."""
    model = classifier.fit(pool_images, pool_labels, semantic_classes, epochs=epochs, seed=seed)
    counts = histogram(classifier.logits(model, sensitive_images), sensitive_labels, sensitive_classes, k)
    noisy = noised(counts, sigma, k, seed)
    return QueryResult(select(noisy, per_label), noisy, (float(sigma), 1.0, 1))
