"""Primitives-PS and its ablation variants: batched, index-addressable, deterministic synthetic images.

``generate(n, variant=..., resolution=..., seed=..., start=...)`` returns uint8 images
(n, resolution, resolution, 3). Image ``start + i`` depends only on (variant, options, seed,
start + i): not on ``n``, ``start``, ``batch_size`` or the torch thread count.

Variants (the paper's ablations; each adds one property to the previous ones):

============== ===================== ====================== =========================
variant        background            100 shapes             salient object
============== ===================== ====================== =========================
ps-noise       PS noise              no                     no
primitives     flat random colour    yes                    no
primitives-s   flat random colour    yes                    yes, flat random colour
primitives-ps  PS noise              yes                    yes, PS-noise texture
============== ===================== ====================== =========================

Options (keywords of ``generate``; they override the variant's defaults above):

- ``n_shapes`` (int >= 0, default 100, 0 for ps-noise): shapes drawn coarse to fine; the size
  limit of shape k shrinks linearly from 1/5 of the width (first) to 1/100 (last).
- ``shape_kinds`` (subset of ``SHAPE_KINDS``, default all): the kinds drawn, with the published
  relative weights line 1 : circle 2 : ellipse 2 : rectangle 2.
- ``alpha_law`` ("published" | "natural", default "published"): the PS-noise spectrum.
  "published": per channel independently ``1 / (|fx|^a + |fy|^b)`` with a, b ~ U[alpha_range]
  (amplitude exponents: the power falls as f^-2a along x, f^-2b along y), channels uncorrelated.
  "natural": isotropic ``|f|^(-alpha/2)`` (power slope alpha), the three alphas drawn from a
  normal with the photos' per-channel mean and covariance, and the channels mixed to the
  photos' mean channel correlation (white noise mixed with its Cholesky factor before filtering;
  channels with different alphas end up slightly less correlated than that).
- ``alpha_range`` ((low, high), default (0.5, 3.5)): the published law's uniform range.
- ``stats`` (dict or path to JSON, default figures/natural_stats.json): photo statistics for the
  natural law, with "alpha_channels" {"mean", "cov"} and "channel_correlation".
- ``saliency`` (bool): draw the salient object (one large circle, ellipse or rectangle, centre
  within +-10% of the middle, radius 1/4..3/8 of the width; ~31% of the image on average).
- ``shape_texture`` ("solid" | "ps-noise"): fill of the salient object: a flat random colour or a
  fresh PS-noise texture.
- ``antialias`` (bool, default True): one-pixel coverage ramps on every edge; False gives hard,
  aliased edges (for the ablation).

Every noise field is min-max normalised to 0..255 per channel, as in the published code.
Frequencies are measured in cycles per image over 51.2 (the published ``fftfreq(256, d=0.2)`` unit
at 256 px), and geometry in fractions of the width, so 32 px and 256 px images are the same
distribution at two scales (for shapes even the same picture: a 128 px image averaged over 4x4
blocks is its 32 px version to within a few levels). Shapes: see ``shape_table``; lines join two
uniform points (any orientation; the size limit sets their thickness). The salient object's
texture is a fresh field anchored near the object (``texture_side``). Edges are anti-aliased with
a one-pixel coverage ramp and sub-pixel shapes keep about their area (see primitives.py).

Randomness is counter-based: a 64-bit key per (seed, image index, stream) from a splitmix64 chain,
and every random number is splitmix64(key + counter * golden), computed vectorised over the batch
in int64 torch ops. Gaussian spectra use a 65536-entry table of a quantised complex normal
(256 Rayleigh radii x 256 phases) indexed by 16 random bits, so one 64-bit hash feeds four Fourier
coefficients. Per-image parameters that need transcendental functions are computed in float64
numpy (whose SIMD loops do not depend on an element's position) and rounded to float32; per-pixel
work uses only exact IEEE operations and correctly rounded square roots (see primitives.py). The
inverse FFT runs in scipy.fft on CPU (bit-identical for any batch split and worker count; torch's
MKL FFT differs between 1 and 2 threads) and in torch.fft elsewhere; results on other devices may
differ in rare roundings.

Two rasterisers draw the same bits (``paint``): on CPU a compiled kernel that draws each image's
shapes pixel by pixel (fused_raster.py, numba), elsewhere the torch tile rasteriser (primitives.py),
vectorised over the batch for GPUs.

Speed: images are made in chunks (``batch_size``, default a fixed pixel budget, so memory stays
bounded for any n); on CPU the chunks run in a pool of ``torch.get_num_threads()`` single-threaded
workers. benchmarks/synth_speed.py compares with a per-image numpy + OpenCV reference.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft
import torch
from torch import Tensor
from tqdm.auto import tqdm

from primps_core import fused_raster, primitives
from primps_core.datasets import ImageWriter
from primps_core.paths import FIGURES_DIR

VARIANTS = ("ps-noise", "primitives", "primitives-s", "primitives-ps")
SHAPE_KINDS = ("line", "circle", "ellipse", "rectangle")
PUBLISHED_KIND_WEIGHTS = (1 / 7, 2 / 7, 2 / 7, 2 / 7)
ALPHA_LAWS = ("published", "natural")
TEXTURES = ("solid", "ps-noise")
FIRST_LIMIT, LAST_LIMIT = 1 / 5, 1 / 100
SALIENT_JITTER = 0.1
SALIENT_RADII = (1 / 4, 3 / 8)
FREQ_UNIT = 51.2
NATURAL_ALPHA_CLIP = (0.0, 7.0)
PIXELS_PER_CHUNK = 1 << 21
MAX_CHUNK = 1024
BLOCK_PIXELS = 1 << 21
NOISE_PIXELS = 1 << 18
TEXTURE_ALIGN = 4         # pixels: the texture's anchor (a multiple of it) and side
MIN_RESOLUTION = 8

_VARIANT_DEFAULTS = {
    "ps-noise": dict(background="ps-noise", n_shapes=0, saliency=False, shape_texture="ps-noise"),
    "primitives": dict(background="flat", n_shapes=100, saliency=False, shape_texture="solid"),
    "primitives-s": dict(background="flat", n_shapes=100, saliency=True, shape_texture="solid"),
    "primitives-ps": dict(background="ps-noise", n_shapes=100, saliency=True, shape_texture="ps-noise"),
}
OPTION_NAMES = ("n_shapes", "shape_kinds", "alpha_law", "alpha_range", "stats", "saliency",
                "shape_texture", "antialias")

# Random streams: each gets its own key per (seed, image), so adding one never shifts another.
_SHAPES, _BACKGROUND_COLOUR, _BACKGROUND_NOISE, _SALIENT, _TEXTURE_NOISE = 1, 2, 3, 4, 5
_AUX = 100                # offset of a stream's second set of draws (spectral exponents, directions)

_GOLDEN = 0x9E3779B97F4A7C15
_MIX = ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None))


def _signed(value: int) -> int:
    """A 64-bit pattern as the int64 torch stores it."""
    return value - (1 << 64) if value >= 1 << 63 else value


# ----------------------------------------------------------------------------------------------
# Configuration and validation
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NaturalLaw:
    """Photo statistics for alpha_law="natural": alpha mean (3,), Cholesky factors of the alpha
    covariance and of the channel correlation (3, 3), all float64."""

    mean: tuple
    alpha_factor: tuple
    channel_factor: tuple


@dataclass(frozen=True)
class SynthConfig:
    """Everything an image depends on besides (seed, index)."""

    variant: str
    resolution: int
    background: str
    n_shapes: int
    kind_weights: tuple
    alpha_law: str
    alpha_range: tuple
    natural: NaturalLaw | None
    saliency: bool
    shape_texture: str
    antialias: bool


def _check_int(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    return int(value)


def _check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _kind_weights(kinds) -> tuple:
    """Published weights restricted to ``kinds`` and renormalised, in SHAPE_KINDS order."""
    if isinstance(kinds, str) or not hasattr(kinds, "__iter__"):
        raise TypeError(f"shape_kinds must be a collection of kind names, got {kinds!r}")
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in SHAPE_KINDS]
    if unknown or not kinds:
        raise ValueError(f"shape_kinds must be a non-empty subset of {SHAPE_KINDS}, got {kinds!r}")
    weights = np.array([w if k in kinds else 0.0 for k, w in zip(SHAPE_KINDS, PUBLISHED_KIND_WEIGHTS)])
    return tuple(weights / weights.sum())


def _alpha_range(value) -> tuple:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"alpha_range must be a pair (low, high) of numbers, got {value!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high <= 8):
        raise ValueError(f"alpha_range must satisfy 0 < low <= high <= 8, got {value!r}")
    return low, high


def _natural_law(stats) -> NaturalLaw:
    """Load and check the photo statistics; factor the covariance and the correlation."""
    if stats is None:
        stats = FIGURES_DIR / "natural_stats.json"
    if isinstance(stats, (str, Path)):
        try:
            stats = json.loads(Path(stats).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"stats: cannot read photo statistics from {stats}: {error}") from None
    if not isinstance(stats, dict):
        raise TypeError(f"stats must be a dict or a path to a JSON file, got {type(stats).__name__}")
    try:
        mean = np.asarray(stats["alpha_channels"]["mean"], dtype=np.float64)
        cov = np.asarray(stats["alpha_channels"]["cov"], dtype=np.float64)
        corr = np.asarray(stats["channel_correlation"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise ValueError("stats must hold 'alpha_channels': {'mean': [3], 'cov': [3x3]} and "
                         "'channel_correlation': [3x3]") from None
    if mean.shape != (3,) or cov.shape != (3, 3) or corr.shape != (3, 3):
        raise ValueError(f"stats: expected alpha mean (3,), cov (3, 3), correlation (3, 3); got "
                         f"{mean.shape}, {cov.shape}, {corr.shape}")
    try:
        alpha_factor, channel_factor = np.linalg.cholesky(cov), np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        raise ValueError("stats: the alpha covariance and the channel correlation must be positive definite") from None
    if not np.allclose(np.diag(corr), 1.0):
        raise ValueError(f"stats: channel_correlation must have a unit diagonal, got {np.diag(corr)}")
    return NaturalLaw(tuple(mean), tuple(map(tuple, alpha_factor)), tuple(map(tuple, channel_factor)))


def make_config(variant: str = "primitives-ps", resolution: int = 64, **options) -> SynthConfig:
    """Validate ``variant``, ``resolution`` and the options; fill in the variant's defaults."""
    _check_choice(variant, "variant", VARIANTS)
    resolution = _check_int(resolution, "resolution", MIN_RESOLUTION, 4096)
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"unknown option {unknown[0]!r}; expected one of {', '.join(OPTION_NAMES)}")
    defaults = _VARIANT_DEFAULTS[variant]
    alpha_law = _check_choice(options.get("alpha_law", "published"), "alpha_law", ALPHA_LAWS)
    if alpha_law == "published" and "stats" in options:
        raise ValueError("stats is only used with alpha_law='natural'")
    if alpha_law == "natural" and "alpha_range" in options:
        raise ValueError("alpha_range is only used with alpha_law='published'")
    return SynthConfig(
        variant=variant,
        resolution=resolution,
        background=defaults["background"],
        n_shapes=_check_int(options.get("n_shapes", defaults["n_shapes"]), "n_shapes", 0, 10_000),
        kind_weights=_kind_weights(options.get("shape_kinds", SHAPE_KINDS)),
        alpha_law=alpha_law,
        alpha_range=_alpha_range(options.get("alpha_range", (0.5, 3.5))),
        natural=_natural_law(options.get("stats")) if alpha_law == "natural" else None,
        saliency=_check_bool(options.get("saliency", defaults["saliency"]), "saliency"),
        shape_texture=_check_choice(options.get("shape_texture", defaults["shape_texture"]),
                                    "shape_texture", TEXTURES),
        antialias=_check_bool(options.get("antialias", True), "antialias"),
    )


# ----------------------------------------------------------------------------------------------
# Counter-based randomness
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# Power-spectrum noise
# ----------------------------------------------------------------------------------------------

def _wavenumbers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """|ky| (size,) and |kx| (size // 2 + 1,) in cycles per image, in rfft2 layout."""
    return np.abs(np.fft.fftfreq(size, d=1.0 / size)), np.fft.rfftfreq(size, d=1.0 / size)


def _published_denominator(exponent_keys: Tensor, size: int, alpha_range: tuple) -> Tensor:
    """Per image and channel (|kx|/K)^a + (|ky|/K)^b, a, b ~ U[alpha_range]: (B, 3, size, W, 2).

    The last axis repeats the value for the real and imaginary parts, so that it divides the
    spectrum's real view in one contiguous elementwise pass.
    """
    low, high = alpha_range
    ab = (low + (high - low) * uniforms(exponent_keys, 6)).cpu().numpy().reshape(-1, 3, 2)
    ky, kx = _wavenumbers(size)
    along_x = np.repeat(np.power(kx / FREQ_UNIT, ab[..., 0, None]).astype(np.float32), 2, axis=-1)
    along_y = np.power(ky / FREQ_UNIT, ab[..., 1, None]).astype(np.float32)
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
        spectrum.div_(_published_denominator(exponent_keys, size, config.alpha_range))
    spectrum[..., 0, 0, :] = 0.0                 # no DC (min-max normalisation removes the mean anyway)
    # irfft2 keeps only the Hermitian part of the kx = 0 (and Nyquist) columns, halving the power of
    # independent random coefficients there; sqrt(2) restores the power of real white noise.
    spectrum[..., 0, :].mul_(np.sqrt(2.0))
    if size % 2 == 0:
        spectrum[..., -1, :].mul_(np.sqrt(2.0))
    field = _irfft2(torch.view_as_complex(spectrum), size).to(out.device)
    low = field.amin(dim=(2, 3), keepdim=True)
    high = field.amax(dim=(2, 3), keepdim=True)
    torch.sub(field, low, out=out).mul_(255.0 / (high - low).clamp_min(1e-30))


def ps_noise(seed: int, indices: np.ndarray, stream: int, size: int, config: SynthConfig, device) -> Tensor:
    """PS-noise fields (B, 3, size, size) float32 of one stream, each channel min-max normalised to 0..255.

    Made NOISE_PIXELS at a time: the spectra and FFTs of a few images stay in cache, which is
    2-3x faster than one large batch.
    """
    keys = image_keys(seed, indices, stream, device)
    exponent_keys = image_keys(seed, indices, stream + _AUX, device)
    out = torch.empty(len(indices), 3, size, size, device=device)
    step = max(1, NOISE_PIXELS // (size * size))
    for low in range(0, len(indices), step):
        part = slice(low, low + step)
        _noise_fields(keys[part], exponent_keys[part], size, config, out[part])
    return out


# ----------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------

def size_limits(n_shapes: int) -> np.ndarray:
    """Size limit of each shape as a fraction of the width: 1/5 (first) to 1/100 (last), linear."""
    if n_shapes == 1:
        return np.array([FIRST_LIMIT])
    return np.linspace(FIRST_LIMIT, LAST_LIMIT, n_shapes)


def _unit_direction(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(cos, sin) of a uniform angle: two independent normals divided by their norm."""
    norm = primitives.sqrt(x * x + y * y).clamp_min(1e-12)
    return x / norm, y / norm


@dataclass
class ShapeTable:
    """Every shape of a chunk, one column per (image b, shape k) at b * n_shapes + k.

    Coefficients for all three families are computed for every row (cheap, vectorised once) and
    each row is drawn with its own family's.
    """

    count: int                # shapes per image
    family: np.ndarray        # (rows,) primitives.LINE, ROUND (circle / ellipse) or RECTANGLE
    colour: Tensor            # (rows, 3)
    round: Tensor             # (15, rows) ellipse_coefficients (11) then the support box (4)
    segment: Tensor           # (5, rows) line end points (y0, x0, y1, x1) and half-thickness
    box: Tensor               # (8, rows) box_coefficients of the line
    rectangle: Tensor         # (4, rows) rectangle_coefficients


_FAMILY_OF_KIND = np.array([primitives.LINE, primitives.ROUND, primitives.ROUND, primitives.RECTANGLE])  # SHAPE_KINDS


def shape_table(seed: int, indices: np.ndarray, config: SynthConfig, device) -> ShapeTable:
    """Draw every shape of every image: kind, colour and geometry in pixels at the resolution.

    With L the size limit of the shape (``size_limits`` times the width): circles have radius
    U(0, L); ellipses semi-axes U(0, L) each and a uniform orientation; axis-aligned rectangles
    sides U(0, L) each; all with uniform centres. Lines join two uniform points with thickness
    U(0, L). Colours are uniform integers 0..255. Computed in float32 with exact operations only,
    on contiguous columns (9, rows) of uniforms.
    """
    count, size = config.n_shapes, config.resolution
    u = uniforms(image_keys(seed, indices, _SHAPES, device), 9 * count, torch.float32)
    u = u.view(-1, 9).T.contiguous()
    normals = gaussians(image_keys(seed, indices, _SHAPES + _AUX, device), 2 * count).real
    cos_t, sin_t = _unit_direction(*normals.view(-1, 2).T.contiguous())
    bounds = np.cumsum(config.kind_weights)[:-1].astype(np.float32)
    kind = sum((u[0] >= float(b)).long() for b in bounds)
    limit = torch.from_numpy(size_limits(count).astype(np.float32) * size).to(device).repeat(len(indices))
    centre_y, centre_x, end_y, end_x = u[4] * size, u[5] * size, u[6] * size, u[7] * size
    semi_a = u[6] * limit
    semi_b = torch.where(kind == 1, semi_a, u[7] * limit)
    ey, ex = primitives.ellipse_extent(semi_a, semi_b, cos_t, sin_t)
    dy, dx = end_y - centre_y, end_x - centre_x
    length = primitives.sqrt(dy * dy + dx * dx)
    safe = length.clamp_min(1e-12)
    half_thickness = u[8] * limit * 0.5
    is_rect = kind == 3
    support = primitives.support(centre_y, centre_x, torch.where(is_rect, semi_a * 0.5, ey),
                                 torch.where(is_rect, semi_b * 0.5, ex))
    return ShapeTable(
        count=count,
        family=_FAMILY_OF_KIND[kind.cpu().numpy()],
        colour=torch.floor(u[1:4] * 256).T.contiguous(),
        round=torch.cat([primitives.ellipse_coefficients(centre_y, centre_x, semi_a, semi_b, cos_t, sin_t),
                         support]),
        segment=torch.stack([centre_y, centre_x, end_y, end_x, half_thickness]),
        box=primitives.box_coefficients((centre_y + end_y) * 0.5, (centre_x + end_x) * 0.5, length * 0.5,
                                        half_thickness, torch.where(length > 0, dx / safe, 1.0), dy / safe),
        rectangle=primitives.rectangle_coefficients(centre_y, centre_x, semi_a * 0.5, semi_b * 0.5),
    )


def _per_tile(table: Tensor, rows: Tensor) -> Tensor:
    """Columns ``rows`` of a (F, shapes) table: (F, N), the layout the coverage functions take."""
    return table.index_select(1, rows)


def _family_layer(canvas: primitives.TileCanvas, table: ShapeTable, rows: Tensor, family: int,
                  antialias: bool) -> tuple[primitives.Layer, Tensor]:
    """Footprints, coverage and paint of the shapes ``rows`` (one family); also the owner of each tile."""
    image = torch.div(rows, table.count, rounding_mode="floor")
    if family == primitives.LINE:
        segment = table.segment.index_select(1, rows)
        tiles = primitives.band_tiles(canvas, image, segment[0:2].T, segment[2:4].T, segment[4])
        per_tile = rows.index_select(0, tiles.owner)
        cover = primitives.box_coverage(tiles, _per_tile(table.box, per_tile), antialias)
    else:
        tiles = primitives.box_tiles(canvas, image, *table.round[11:].index_select(1, rows))
        per_tile = rows.index_select(0, tiles.owner)
        if family == primitives.ROUND:
            cover = primitives.ellipse_coverage(tiles, _per_tile(table.round, per_tile), antialias)
        else:
            cover = primitives.rectangle_coverage(tiles, _per_tile(table.rectangle, per_tile), antialias)
    return primitives.Layer.paint_over(tiles, cover, table.colour.index_select(0, per_tile)), tiles.owner


def _level_blocks(n_shapes: int, batch: int, size: int):
    """Consecutive ranges of levels whose layers are built together: about BLOCK_PIXELS tile pixels,
    taking a level's footprints as ~10% of the images. Bounds memory; never changes the result."""
    per_block = max(1, round(BLOCK_PIXELS / (batch * size * size * 0.1)))
    for start in range(0, n_shapes, per_block):
        yield start, min(n_shapes, start + per_block)


def draw_shapes(canvas: primitives.TileCanvas, table: ShapeTable, config: SynthConfig) -> None:
    """Paint all shapes coarse to fine.

    Coverage does not depend on what is already painted, so the layers of a block of levels are
    computed in one batched pass per family; compositing then goes level by level (each level
    holds one shape per image, so its tiles never repeat).
    """
    level = np.tile(np.arange(table.count), canvas.batch)
    device = canvas.tiles.device
    for first, stop in _level_blocks(table.count, canvas.batch, config.resolution):
        parts = []
        for family in (primitives.LINE, primitives.ROUND, primitives.RECTANGLE):
            rows = np.flatnonzero((table.family == family) & (level >= first) & (level < stop))
            if len(rows):
                rows = rows[np.argsort(level[rows], kind="stable")]
                layer, owner = _family_layer(canvas, table, torch.from_numpy(rows).to(device), family,
                                             config.antialias)
                tile_level = level[rows][owner.cpu().numpy()]          # ascending: rows are sorted
                parts.append((layer, np.searchsorted(tile_level, np.arange(first, stop + 1))))
        for k in range(stop - first):
            for layer, bounds in parts:
                if bounds[k + 1] > bounds[k]:
                    primitives.composite(canvas, layer.part(bounds[k], bounds[k + 1]))


# ----------------------------------------------------------------------------------------------
# Salient object
# ----------------------------------------------------------------------------------------------

@dataclass
class Salient:
    """The salient object of each image: family (primitives.ROUND or RECTANGLE), colour and coefficients."""

    family: np.ndarray        # (B,)
    colour: Tensor            # (B, 3)
    support: Tensor           # (4, B) primitives.support box
    ellipse: Tensor           # (11, B) primitives.ellipse_coefficients
    rectangle: Tensor         # (4, B)


def salient_objects(seed: int, indices: np.ndarray, size: int, device) -> Salient:
    """One large circle, ellipse or rectangle (1/3 each) per image, centred within +-10% of the middle.

    Radii ~ U[1/4, 3/8] of the width; a rectangle has half-sides r1 sqrt(pi)/2, r2 sqrt(pi)/2, the
    area of the ellipse with radii r1, r2 (so all three cover ~31% of the image on average).
    """
    u = uniforms(image_keys(seed, indices, _SALIENT, device), 8, torch.float32)
    normals = gaussians(image_keys(seed, indices, _SALIENT + _AUX, device), 2).real
    cos_t, sin_t = _unit_direction(normals[:, 0], normals[:, 1])
    kind = torch.floor(u[:, 0] * 3).long()                  # 0 circle, 1 ellipse, 2 rectangle
    cy, cx = ((0.5 + SALIENT_JITTER * (2 * u[:, i] - 1)) * size for i in (1, 2))
    low, high = SALIENT_RADII
    r1 = (low + (high - low) * u[:, 3]) * size
    r2 = torch.where(kind == 0, r1, (low + (high - low) * u[:, 4]) * size)
    half_h, half_w = r1 * float(np.sqrt(np.pi) / 2), r2 * float(np.sqrt(np.pi) / 2)
    ey, ex = primitives.ellipse_extent(r1, r2, cos_t, sin_t)
    is_rect = kind == 2
    return Salient(
        family=np.where(is_rect.cpu().numpy(), primitives.RECTANGLE, primitives.ROUND),
        colour=torch.floor(u[:, 5:8] * 256),
        support=primitives.support(cy, cx, torch.where(is_rect, half_h, ey), torch.where(is_rect, half_w, ex)),
        ellipse=primitives.ellipse_coefficients(cy, cx, r1, r2, cos_t, sin_t),
        rectangle=primitives.rectangle_coefficients(cy, cx, half_h, half_w),
    )


def texture_side(size: int) -> int:
    """Side of the salient object's texture field at resolution ``size``.

    The texture is anchored at the support's top-left corner rounded down to a multiple of
    TEXTURE_ALIGN pixels and must hold the support from there; its side is the first such multiple
    with only factors 2, 3, 5 (fast FFT lengths). The field is periodic and read with wrap-around,
    so tiles that start before the anchor or end past the field (where the coverage is 0) need no
    extra margin: 32 px at 32 px, 200 px at 256 px.
    """
    reach = SALIENT_RADII[1] * size + primitives.MARGIN
    side = int(np.ceil(2 * reach)) + TEXTURE_ALIGN
    while side % TEXTURE_ALIGN or scipy.fft.next_fast_len(side, real=True) != side:
        side += 1
    return side


def salient_groups(canvas: primitives.TileCanvas, salient: Salient, antialias: bool):
    """Yield (tiles, coverage (T, T, N), image of each tile) for the round and the rectangular objects."""
    device = canvas.tiles.device
    for family in (primitives.ROUND, primitives.RECTANGLE):
        rows = torch.from_numpy(np.flatnonzero(salient.family == family)).to(device)
        if not len(rows):
            continue
        tiles = primitives.box_tiles(canvas, rows, *salient.support.index_select(1, rows))
        per_tile = rows.index_select(0, tiles.owner)
        if family == primitives.ROUND:
            coefficients = torch.cat([_per_tile(salient.ellipse, per_tile), _per_tile(salient.support, per_tile)])
            coverage = primitives.ellipse_coverage(tiles, coefficients, antialias)
        else:
            coverage = primitives.rectangle_coverage(tiles, _per_tile(salient.rectangle, per_tile), antialias)
        yield tiles, coverage, per_tile


def _texture_tiles(texture: Tensor, salient: Salient, tiles: primitives.TileList, per_tile: Tensor) -> Tensor:
    """The texture (B, 3, R, R), anchored at each support's top-left corner rounded down to a multiple
    of TEXTURE_ALIGN pixels, cut to the listed tiles (N, 3, T, T)."""
    top, _, left, _ = salient.support.index_select(1, per_tile)
    return primitives.cut_tiles(texture, per_tile, (tiles.y0 - _aligned(top)).long(),
                                (tiles.x0 - _aligned(left)).long(), tiles.tile)


def _aligned(pixel: Tensor) -> Tensor:
    """``pixel`` rounded down to a multiple of TEXTURE_ALIGN."""
    return torch.div(pixel, TEXTURE_ALIGN, rounding_mode="floor") * TEXTURE_ALIGN


def draw_salient(canvas: primitives.TileCanvas, seed: int, indices: np.ndarray, config: SynthConfig, device) -> None:
    """Paint the salient object over everything: a flat colour or a fresh PS-noise texture."""
    salient = salient_objects(seed, indices, config.resolution, device)
    texture = None
    if config.shape_texture == "ps-noise":
        texture = ps_noise(seed, indices, _TEXTURE_NOISE, texture_side(config.resolution), config, device)
    for tiles, coverage, per_tile in salient_groups(canvas, salient, config.antialias):
        paint = (salient.colour.index_select(0, per_tile) if texture is None
                 else _texture_tiles(texture, salient, tiles, per_tile))
        primitives.composite(canvas, primitives.Layer.paint_over(tiles, coverage, paint))


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------

def tile_size(resolution: int) -> int:
    """Tile side of the canvas (a multiple of TEXTURE_ALIGN): large enough for fast tile copies, small enough
    to follow small shapes. It changes speed only, never the images."""
    return 8 if resolution >= 64 else 4


def default_batch_size(resolution: int) -> int:
    """Images per internal chunk: a fixed pixel budget (bounding memory for any n), at most
    MAX_CHUNK images (beyond which small images gain nothing and the canvas leaves the caches)."""
    return max(1, min(MAX_CHUNK, PIXELS_PER_CHUNK // (resolution * resolution)))


RASTERISERS = ("fused", "tiles")


def render(config: SynthConfig, seed: int, indices: np.ndarray, device, rasteriser: str | None = None) -> Tensor:
    """Images ``indices`` (one chunk) as uint8 (B, S, S, 3) on ``device``."""
    images = paint(config, seed, indices, device, rasteriser)
    return images.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def paint(config: SynthConfig, seed: int, indices: np.ndarray, device, rasteriser: str | None = None) -> Tensor:
    """Images ``indices`` before quantisation: float32 (B, 3, S, S), values in 0..255.

    ``rasteriser``: "fused" (fused_raster.py, compiled, CPU only) or "tiles" (primitives.py, torch
    on any device); by default fused on CPU. Both give the same bits.
    """
    size = config.resolution
    device = torch.device(device)
    rasteriser = rasteriser or ("fused" if device.type == "cpu" else "tiles")
    _check_choice(rasteriser, "rasteriser", RASTERISERS)
    if rasteriser == "fused" and device.type != "cpu":
        raise ValueError(f"the fused rasteriser runs on CPU only, not on {device}; use rasteriser='tiles'")
    if config.background == "ps-noise":
        background = ps_noise(seed, indices, _BACKGROUND_NOISE, size, config, device)
    else:
        colour = torch.floor(uniforms(image_keys(seed, indices, _BACKGROUND_COLOUR, device), 3) * 256).clamp_(max=255)
        background = colour.float()[:, :, None, None].expand(-1, -1, size, size)
    if rasteriser == "fused":
        images = background.contiguous()
        draw_fused(images, seed, indices, config)
        return images
    canvas = primitives.TileCanvas.from_images(background, tile_size(size))
    if config.n_shapes:
        draw_shapes(canvas, shape_table(seed, indices, config, device), config)
    if config.saliency:
        draw_salient(canvas, seed, indices, config, device)
    return canvas.to_images()


def draw_fused(images: Tensor, seed: int, indices: np.ndarray, config: SynthConfig) -> None:
    """Draw the shapes and the salient object of ``images`` (B, 3, S, S) float32 on CPU, in place,
    with fused_raster.paint_images: the same shapes, order and arithmetic as the tile rasteriser."""
    shapes = _fused_shapes(seed, indices, config)
    salient = _fused_salient(seed, indices, config)
    fused_raster.paint_images(images.numpy(), config.n_shapes, *(t.numpy() for t in shapes + salient),
                              config.antialias)


def _fused_shapes(seed: int, indices: np.ndarray, config: SynthConfig) -> list[Tensor]:
    """paint_images' shape arguments: family, colour, and the round, box and rectangle coefficients
    one row per shape (empty without shapes)."""
    if not config.n_shapes:
        return [torch.zeros(0, dtype=torch.int64)] + [torch.zeros(0, width) for width in (3, 15, 8, 4)]
    table = shape_table(seed, indices, config, "cpu")
    return [torch.from_numpy(table.family.astype(np.int64)), table.colour,
            *(t.T.contiguous() for t in (table.round, table.box, table.rectangle))]


def _fused_salient(seed: int, indices: np.ndarray, config: SynthConfig) -> list[Tensor]:
    """paint_images' salient-object arguments: family, colour, round (ellipse + support) and
    rectangle coefficients one row per image, the texture (B, 3, R, R; R = 0 for a flat colour)
    and its anchor (empty without saliency)."""
    flat = torch.zeros(len(indices), 3, 0, 0)
    if not config.saliency:
        return [torch.zeros(0, dtype=torch.int64), torch.zeros(0, 3), torch.zeros(0, 15), torch.zeros(0, 4), flat,
                torch.zeros(0, 2, dtype=torch.int64)]
    objects = salient_objects(seed, indices, config.resolution, "cpu")
    texture = flat
    if config.shape_texture == "ps-noise":
        texture = ps_noise(seed, indices, _TEXTURE_NOISE, texture_side(config.resolution), config, "cpu")
    top, _, left, _ = objects.support
    return [torch.from_numpy(objects.family.astype(np.int64)), objects.colour.contiguous(),
            torch.cat([objects.ellipse, objects.support]).T.contiguous(), objects.rectangle.T.contiguous(),
            texture, torch.stack([_aligned(top), _aligned(left)], 1).long()]


def _chunks(n: int, start: int, batch_size: int) -> list[tuple[int, np.ndarray]]:
    """(offset in the output, image indices) of each chunk."""
    return [(low, np.arange(start + low, start + min(n, low + batch_size), dtype=np.int64))
            for low in range(0, n, batch_size)]


def _check_common(n, seed, start, batch_size) -> tuple[int, int, int, int | None]:
    n = _check_int(n, "n", 1)
    seed = _check_int(seed, "seed", 0, (1 << 63) - 1)
    start = _check_int(start, "start", 0, (1 << 62))
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", 1)
    return n, seed, start, batch_size


def _map_chunks(work, chunks: list, device: torch.device):
    """Apply ``work`` to each chunk, in order; on CPU, chunks run in parallel, one per torch thread.

    Each worker runs its chunk single-threaded: whole chunks in parallel scale better than
    intra-op threads on the many small ops of the rasteriser (measured 1.2-1.6x on 2 cores).
    Chunks are independent, so this never changes the images. Workers set their own (per-thread)
    OpenMP count; the process-wide thread pool size they touch is restored afterwards.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1 or len(chunks) == 1:
        with torch.inference_mode():
            yield from (work(chunk) for chunk in chunks)
        return

    def single_threaded(chunk):
        torch.set_num_threads(1)
        with torch.inference_mode():
            return work(chunk)

    try:
        with ThreadPoolExecutor(threads) as pool:
            yield from pool.map(single_threaded, chunks)
    finally:
        torch.set_num_threads(threads)


def _plan(n: int, start: int, batch_size: int | None, resolution: int, device: torch.device) -> list:
    """Chunks of at most ``batch_size`` images, and at least one per CPU worker."""
    size = batch_size or default_batch_size(resolution)
    if device.type == "cpu":
        size = min(size, -(-n // torch.get_num_threads()))
    return _chunks(n, start, max(1, size))


def generate(n: int, *, variant: str = "primitives-ps", resolution: int = 64, seed: int = 0, start: int = 0,
             device="cpu", batch_size: int | None = None, rasteriser: str | None = None, **options) -> np.ndarray:
    """Images ``start .. start + n - 1`` of the (variant, options, seed) stream: uint8 (n, S, S, 3).

    ``batch_size`` (images per internal chunk, default from a fixed pixel budget) and
    ``rasteriser`` ("fused" or "tiles", see ``paint``) change speed and memory only, never the
    images. ``options`` are described in the module docstring.
    """
    config = make_config(variant, resolution, **options)
    n, seed, start, batch_size = _check_common(n, seed, start, batch_size)
    device = torch.device(device)
    out = np.empty((n, config.resolution, config.resolution, 3), dtype=np.uint8)
    chunks = _plan(n, start, batch_size, config.resolution, device)
    for (low, indices), images in zip(chunks, _map_chunks(
            lambda chunk: render(config, seed, chunk[1], device, rasteriser).cpu().numpy(), chunks, device)):
        out[low:low + len(indices)] = images
    return out


def salient_coverage(n: int, *, variant: str = "primitives-ps", resolution: int = 64, seed: int = 0,
                     start: int = 0, device="cpu", batch_size: int | None = None, **options) -> np.ndarray:
    """Fraction of each image covered by its salient object (anti-aliased area / image area), (n,).

    The object of image i is the one ``generate`` draws for the same arguments (when saliency is
    on); its geometry depends only on (seed, index, resolution).
    """
    config = make_config(variant, resolution, **options)
    n, seed, start, batch_size = _check_common(n, seed, start, batch_size)
    batch_size = batch_size or default_batch_size(config.resolution)
    device = torch.device(device)
    size = config.resolution
    out = np.empty(n)
    with torch.inference_mode():
        for low, indices in _chunks(n, start, batch_size):
            empty = torch.zeros(len(indices), 1, size, size, device=device)
            canvas = primitives.TileCanvas.from_images(empty, tile_size(size))
            total = torch.zeros(len(indices), dtype=torch.float64, device=device)
            salient = salient_objects(seed, indices, size, device)
            for tiles, coverage, per_tile in salient_groups(canvas, salient, config.antialias):
                y, x = primitives.pixel_grid(tiles)
                inside = coverage * ((y < size) & (x < size))
                total.index_add_(0, per_tile, inside.double().sum(dim=(0, 1)))
            out[low:low + len(indices)] = total.cpu().numpy() / size**2
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` as (i, N) with 0 <= i < N; one clear error otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like i/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {text!r} is impossible: need 0 <= i < N")
    return index, count


def shard_range(n: int, index: int, count: int) -> tuple[int, int]:
    """(start, size) of shard ``index`` of ``count`` over images 0 .. n-1: contiguous, in order, sizes differing by at most one."""
    low, high = n * index // count, n * (index + 1) // count
    return low, high - low


def write_dataset(path, n: int, *, variant: str = "primitives-ps", resolution: int = 64, seed: int = 0,
                  start: int = 0, format: str | None = None, chunk: int | None = None, progress: bool = True,
                  device="cpu", **options) -> Path:
    """Generate images ``start .. start + n - 1`` in chunks and write them to ``path`` atomically.

    The format follows ``path`` (``.zip``: StyleGAN2-ADA's dataset format; ``.npz``; otherwise a
    folder of PNGs) unless ``format`` says otherwise. Files are numbered by their index in the
    whole dataset, so shards written with ``start`` offsets together equal the unsharded set.
    Memory stays bounded by the chunk (default: about 64 MB of pixels), whatever ``n``.
    """
    config = make_config(variant, resolution, **options)           # validate before creating anything
    n, seed, start, _ = _check_common(n, seed, start, None)
    chunk = chunk or max(1, min(4096, (64 << 20) // (3 * config.resolution**2)))
    with ImageWriter(path, n=n, format=format, first_index=start) as writer, \
            tqdm(total=n, unit="img", desc=f"{variant} {config.resolution}px", disable=not progress) as bar:
        for low in range(0, n, chunk):
            size = min(chunk, n - low)
            writer.write(generate(size, variant=variant, resolution=resolution, seed=seed, start=start + low,
                                  device=device, **options))
            bar.update(size)
    return Path(path)
