"""Images in and out of the generators: tensors from and to uint8 images, seeded samples,
interpolation walks, and image grids saved as PNG."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import checks
from ..data.images import tile
from ..paths import atomic_write


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_images(x: torch.Tensor) -> np.ndarray:
    """float NCHW in [-1, 1] -> uint8 NHWC."""
    return ((x.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def sample_images(generator: torch.nn.Module, n: int, seed: int, truncation: float = 1.0) -> np.ndarray:
    """``n`` images of ``generator`` from latents seeded by ``seed`` (uint8 NHWC). ``truncation``
    psi in (0, 1] scales the latents toward their mean (zero): lower psi, typical images, less
    variety (the truncation trick, in the input latent space: these generators have no mapping
    network); psi 1 is the generator's own distribution."""
    latents = torch.randn(n, generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    return _render(generator, latents * _truncation(truncation))


def interpolation_images(generator: torch.nn.Module, rows: int, steps: int, seed: int,
                         truncation: float = 1.0) -> np.ndarray:
    """(rows, steps, H, W, 3) uint8: each row walks from one seeded latent to another along the
    great circle between them (spherical interpolation keeps the latent's norm typical)."""
    rows, steps = checks.integer(rows, "rows", 1), checks.integer(steps, "steps", 2)
    ends = torch.randn(2, rows, generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    start, end = ends[0], ends[1]
    cosine = (start * end).sum(1, keepdim=True) / (start.norm(dim=1, keepdim=True) * end.norm(dim=1, keepdim=True))
    angle = torch.arccos(cosine.clamp(-1, 1))
    fractions = torch.linspace(0, 1, steps)
    path = torch.stack([(torch.sin((1 - t) * angle) * start + torch.sin(t * angle) * end) / torch.sin(angle)
                        for t in fractions], dim=1)
    images = _render(generator, path.reshape(rows * steps, -1) * _truncation(truncation))
    return images.reshape(rows, steps, *images.shape[1:])


def _truncation(psi: float) -> float:
    if not 0 < float(psi) <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {psi}")
    return float(psi)


def _render(generator: torch.nn.Module, latents: torch.Tensor) -> np.ndarray:
    device = next(generator.parameters()).device
    with torch.no_grad():
        return to_images(torch.cat([generator(chunk.to(device)) for chunk in latents.split(256)]))


def save_grid(images: np.ndarray, path: Path, columns: int = 8, *, replace: bool = True) -> None:
    """uint8 NHWC images tiled row by row into one PNG (an incomplete last row padded white), written
    atomically (``replace=False``: never over a file another writer made meanwhile)."""
    rows = -(-len(images) // columns)
    padded = np.full((rows * columns, *images.shape[1:]), 255, np.uint8)
    padded[:len(images)] = images
    grid = tile(padded.reshape(rows, columns, *images.shape[1:]))
    atomic_write(path, lambda temporary: Image.fromarray(grid).save(temporary, format="PNG"), replace=replace)
