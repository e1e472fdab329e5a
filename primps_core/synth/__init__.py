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
- ``normalisation`` ("per-channel" | "global", default "per-channel"): min-max each noise channel
  alone, or the three with one min and max as the official code does (the channel with the
  steepest exponents then dominates and the others are nearly flat).
- ``zero_frequency`` ("none" | "official", default "none"; published law only): "official" reads a
  zero wavenumber as 0.1 cycle per image and adds 1e-6 to each term of the denominator, as the
  official code does, so the axis lines and the mean get large finite weights. With both official
  settings, ps-noise at 256 px is told apart from the port of the official code
  (``synth.official``) by none of ``eval.fidelity``'s statistics (``tests/test_fidelity.py``).

Every noise field is min-max normalised to 0..255 (per channel unless ``normalisation="global"``).
Frequencies are measured in cycles per image over 51.2 (the published ``fftfreq(256, d=0.2)`` unit
at 256 px), and geometry in fractions of the width, so 32 px and 256 px images are the same
distribution at two scales (for shapes even the same picture: a 128 px image averaged over 4x4
blocks is its 32 px version to within a few levels). Shapes: see ``shape_table``; lines join two
uniform points (any orientation; the size limit sets their thickness). The salient object's
texture is a fresh field anchored near the object (``texture_side``). Edges are anti-aliased with
a one-pixel coverage ramp and sub-pixel shapes keep about their area (see shapes.py).

Randomness is counter-based: a 64-bit key per (seed, image index, stream) from a splitmix64 chain,
and every random number is splitmix64(key + counter * golden), computed vectorised over the batch
in int64 torch ops. Gaussian spectra use a 65536-entry table of a quantised complex normal
(256 Rayleigh radii x 256 phases) indexed by 16 random bits, so one 64-bit hash feeds four Fourier
coefficients. Per-image parameters that need transcendental functions are computed in float64
numpy (whose SIMD loops do not depend on an element's position) and rounded to float32; per-pixel
work uses only exact IEEE operations and correctly rounded square roots (see shapes.py). The
inverse FFT runs in scipy.fft on CPU (bit-identical for any batch split and worker count; torch's
MKL FFT differs between 1 and 2 threads) and in torch.fft elsewhere; results on other devices may
differ in rare roundings.

The package, one concern per module, imported in this order:

- ``config``: variants, options and their checks (``make_config`` -> ``SynthConfig``);
- ``rng``: counter-based randomness (splitmix64 keys per seed, image and stream);
- ``noise``: the PS-noise fields (published and natural laws);
- ``shapes``: what is drawn (the shape table, the salient object) and its geometry;
- ``raster_tiles`` / ``raster_fused``: the two rasterisers, torch tiles on any device and a
  compiled per-pixel kernel on CPU, the same bits;
- ``render``: backgrounds, chunks and workers: ``generate`` and ``salient_coverage``.

Writing datasets to disk (zip, folder, npz, shards) is ``primps_core.data.export``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .config import (ALPHA_LAWS, OPTION_NAMES, SHAPE_KINDS, TEXTURES, VARIANTS, SynthConfig,
                     make_config)
from .render import RASTERISERS, generate, salient_coverage

__all__ = ["ALPHA_LAWS", "OPTION_NAMES", "RASTERISERS", "SHAPE_KINDS", "TEXTURES", "VARIANTS", "SynthConfig",
           "code_digest", "generate", "make_config", "salient_coverage"]


def code_digest() -> str:
    """16 hex digits of the SHA-256 of every source file of this package: all of them define what an
    image looks like (the compiled rasteriser included), so a cached measurement of synthetic
    images is recomputed whenever any of them changes."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
