"""A small CNN classifier of square grey images (28 px here, 32 px for notebook 08's glyphs):
PrivImage's semantic classifier and the score of downstream accuracy.

Two uses, one model: (1) the semantic query trains it on a public or synthetic pool labelled by
its *semantic classes* (``dp.semantic``) and reads the sensitive images' top-k classes; (2) DP
synthesis papers score a generator by the test accuracy, on the real test set, of a classifier
trained on its labelled samples (DPImageBench uses ResNet-sized networks for 50 epochs; at CPU
scale this two-block CNN for a few epochs, the last epoch's accuracy, no selection on test data).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import checks
from ..progress import bar as progress_bar


class SmallCNN(nn.Module):
    """conv(32)-pool-conv(64)-pool-fc(128)-fc(classes), ReLU; input (N, 1, side, side) in [-1, 1],
    ``side`` a multiple of 4."""

    def __init__(self, classes: int, side: int = 28):
        super().__init__()
        self.side = checks.integer(side, "side", 4)
        if side % 4:
            raise ValueError(f"side must be a multiple of 4, got {side}")
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(64 * (side // 4) ** 2, 128), nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def _inputs(images: np.ndarray, side: int = 28) -> torch.Tensor:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (side, side):
        raise ValueError(f"images must be uint8 (N, {side}, {side}), got {images.dtype} {images.shape}")
    return torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)[:, None]


def fit(images: np.ndarray, labels: np.ndarray, classes: int, *, epochs: int = 3, batch_size: int = 64,
        lr: float = 1e-3, seed: int = 0, progress: bool = False) -> SmallCNN:
    """A ``SmallCNN`` trained on (images, labels) with Adam for ``epochs`` epochs in seeded order; its
    side is the images'."""
    side = np.asarray(images).shape[-1] if np.ndim(images) == 3 else 28
    x, y = _inputs(images, side), torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if len(y) != len(x) or len(x) == 0:
        raise ValueError(f"need one label per image and at least one image, got {len(x)} images and {len(y)} labels")
    if y.min() < 0 or y.max() >= classes:
        raise ValueError(f"labels must be in 0..{classes - 1}")
    checks.integer(epochs, "epochs", 1)
    torch.manual_seed(seed)
    model = SmallCNN(classes, side)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in progress_bar(range(epochs), desc="classifier", disable=not progress, leave=False):
        for index in torch.randperm(len(x), generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[index]), y[index]).backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def logits(model: SmallCNN, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class scores (N, classes) of uint8 (N, side, side) images."""
    x = _inputs(images, model.side)
    return torch.cat([model(chunk) for chunk in x.split(batch_size)]).numpy() if len(x) else np.zeros((0, model.fc2.out_features))


def accuracy(model: SmallCNN, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` whose top class is their label."""
    return float((logits(model, images).argmax(1) == np.asarray(labels)).mean())


def downstream_accuracy(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                        test_labels: np.ndarray, classes: int, *, epochs: int = 3, seed: int = 0) -> float:
    """Test accuracy of a classifier trained on (generated) labelled images: DP synthesis' utility score."""
    return accuracy(fit(train_images, train_labels, classes, epochs=epochs, seed=seed), test_images, test_labels)
