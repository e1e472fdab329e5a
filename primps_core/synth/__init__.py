"""Primitives-PS and its ablation variants: batched, index-addressable, deterministic synthetic images.

``generate(n, variant=..., resolution=..., seed=..., start=...)`` returns uint8 images
(n, resolution, resolution, 3). Image ``start + i`` depends only on (variant, options, seed,
start + i): not on ``n``, ``start``, ``batch_size`` or the torch thread count.

Variants (the paper's ablations; each adds one property to the previous ones), each drawing by
default the distribution of the code released with the paper (ported in ``synth.official``):

============== ===================== ====================== ========================= =====================
variant        background            100 shapes             salient object            official counterpart
============== ===================== ====================== ========================= =====================
ps-noise       PS noise              no                     no                        rgb_noise
primitives     flat grey             yes                    no                        dead_leaves, no object
primitives-s   flat grey             yes                    yes, flat random colour   dead_leaves
primitives-ps  PS noise              yes                    yes, PS-noise texture     pink_leaves
============== ===================== ====================== ========================= =====================

Options (keywords of ``generate``; they override the variant's defaults above). The defaults are
the published behaviour; every other value is one of the study's own changes:

- ``n_shapes`` (int >= 0, default 100, 0 for ps-noise): shapes drawn coarse to fine, their size
  limit shrinking with the index (published: ``round(51 (n - i) / n + 2)`` grid pixels).
- ``shape_kinds`` (subset of ``SHAPE_KINDS``, default all): the kinds drawn, with the published
  relative weights line 1 : circle 2 : ellipse 2 : rectangle 2.
- ``geometry`` ("published" | "continuous", default "published"): the official integer draws on
  its 256-pixel grid, scaled to the resolution (pixel (i, j) shows grid pixel (i, j) * 256 / N:
  lines always top-left to bottom-right, integer sizes and degrees, colours 0..254, the salient
  object's official placement, the texture a whole-image field), or the study's continuous
  reading (sizes in fractions of the width, lines and ellipses at any angle, a centred salient
  object; see ``shapes``).
- ``antialias`` (bool, default False): one-pixel coverage ramps on every edge; the official code
  draws hard, aliased edges.
- ``flat_background`` ("grey" | "colour", primitives and primitives-s only; default "grey"): the
  official ``dead_leaves`` fills every channel with one drawn level; "colour" uses three.
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
- ``saliency`` (bool): draw the salient object (one large circle, ellipse or rectangle).
- ``shape_texture`` ("solid" | "ps-noise"): fill of the salient object: a flat random colour or a
  fresh PS-noise texture.
- ``normalisation`` ("global" | "per-channel", default "global"): min-max the three noise channels
  with one min and max, as the official code does (the channel with the steepest exponents then
  dominates and the others are nearly flat), or each channel alone.
- ``zero_frequency`` ("official" | "none"; published law only, default "official"): "official"
  reads a zero wavenumber as 0.1 cycle per image and adds 1e-6 to each term of the denominator,
  as the official code does, so the axis lines and the mean get large finite weights; "none" puts
  the axis lines at exactly zero frequency (a pure power law along them) and drops the mean.

- ``drawn_at`` (int >= the resolution, or "native"; default four times the resolution, at most
  256): the side an image is drawn at before it is downsampled to the resolution with Lanczos
  (``render.DOWNSAMPLE``), the filter that makes the targets and natural patches from photos, so
  that a 32 px image is the official 256 px image as a 32 px photo of it would be (drawn at 128
  px: indistinguishable from the official images drawn at 256 and downsampled, at a quarter of
  the cost; see ``config._drawn_at``). "native" draws at the resolution itself, point-sampling the
  official grid (the study's designs 1-3 trained on that; its high frequencies are not the
  official images').

``study.fidelity`` tests every variant's default against the port on per-image statistics,
the salient object alone and the areas of the shapes drawn alone (notebook 02's table).
Frequencies are measured in cycles per image over 51.2 (the published ``fftfreq(256, d=0.2)`` unit
at 256 px). Shapes: see ``shapes``.

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
from .render import RASTERISERS, generate, salient_coverage, shape_areas

__all__ = ["ALPHA_LAWS", "OPTION_NAMES", "RASTERISERS", "SHAPE_KINDS", "TEXTURES", "VARIANTS", "SynthConfig",
           "code_digest", "generate", "make_config", "salient_coverage", "shape_areas"]


def code_digest() -> str:
    """16 hex digits of the SHA-256 of every source file of this package: all of them define what an
    image looks like (the compiled rasteriser included), so a cached measurement of synthetic
    images is recomputed whenever any of them changes."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
