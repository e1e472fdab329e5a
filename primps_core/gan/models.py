"""Generator and discriminator for 16-256 px, sized by resolution: a DCGAN-style pair and a residual pair.

Both architectures double the resolution per generator stage from 4x4 and halve it per
discriminator stage back to 4x4; channel widths are ``base_channels`` at the full resolution,
doubling per halving up to ``max_channels``. Choices that matter for this study:

- no batch normalisation anywhere: a sample depends only on its own latent (so sampling is
  independent of batch size) and the discriminator suits R1 and, later, per-sample DP-SGD;
  the generator normalises features per pixel instead (PGGAN's pixel norm);
- minibatch standard deviation before the discriminator's last block (StyleGAN2): the std of
  every feature over groups of ``mbstd_group`` samples, averaged to one extra channel, lets D
  see a collapsed batch;
- the discriminator is a list of ``stages`` from the input side, so FreezeD can freeze the first
  k of them (``freeze_discriminator``);
- every convolution and linear layer has an equalized learning rate (PGGAN/StyleGAN): weights are
  stored N(0, 1) and scaled by He's constant at run time, so Adam's step at the recipe's learning
  rate (0.002) is the same relative change for every layer. With PyTorch's default
  initialisation instead, that learning rate is 10-20x too large for the narrow layers, and a
  pretraining run on ``primitives`` diverged (D loss 54 after 200 iterations).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import checks

ARCHITECTURES = ("dcgan", "resnet")
RESOLUTIONS = (16, 32, 64, 128, 256)


@dataclass(frozen=True)
class ModelConfig:
    architecture: str = "dcgan"
    resolution: int = 32
    latent_dim: int = 128
    base_channels: int = 16           # channels at the full resolution (benchmarks/architecture_comparison.py)
    max_channels: int = 128
    mbstd_group: int = 4

    def __post_init__(self):
        checks.choice(self.architecture, "architecture", ARCHITECTURES)
        checks.choice(self.resolution, "resolution", RESOLUTIONS)
        for name in ("latent_dim", "base_channels", "max_channels", "mbstd_group"):
            checks.integer(getattr(self, name), name, 1)

    def channels(self, size: int) -> int:
        """Feature channels at spatial size ``size``."""
        return min(self.max_channels, self.base_channels * self.resolution // size)

    def sizes(self) -> list[int]:
        """Spatial sizes from 4 up to the resolution: 4, 8, ..., R."""
        return [2**k for k in range(2, self.resolution.bit_length())]


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector to unit mean square (PGGAN)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group: int) -> torch.Tensor:
    """Append one channel: the mean over features of the std over groups of ``group`` samples (StyleGAN2).

    Sample ``i`` is grouped with ``i + k * (N / group)``; batches not divisible by ``group`` use the
    largest divisor of N that is at most ``group``.
    """
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group, n) + 1) if n % d == 0)
    y = x.reshape(g, n // g, c, h, w)
    std = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()       # (N/g, C, H, W)
    feature = std.mean(dim=(1, 2, 3)).reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w)
    return torch.cat([x, feature.reshape(n, 1, h, w)], dim=1)


LEAKY_GAIN = 2**0.5          # He's gain for the leaky ReLU layers that follow most weights


class EqualizedLayer(nn.Module):
    """Weights stored N(0, 1) and scaled by gain / sqrt(fan in) at run time (equalized learning rate);
    biases start at zero. Subclasses apply ``self.weight * self.scale``."""

    def __init__(self, shape: tuple[int, ...], bias: bool, gain: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(shape))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None
        fan_in = 1
        for size in shape[1:]:
            fan_in *= size
        self.scale = gain / fan_in ** 0.5


class EqualizedConv2d(EqualizedLayer):
    """A convolution ("same" padding) with an equalized learning rate."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, bias: bool = True, gain: float = LEAKY_GAIN):
        super().__init__((cout, cin, kernel, kernel), bias, gain)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(EqualizedLayer):
    """A linear layer with an equalized learning rate."""

    def __init__(self, cin: int, cout: int, gain: float = LEAKY_GAIN):
        super().__init__((cout, cin), True, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def _conv(cin: int, cout: int, kernel: int = 3) -> EqualizedConv2d:
    return EqualizedConv2d(cin, cout, kernel)


class GeneratorStage(nn.Module):
    """Upsample x2 (nearest), two 3x3 convolutions; the residual variant adds a 1x1-projected skip."""

    def __init__(self, cin: int, cout: int, residual: bool):
        super().__init__()
        self.conv1, self.conv2 = _conv(cin, cout), _conv(cout, cout)
        self.skip = EqualizedConv2d(cin, cout, 1, bias=False, gain=1.0) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        y = pixel_norm(F.leaky_relu(self.conv1(x), 0.2))
        y = pixel_norm(F.leaky_relu(self.conv2(y), 0.2))
        return y if self.skip is None else (y + self.skip(x)) / 2**0.5


class Generator(nn.Module):
    """Latent (N, latent_dim) -> image (N, 3, R, R) in [-1, 1]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        sizes = config.sizes()
        self.input = EqualizedLinear(config.latent_dim, config.channels(4) * 16)
        self.stages = nn.ModuleList([GeneratorStage(config.channels(s), config.channels(2 * s), config.architecture == "resnet")
                                     for s in sizes[:-1]])
        self.to_rgb = EqualizedConv2d(config.channels(config.resolution), 3, 1, gain=1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesise(pixel_norm(z[:, :, None, None])[:, :, 0, 0])

    def synthesise(self, w: torch.Tensor) -> torch.Tensor:
        """The image of a normalised latent ``w`` (N, latent_dim)."""
        x = self.input(w)
        x = pixel_norm(F.leaky_relu(x.reshape(len(w), -1, 4, 4), 0.2))
        for stage in self.stages:
            x = stage(x)
        return torch.tanh(self.to_rgb(x))


class ConditionalGenerator(Generator):
    """(latent, class) -> image: the class's learned embedding, normalised like the latent, is added
    to it, so an unconditional ``Generator``'s weights load unchanged (``strict=False``) and the
    embedding starts the only new part."""

    def __init__(self, config: ModelConfig, classes: int):
        super().__init__(config)
        self.classes = checks.integer(classes, "classes", 1)
        self.embed = nn.Embedding(classes, config.latent_dim)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.synthesise(pixel_norm(z) + pixel_norm(self.embed(y)))


class DiscriminatorStage(nn.Module):
    """Two 3x3 convolutions, then average-pool x2; the residual variant adds a pooled 1x1 skip."""

    def __init__(self, cin: int, cout: int, residual: bool):
        super().__init__()
        self.conv1, self.conv2 = _conv(cin, cin), _conv(cin, cout)
        self.skip = EqualizedConv2d(cin, cout, 1, bias=False, gain=1.0) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv2(F.leaky_relu(self.conv1(x), 0.2)), 0.2)
        y = F.avg_pool2d(y, 2)
        return y if self.skip is None else (y + F.avg_pool2d(self.skip(x), 2)) / 2**0.5


class Discriminator(nn.Module):
    """Image (N, 3, R, R) -> logit (N,). ``stages[0]`` reads RGB; the last stage works at 4x4."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        sizes = config.sizes()[::-1]                       # R, R/2, ..., 4
        residual = config.architecture == "resnet"
        first = nn.Sequential(EqualizedConv2d(3, config.channels(config.resolution), 1), nn.LeakyReLU(0.2))
        down = [DiscriminatorStage(config.channels(s), config.channels(s // 2), residual) for s in sizes[:-1]]
        down[0] = nn.Sequential(first, down[0])
        width = config.channels(4)
        self.stages = nn.ModuleList(down)
        self.final_conv = _conv(width + 1, width)
        self.final = nn.Sequential(nn.Flatten(), EqualizedLinear(width * 16, width), nn.LeakyReLU(0.2),
                                   EqualizedLinear(width, 1, gain=1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final(self.trunk(x))[:, 0]

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Features before the final layers: the stages, minibatch std, the last convolution."""
        for stage in self.stages:
            x = stage(x)
        return F.leaky_relu(self.final_conv(minibatch_stddev(x, self.config.mbstd_group)), 0.2)


class ProjectionDiscriminator(Discriminator):
    """(image, class) -> logit, the projection discriminator (Miyato & Koyama 2018): the
    unconditional logit plus the inner product of the class's embedding with the penultimate
    features (scaled by 1/sqrt(width)). An unconditional ``Discriminator``'s weights load unchanged."""

    def __init__(self, config: ModelConfig, classes: int):
        super().__init__(config)
        self.classes = checks.integer(classes, "classes", 1)
        self.embed = nn.Embedding(classes, config.channels(4))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        features = self.final[:-1](self.trunk(x))
        return self.final[-1](features)[:, 0] + (self.embed(y) * features).sum(1) / features.shape[1] ** 0.5


def freeze_discriminator(discriminator: Discriminator, k: int) -> None:
    """FreezeD (Mo et al. 2020): stop training the first ``k`` stages (input side) of D."""
    checks.integer(k, "freeze_d", 0, len(discriminator.stages))
    for index, stage in enumerate(discriminator.stages):
        for parameter in stage.parameters():
            parameter.requires_grad_(index >= k)


def build(config: ModelConfig) -> tuple[Generator, Discriminator]:
    """A generator and a discriminator for ``config``."""
    return Generator(config), Discriminator(config)
