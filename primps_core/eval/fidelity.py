"""Is one synthetic image set drawn from the same distribution as another? Per-image statistics and
two-sample tests.

Made to hold the synthesizer to the port of the official code (``synth.official``): each
statistic is one number per image, chosen where the two were seen to differ (how the three
colour channels share the amplitude, the spectral slopes, how much power lies on the axis lines,
the colours, how much of the image is flat), and ``compare`` gives for each the two means and a
two-sample Kolmogorov-Smirnov test. Any statistic of images can be added to ``STATISTICS``.
``SALIENT_STATISTICS`` measure a lone object on a flat background (coverage, centre, extent), and
``shape_area_values`` the areas of shapes drawn alone; ``compare_values`` tests any such values.

    rows = compare(ours, port)          # [{"statistic", "mean_a", "mean_b", "ks", "p"}, ...]
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.stats

from ..data.images import check_images
from . import spectrum


def channel_stds(images: np.ndarray) -> np.ndarray:
    """(N, 3) standard deviations of the channels on a 0..1 scale, sorted weakest first."""
    return np.sort((images / 255.0).std(axis=(1, 2)), axis=1)


def axis_power_share(images: np.ndarray) -> np.ndarray:
    """(N,) share of each image's power (DC excluded, channels summed, no window: the noise is
    periodic) that lies on the two axis lines of its spectrum (zero horizontal or vertical frequency)."""
    planes = images.astype(np.float64).transpose(0, 3, 1, 2)
    power = np.abs(np.fft.fft2(planes - planes.mean(axis=(2, 3), keepdims=True))) ** 2
    power = power.sum(axis=1)
    on_axes = power[:, 0, :].sum(axis=1) + power[:, :, 0].sum(axis=1) - 2 * power[:, 0, 0]
    return on_axes / power.sum(axis=(1, 2))


def flat_share(images: np.ndarray) -> np.ndarray:
    """(N,) share of pixels equal, in all channels, to their right and lower neighbours: solid
    shapes and flat backgrounds raise it, noise and anti-aliased edges lower it."""
    same_right = (images[:, :-1, :-1] == images[:, :-1, 1:]).all(axis=3)
    same_below = (images[:, :-1, :-1] == images[:, 1:, :-1]).all(axis=3)
    return (same_right & same_below).mean(axis=(1, 2))


STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "weakest channel std": lambda x: channel_stds(x)[:, 0],
    "middle channel std": lambda x: channel_stds(x)[:, 1],
    "strongest channel std": lambda x: channel_stds(x)[:, 2],
    "alpha, luminance": lambda x: spectrum.fit_alpha(x, window=None),
    "alpha, red": lambda x: spectrum.fit_alpha(x, window=None, channel=0),
    "alpha, green": lambda x: spectrum.fit_alpha(x, window=None, channel=1),
    "alpha, blue": lambda x: spectrum.fit_alpha(x, window=None, channel=2),
    "axis-line power share": axis_power_share,
    "mean red": lambda x: x[..., 0].mean(axis=(1, 2)),
    "mean green": lambda x: x[..., 1].mean(axis=(1, 2)),
    "mean blue": lambda x: x[..., 2].mean(axis=(1, 2)),
    "flat-pixel share": flat_share,
}


def object_mask(images: np.ndarray) -> np.ndarray:
    """(N, H, W) pixels that differ, in any channel, from the top-left pixel: the object of an image
    that is one object on a flat background (the official salient object never reaches that corner)."""
    return (images != images[:, :1, :1]).any(axis=3)


def _mask_extent(images: np.ndarray, axis: int) -> np.ndarray:
    """Extent of each object mask along ``axis`` (1 rows, 2 columns) as a fraction of the side."""
    touched = object_mask(images).any(axis=3 - axis)
    return touched.sum(axis=1) / images.shape[axis]


def _mask_centre(images: np.ndarray, axis: int) -> np.ndarray:
    """Centre of mass of each object mask along ``axis`` (1 rows, 2 columns), in fractions of the side."""
    mask = object_mask(images)
    position = (np.arange(images.shape[axis]) + 0.5) / images.shape[axis]
    weights = mask.sum(axis=3 - axis)
    return (weights * position).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)


SALIENT_STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "salient coverage": lambda x: object_mask(x).mean(axis=(1, 2)),
    "salient centre, row": lambda x: _mask_centre(x, 1),
    "salient centre, column": lambda x: _mask_centre(x, 2),
    "salient height": lambda x: _mask_extent(x, 1),
    "salient width": lambda x: _mask_extent(x, 2),
}
AREA_LEVELS = {"first 10 shapes": (0, 10), "middle 10 shapes": (45, 55), "last 10 shapes": (90, 100)}


def shape_area_values(areas: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Areas (fractions of the image) of shapes drawn alone, pooled over the levels of
    ``AREA_LEVELS`` (of 100 shapes, coarse to fine): ``areas`` (N, 100) in pixels at ``size`` px."""
    return {f"area, {name}": (areas[:, low:high] / size**2).ravel() for name, (low, high) in AREA_LEVELS.items()}


CHUNK = 32       # images per call of a statistic: the FFTs of 1,000 images at 256 px in float64 take 9 GB at once


def measure(images, statistics: dict | None = None) -> dict[str, np.ndarray]:
    """Each statistic's (N,) values on uint8 NHWC ``images``, computed ``CHUNK`` images at a time
    (every statistic is per image, so the values are the same; the memory stays bounded)."""
    images = check_images(images)
    return {name: np.concatenate([np.asarray(function(images[start:start + CHUNK]), dtype=np.float64)
                                  for start in range(0, len(images), CHUNK)])
            for name, function in (statistics or STATISTICS).items()}


def compare(images_a, images_b, statistics: dict | None = None) -> list[dict]:
    """For each statistic: the mean over each set, the two-sample Kolmogorov-Smirnov distance and
    its p-value (exact for small sets, asymptotic for large)."""
    return compare_values(measure(images_a, statistics), measure(images_b, statistics))


def compare_values(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[dict]:
    """``compare`` on values already measured: {statistic: values} on each side."""
    rows = []
    for name in a:
        test = scipy.stats.ks_2samp(a[name], b[name])
        rows.append({"statistic": name, "mean_a": float(a[name].mean()), "mean_b": float(b[name].mean()),
                     "ks": float(test.statistic), "p": float(test.pvalue)})
    return rows
