"""Power-spectrum (PS) noise: Gaussian spectra shaped by a power law, inverse-transformed, and
min-max normalised to 0..255: each channel alone by default, or the three channels with one min
and max (``normalisation="global"``, what the official code does).

Two laws (``SynthConfig.alpha_law``): "published", per channel ``1 / (|fx|^a + |fy|^b)`` with a, b
~ U[alpha_range]; "natural", isotropic ``|f|^(-alpha/2)`` with the three alphas and the channel
correlation of the photos (notebook 01). Frequencies are in cycles per image over ``FREQ_UNIT``
(the published ``fftfreq(256, d=0.2)`` unit at 256 px), so every resolution draws the same law.
The inverse FFT runs in scipy.fft on CPU (bit-identical for any batch split and worker count;
torch's MKL FFT differs between 1 and 2 threads) and in torch.fft elsewhere.
"""
from __future__ import annotations

import numpy as np
import scipy.fft
import torch
from torch import Tensor

from .config import NaturalLaw, SynthConfig
from .rng import AUX, gaussians, image_keys, uniforms

FREQ_UNIT = 51.2
NATURAL_ALPHA_CLIP = (0.0, 7.0)
NOISE_PIXELS = 1 << 18    # pixels of noise made at a time (spectra and FFTs stay in cache)


def _wavenumbers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """|ky| (size,) and |kx| (size // 2 + 1,) in cycles per image, in rfft2 layout."""
    return np.abs(np.fft.fftfreq(size, d=1.0 / size)), np.fft.rfftfreq(size, d=1.0 / size)


OFFICIAL_ZERO, OFFICIAL_EPS = 0.1, 1e-6    # the official code's f[0] = 0.1 f[1] and its eps per term


def _published_denominator(exponent_keys: Tensor, size: int, config: SynthConfig) -> Tensor:
    """Per image and channel (|kx|/K)^a + (|ky|/K)^b, a, b ~ U[alpha_range]: (B, 3, size, W, 2).

    With ``zero_frequency="official"`` a zero wavenumber counts as 0.1 cycle per image and 1e-6 is
    added to each term, as the official code does, so the axis lines and the mean get finite,
    large weights instead of following a pure power law. The last axis repeats the value for the
    real and imaginary parts, so that it divides the spectrum's real view in one contiguous
    elementwise pass.
    """
    low, high = config.alpha_range
    ab = (low + (high - low) * uniforms(exponent_keys, 6)).cpu().numpy().reshape(-1, 3, 2)
    ky, kx = _wavenumbers(size)
    eps = 0.0
    if config.zero_frequency == "official":
        ky, kx, eps = np.where(ky == 0, OFFICIAL_ZERO, ky), np.where(kx == 0, OFFICIAL_ZERO, kx), OFFICIAL_EPS
    along_x = np.repeat((np.power(kx / FREQ_UNIT, ab[..., 0, None]) + eps).astype(np.float32), 2, axis=-1)
    along_y = (np.power(ky / FREQ_UNIT, ab[..., 1, None]) + eps).astype(np.float32)
    device = exponent_keys.device
    along_x = torch.from_numpy(along_x).to(device)[..., None, :]
    along_y = torch.from_numpy(along_y).to(device)[..., :, None]
    return torch.add(along_y, along_x).view(len(ab), 3, size, -1, 2)


def _natural_gain(exponent_keys: Tensor, size: int, law: NaturalLaw) -> Tensor:
    """Per image and channel |k|^(-alpha/2), alpha ~ N(mean, cov) clipped to NATURAL_ALPHA_CLIP: (B, 3, size, W, 2)."""
    normals = gaussians(exponent_keys, 3).real.double().cpu().numpy()
    alpha = np.clip(np.asarray(law.mean) + normals @ np.asarray(law.alpha_factor).T, *NATURAL_ALPHA_CLIP)
    ky, kx = _wavenumbers(size)
    radius = np.hypot(ky[:, None], kx[None, :]) / FREQ_UNIT
    radius[0, 0] = 1.0
    gain = np.exp(-0.5 * alpha[:, :, None, None] * np.log(radius)).astype(np.float32)
    return torch.from_numpy(np.repeat(gain[..., None], 2, axis=-1)).to(exponent_keys.device)


def _mix_channels(spectrum: Tensor, factor: tuple) -> Tensor:
    """Channel c of the result = sum_j factor[c][j] * channel j (lower-triangular factor), (B, 3, ...)."""
    channels = [spectrum[:, c] for c in range(3)]
    mixed = []
    for c in range(3):
        total = channels[0] * factor[c][0]
        for j in range(1, c + 1):
            total = total + channels[j] * factor[c][j]
        mixed.append(total)
    return torch.stack(mixed, dim=1)


def _irfft2(spectrum: Tensor, size: int) -> Tensor:
    """Real inverse 2-D FFT over the last two axes: scipy.fft on CPU, torch.fft elsewhere."""
    if spectrum.device.type != "cpu":
        return torch.fft.irfft2(spectrum, s=(size, size))
    field = scipy.fft.irfft2(spectrum.numpy(), s=(size, size), workers=torch.get_num_threads(), overwrite_x=True)
    return torch.from_numpy(field)


def _noise_fields(keys: Tensor, exponent_keys: Tensor, size: int, config: SynthConfig, out: Tensor) -> None:
    """PS-noise fields for the given keys into ``out`` (B, 3, size, size), each channel min-max
    normalised to 0..255."""
    width = size // 2 + 1
    spectrum = torch.view_as_real(gaussians(keys, 3 * size * width).view(-1, 3, size, width))
    if config.alpha_law == "natural":
        spectrum = _mix_channels(spectrum, config.natural.channel_factor)
        spectrum.mul_(_natural_gain(exponent_keys, size, config.natural))
    else:
        spectrum.div_(_published_denominator(exponent_keys, size, config))
    if config.zero_frequency == "none":
        spectrum[..., 0, 0, :] = 0.0             # no DC (a per-channel min-max removes the mean anyway)
    # irfft2 keeps only the Hermitian part of the kx = 0 (and Nyquist) columns, halving the power of
    # independent random coefficients there; sqrt(2) restores the power of real white noise.
    spectrum[..., 0, :].mul_(np.sqrt(2.0))
    if size % 2 == 0:
        spectrum[..., -1, :].mul_(np.sqrt(2.0))
    field = _irfft2(torch.view_as_complex(spectrum), size).to(out.device)
    axes = (1, 2, 3) if config.normalisation == "global" else (2, 3)
    low = field.amin(dim=axes, keepdim=True)
    high = field.amax(dim=axes, keepdim=True)
    torch.sub(field, low, out=out).mul_(255.0 / (high - low).clamp_min(1e-30))


def ps_noise(seed: int, indices: np.ndarray, stream: int, size: int, config: SynthConfig, device) -> Tensor:
    """PS-noise fields (B, 3, size, size) float32 of one stream, each channel min-max normalised to 0..255.

    Made NOISE_PIXELS at a time: the spectra and FFTs of a few images stay in cache, which is
    2-3x faster than one large batch.
    """
    keys = image_keys(seed, indices, stream, device)
    exponent_keys = image_keys(seed, indices, stream + AUX, device)
    out = torch.empty(len(indices), 3, size, size, device=device)
    step = max(1, NOISE_PIXELS // (size * size))
    for low in range(0, len(indices), step):
        part = slice(low, low + step)
        _noise_fields(keys[part], exponent_keys[part], size, config, out[part])
    return out

