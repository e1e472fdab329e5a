"""DiffAugment (Zhao et al. 2020): differentiable colour, translation and cutout for GAN training.

The same random transform family is applied to real and generated images before the
discriminator, so D cannot overfit a small target set while G still receives gradients through
the augmentation. This follows the official ``DiffAugment_pytorch.py`` policy by policy:

- ``color``: brightness ``+ U(-0.5, 0.5)``, saturation ``x (U(0, 2))`` around the pixel's channel
  mean, contrast ``x (U(0.5, 1.5))`` around the image mean;
- ``translation``: an integer shift of up to 1/8 of the size in each direction, zero-filled;
- ``cutout``: one square of half the size, zeroed, centred uniformly (it may cross the border).

Images are float NCHW in [-1, 1]. Every random number comes from the ``generator`` passed in, so
a training run's augmentation stream is part of its checkpointed state and a resumed run
continues it exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _draw_device(x: torch.Tensor, generator: torch.Generator | None) -> torch.device:
    """Random numbers are drawn where the generator lives (a CPU generator gives the same numbers
    for images on any device) and then moved to the images."""
    return generator.device if generator is not None else x.device


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=_draw_device(x, generator)).to(x)


def rand_brightness(x: torch.Tensor, generator=None) -> torch.Tensor:
    return x + (_uniform(x, generator) - 0.5)


def rand_saturation(x: torch.Tensor, generator=None) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, generator) * 2) + mean


def rand_contrast(x: torch.Tensor, generator=None) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean


def _random_ints(low: int, high: int, n: int, x: torch.Tensor, generator) -> torch.Tensor:
    """``n`` integers uniform in [low, high] (inclusive)."""
    return torch.randint(low, high + 1, (n,), generator=generator, device=_draw_device(x, generator)).to(x.device)


def rand_translation(x: torch.Tensor, generator=None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size (rounded) in y and x; vacated pixels are 0."""
    batch, channels, height, width = x.shape
    reach_y, reach_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    shift_y = _random_ints(-reach_y, reach_y, batch, x, generator)
    shift_x = _random_ints(-reach_x, reach_x, batch, x, generator)
    padded = F.pad(x, [reach_x, reach_x, reach_y, reach_y])
    rows = torch.arange(height, device=x.device)[None, :] + reach_y - shift_y[:, None]      # (B, H)
    cols = torch.arange(width, device=x.device)[None, :] + reach_x - shift_x[:, None]       # (B, W)
    rows = rows[:, None, :, None].expand(batch, channels, height, padded.shape[3])
    picked = padded.gather(2, rows)
    cols = cols[:, None, None, :].expand(batch, channels, height, width)
    return picked.gather(3, cols)


def rand_cutout(x: torch.Tensor, generator=None, ratio: float = 0.5) -> torch.Tensor:
    """Zero one ``ratio``-sized square per image, its centre uniform over the image."""
    batch, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = _random_ints(0, height - size_y % 2, batch, x, generator)
    centre_x = _random_ints(0, width - size_x % 2, batch, x, generator)
    top, left = centre_y - size_y // 2, centre_x - size_x // 2
    ys = torch.arange(height, device=x.device)[None, :]
    xs = torch.arange(width, device=x.device)[None, :]
    inside_y = (ys >= top[:, None]) & (ys < (top + size_y)[:, None])
    inside_x = (xs >= left[:, None]) & (xs < (left + size_x)[:, None])
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


FUNCTIONS = {"color": (rand_brightness, rand_saturation, rand_contrast),
             "translation": (rand_translation,), "cutout": (rand_cutout,)}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` as a tuple; one clear error for an unknown part."""
    parts = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in parts if p not in FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown[0]!r}; known: {', '.join(POLICIES)}")
    return parts


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the policy's transforms in order (differentiable in ``x``)."""
    for name in parse_policy(policy):
        for function in FUNCTIONS[name]:
            x = function(x, generator)
    return x
