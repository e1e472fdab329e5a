"""Counter-based randomness: every random number of image i depends only on (seed, i, stream).

A 64-bit key per (seed, image index, stream) comes from a splitmix64 chain, and random word c of a
key is splitmix64(key + (c + 1) * golden), computed vectorised over the batch in int64 torch ops.
Each stream (shapes, background, salient object, texture) has its own key per image, so adding one
never shifts another. Gaussian spectra use a 65536-entry table of a quantised complex normal (256
Rayleigh radii x 256 phases) indexed by 16 random bits, so one 64-bit word feeds four Fourier
coefficients.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

# Random streams: each gets its own key per (seed, image).
SHAPES, BACKGROUND_COLOUR, BACKGROUND_NOISE, SALIENT, TEXTURE_NOISE = 1, 2, 3, 4, 5
AUX = 100                 # offset of a stream's second set of draws (spectral exponents, directions)

_GOLDEN = 0x9E3779B97F4A7C15
_MIX = ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None))


def _signed(value: int) -> int:
    """A 64-bit pattern as the int64 torch stores it."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _mix_numpy(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (a bijection with full avalanche)."""
    for shift, factor in _MIX:
        z = z ^ (z >> np.uint64(shift))
        if factor:
            z = z * np.uint64(factor)
    return z


def _mix_torch(z: Tensor) -> Tensor:
    """splitmix64's finaliser on an int64 tensor, in place (logical shifts by masking)."""
    scratch = torch.empty_like(z)
    for shift, factor in _MIX:
        torch.bitwise_right_shift(z, shift, out=scratch)
        z.bitwise_xor_(scratch.bitwise_and_((1 << (64 - shift)) - 1))
        if factor:
            z.mul_(_signed(factor))
    return z


def image_keys(seed: int, indices: np.ndarray, stream: int, device) -> Tensor:
    """64-bit key (int64, (B,)) of each image index for one random stream."""
    with np.errstate(over="ignore"):
        z = _mix_numpy(np.full(len(indices), seed, dtype=np.uint64) + np.uint64(_GOLDEN))
        z = _mix_numpy(z + indices.astype(np.uint64) * np.uint64(_GOLDEN))
        z = _mix_numpy(z + np.uint64(stream) * np.uint64(_GOLDEN))
    return torch.from_numpy(z.view(np.int64)).to(device)


def random_bits(keys: Tensor, count: int) -> Tensor:
    """``count`` random 64-bit words per key, int64 (B, count): splitmix64(key + (c + 1) * golden)."""
    counters = torch.arange(1, count + 1, device=keys.device, dtype=torch.int64).mul_(_signed(_GOLDEN))
    return _mix_torch(keys[:, None] + counters)


def uniforms(keys: Tensor, count: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``count`` uniform numbers in [0, 1) per key, (B, count): 53 random bits each in float64,
    24 in float32 (so that every value is exact)."""
    bits = 53 if dtype == torch.float64 else 24
    words = random_bits(keys, count).bitwise_right_shift_(64 - bits).bitwise_and_((1 << bits) - 1)
    return words.to(dtype).mul_(2.0**-bits)


_GAUSS_TABLES: dict = {}


def gaussian_table(device) -> Tensor:
    """Complex normal quantised to 256 Rayleigh radii x 256 phases, E|z|^2 = 2: complex64 (65536,).

    Entry ``256 * i + j`` has radius quantile (i + 0.5) / 256 and phase 2 pi (j + 0.5) / 256.
    """
    key = str(device)
    if key not in _GAUSS_TABLES:
        quantiles = (np.arange(256) + 0.5) / 256
        radius = np.sqrt(-2.0 * np.log1p(-quantiles))
        radius *= np.sqrt(2.0 / np.mean(radius**2))
        phase = 2 * np.pi * (np.arange(256) + 0.5) / 256
        table = (radius[:, None] * np.exp(1j * phase[None, :])).reshape(-1).astype(np.complex64)
        _GAUSS_TABLES[key] = torch.from_numpy(table).to(device)
    return _GAUSS_TABLES[key]


def gaussians(keys: Tensor, count: int) -> Tensor:
    """``count`` quantised complex normals per key (E|z|^2 = 2), complex64 (B, count); 16 bits each.

    ``index_select`` with non-negative int32 indices: 3x faster than fancy indexing here.
    """
    words = random_bits(keys, -(-count // 4))
    index = words.view(torch.int16)[:, :count].int().bitwise_and_(0xFFFF)
    return gaussian_table(keys.device).index_select(0, index.view(-1)).view(len(keys), count)

