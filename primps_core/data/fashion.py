"""Fashion-MNIST, the sensitive data of the DP-synthesis study (notebook 07).

``data/fashion-mnist/fashion-mnist.npz`` is built by ``scripts/build_data.py`` from Debian's
``dataset-fashion-mnist`` (licence and original indices in its ``PROVENANCE.csv``): a
class-balanced subset, the first 1,000 training and the first 200 test images of each of the ten
classes, 28x28 grey. The test split is never trained on: it is what generated images are scored
against and what a classifier trained on generated images is tested on.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .. import checks, paths
from .images import read_embedded_arrays

FASHION_FILE = paths.DATA_DIR / "fashion-mnist" / "fashion-mnist.npz"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = ("train", "test")
SIDE = 28


def load_fashion(split: str, path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels int64 (N,) of ``split`` (``train`` or ``test``); one clear
    error for a missing, corrupt or malformed file."""
    checks.choice(split, "split", SPLITS)
    images, labels = _read(Path(path or FASHION_FILE), split)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=4)
def _read(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_embedded_arrays(path, (f"{split}_images", f"{split}_labels"),
                                          "python scripts/build_data.py --only fashion-mnist")
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"{path}: {split}_images must be uint8 (N, {SIDE}, {SIDE}), got {images.dtype} {images.shape}")
    if labels.shape != images.shape[:1] or labels.min() < 0 or labels.max() >= len(CLASSES):
        raise ValueError(f"{path}: {split}_labels must be one class index in 0..{len(CLASSES) - 1} per image")
    images.setflags(write=False)
    labels = labels.astype(np.int64)
    labels.setflags(write=False)
    return images, labels
