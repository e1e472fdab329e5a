"""What a synthetic image depends on besides (seed, index): the variant, its options, their checks.

``make_config(variant, resolution, **options)`` validates everything a user can pass and fills in
the variant's defaults (see the package docstring for the variants and options); the frozen
``SynthConfig`` it returns is all the rest of the synthesizer reads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import checks
from ..paths import FIGURES_DIR

VARIANTS = ("ps-noise", "primitives", "primitives-s", "primitives-ps")
SHAPE_KINDS = ("line", "circle", "ellipse", "rectangle")
PUBLISHED_KIND_WEIGHTS = (1 / 7, 2 / 7, 2 / 7, 2 / 7)
ALPHA_LAWS = ("published", "natural")
TEXTURES = ("solid", "ps-noise")
NORMALISATIONS = ("global", "per-channel")      # global: one min-max over the three channels (official)
ZERO_FREQUENCIES = ("official", "none")         # official: f = 0 read as 0.1 cycle, eps per term, DC kept
GEOMETRIES = ("published", "continuous")        # published: the official integer draws on a 256 grid
FLAT_BACKGROUNDS = ("grey", "colour")           # grey: the official dead_leaves' one level in all channels
MIN_RESOLUTION, MAX_RESOLUTION = 8, 4096
OFFICIAL_SIZE = 256                             # the one size the official code draws at
SUPERSAMPLING = 4                               # a small image is drawn at 4x its side (at most 256), then downsampled

VARIANT_DEFAULTS = {
    "ps-noise": dict(background="ps-noise", n_shapes=0, saliency=False, shape_texture="ps-noise"),
    "primitives": dict(background="grey", n_shapes=100, saliency=False, shape_texture="solid"),
    "primitives-s": dict(background="grey", n_shapes=100, saliency=True, shape_texture="solid"),
    "primitives-ps": dict(background="ps-noise", n_shapes=100, saliency=True, shape_texture="ps-noise"),
}
OPTION_NAMES = ("n_shapes", "shape_kinds", "alpha_law", "alpha_range", "stats", "saliency",
                "shape_texture", "antialias", "normalisation", "zero_frequency", "geometry", "flat_background",
                "drawn_at")


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
    normalisation: str
    zero_frequency: str
    geometry: str
    drawn_at: int          # the side images are drawn at, then Lanczos-downsampled to ``resolution``


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
    checks.choice(variant, "variant", VARIANTS)
    resolution = checks.integer(resolution, "resolution", MIN_RESOLUTION, MAX_RESOLUTION)
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"unknown option {unknown[0]!r}; expected one of {', '.join(OPTION_NAMES)}")
    defaults = VARIANT_DEFAULTS[variant]
    alpha_law = checks.choice(options.get("alpha_law", "published"), "alpha_law", ALPHA_LAWS)
    if alpha_law == "published" and "stats" in options:
        raise ValueError("stats is only used with alpha_law='natural'")
    if alpha_law == "natural" and "alpha_range" in options:
        raise ValueError("alpha_range is only used with alpha_law='published'")
    return SynthConfig(
        variant=variant,
        resolution=resolution,
        background=_background(defaults["background"], options.get("flat_background")),
        n_shapes=checks.integer(options.get("n_shapes", defaults["n_shapes"]), "n_shapes", 0, 10_000),
        kind_weights=_kind_weights(options.get("shape_kinds", SHAPE_KINDS)),
        alpha_law=alpha_law,
        alpha_range=_alpha_range(options.get("alpha_range", (0.5, 3.5))),
        natural=_natural_law(options.get("stats")) if alpha_law == "natural" else None,
        saliency=checks.boolean(options.get("saliency", defaults["saliency"]), "saliency"),
        shape_texture=checks.choice(options.get("shape_texture", defaults["shape_texture"]),
                                    "shape_texture", TEXTURES),
        antialias=checks.boolean(options.get("antialias", False), "antialias"),
        normalisation=checks.choice(options.get("normalisation", "global"), "normalisation", NORMALISATIONS),
        zero_frequency=_zero_frequency(options.get("zero_frequency"), alpha_law),
        geometry=checks.choice(options.get("geometry", "published"), "geometry", GEOMETRIES),
        drawn_at=_drawn_at(options.get("drawn_at"), resolution),
    )


def _drawn_at(value, resolution: int) -> int:
    """The side an image is drawn at before its Lanczos downsample to ``resolution``: by default
    ``SUPERSAMPLING`` times the resolution, at most the official 256 px (and never below the
    resolution), so that a small image is the official one as a small photo of it would be;
    "native" draws at the resolution itself (point-sampling the official grid: the study's designs
    1-3). Drawn at 4x, 32 px images are indistinguishable from the official 256 px images
    downsampled (tests/test_official.py: every statistic of notebook 02's table, 1,000 images a
    side); at 2x they are not (spectral slopes, p = 0.004), and 4x costs a quarter of 256 px."""
    if value is None:
        return max(resolution, min(OFFICIAL_SIZE, SUPERSAMPLING * resolution))
    if value == "native":
        return resolution
    return checks.integer(value, "drawn_at (or 'native')", resolution, MAX_RESOLUTION)


def _zero_frequency(value, alpha_law: str) -> str:
    """The published law's default is the official axis; the natural law has no zero-frequency term."""
    if value is None:
        return "official" if alpha_law == "published" else "none"
    value = checks.choice(value, "zero_frequency", ZERO_FREQUENCIES)
    if value == "official" and alpha_law != "published":
        raise ValueError("zero_frequency='official' is a property of the published law (alpha_law='published')")
    return value


def _background(default: str, flat_background) -> str:
    """"ps-noise", "grey" or "colour"; ``flat_background`` only applies to the flat-background variants."""
    if flat_background is None:
        return default
    if default == "ps-noise":
        raise ValueError("flat_background applies to primitives and primitives-s only (the others draw PS noise)")
    return checks.choice(flat_background, "flat_background", FLAT_BACKGROUNDS)

