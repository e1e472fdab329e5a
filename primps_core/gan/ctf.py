"""The parts of CTF-GAN (Wu et al., IJCNN 2020) as this study reads them (notebook 08).

CTF-GAN trains a class-conditional GAN over thousands of classes when part of the high-quality
(HQ) training images is missing: a "conditional transferring features" module learns, on classes
that have both, how a low-quality (LQ) image of a class changes into its HQ version, so that the
LQ images of classes without HQ images still teach the generator what their HQ images look like;
and a self-supervised loss gives the discriminator label-free signal. The paper published no
code; each part below is our reading, switchable on its own for the ablation:

- ``ClassNormGenerator``: the conditional generator with class-conditional normalisation, our
  form of conditional batch norm: after each stage's pixel norm, a per-class, per-channel scale
  and shift (``x * (1 + gamma_y) + beta_y``, both embeddings zero at the start). Batch norm itself
  would make a sample depend on its batch (see ``gan.models``), so the pixel norm stays and only
  the class modulation is added; an unconditional ``Generator``'s weights (notebook 03's
  pretraining) load unchanged and the new parts start as the identity.
- ``RotationDiscriminator``: the projection discriminator with SS-GAN's rotation head (Chen et
  al., CVPR 2019): a linear 4-way classifier on the penultimate features that predicts by how many
  quarter turns an image was rotated; ``rotation_loss`` is its cross-entropy over the four
  rotations of a batch.
- ``FeatureTransfer``: the pixel-level transfer, a small class-conditional residual network from
  an LQ image to an estimate of its HQ image, trained on the (LQ, HQ) pairs of classes that have
  both (``transfer_loss``: L1), then applied to the LQ images of the classes without HQ images,
  whose outputs serve the discriminator as real images of those classes.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import checks
from .models import EqualizedConv2d, Generator, ModelConfig, ProjectionDiscriminator, pixel_norm

QUARTER_TURNS = 4
CONDITIONAL_PARTS = ("scales.", "shifts.", "embed.", "rotation.")   # what an unconditional G or D lacks


class ClassNormGenerator(Generator):
    """(latent, class) -> image with class-conditional normalisation after every stage."""

    def __init__(self, config: ModelConfig, classes: int):
        super().__init__(config)
        self.classes = checks.integer(classes, "classes", 1)
        widths = [config.channels(4)] + [config.channels(2 * s) for s in config.sizes()[:-1]]
        self.scales = nn.ModuleList([_zero_embedding(classes, width) for width in widths])
        self.shifts = nn.ModuleList([_zero_embedding(classes, width) for width in widths])

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w = pixel_norm(z[:, :, None, None])[:, :, 0, 0]
        x = pixel_norm(F.leaky_relu(self.input(w).reshape(len(w), -1, 4, 4), 0.2))
        x = self._modulate(x, y, 0)
        for k, stage in enumerate(self.stages, start=1):
            x = self._modulate(stage(x), y, k)
        return torch.tanh(self.to_rgb(x))

    def _modulate(self, x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
        return x * (1 + self.scales[k](y)[:, :, None, None]) + self.shifts[k](y)[:, :, None, None]


def _zero_embedding(classes: int, width: int) -> nn.Embedding:
    embedding = nn.Embedding(classes, width)
    nn.init.zeros_(embedding.weight)
    return embedding


class RotationDiscriminator(ProjectionDiscriminator):
    """The projection discriminator plus a rotation head on the same penultimate features."""

    def __init__(self, config: ModelConfig, classes: int):
        super().__init__(config, classes)
        self.rotation = nn.Linear(config.channels(4), QUARTER_TURNS)

    def rotation_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 4): how many quarter turns each image looks rotated by."""
        return self.rotation(self.final[:-1](self.trunk(x)))


def rotated(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of ``x`` at each of the four quarter turns, and the turn of each: (4N, ...), (4N,)."""
    turns = torch.arange(QUARTER_TURNS).repeat_interleave(len(x))
    return torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(QUARTER_TURNS)]), turns


def rotation_loss(discriminator: RotationDiscriminator, x: torch.Tensor) -> torch.Tensor:
    """SS-GAN's self-supervised loss: the cross-entropy of the rotation head on the four rotations of ``x``."""
    images, turns = rotated(x)
    return F.cross_entropy(discriminator.rotation_logits(images), turns)


class FeatureTransfer(nn.Module):
    """LQ image (N, C, R, R) and class -> HQ estimate: the input plus a residual from three 3x3
    convolutions whose hidden features get a per-class shift (zero at the start, when the module
    is the identity plus an untrained residual)."""

    def __init__(self, classes: int, channels: int = 3, width: int = 32):
        super().__init__()
        checks.integer(classes, "classes", 1)
        self.width = checks.integer(width, "width", 1)
        self.first = EqualizedConv2d(channels, width, 3)
        self.middle = EqualizedConv2d(width, width, 3)
        self.last = EqualizedConv2d(width, channels, 3, gain=1.0)
        nn.init.zeros_(self.last.weight)
        self.class_shift = _zero_embedding(classes, width)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.first(x) + self.class_shift(y)[:, :, None, None], 0.2)
        h = F.leaky_relu(self.middle(h), 0.2)
        return (x + self.last(h)).clamp(-1, 1)


def transfer_loss(transfer: FeatureTransfer, low: torch.Tensor, high: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L1 between the transferred LQ images and their HQ pairs."""
    return (transfer(low, y) - high).abs().mean()
