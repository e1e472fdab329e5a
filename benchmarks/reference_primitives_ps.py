"""Per-image reference of the published Primitives-PS algorithm: numpy FFT noise + OpenCV drawing.

Written from the description in DESIGN.md ("The algorithm, as published"), one image at a time,
the way the official code makes them, so that ``benchmarks/synth_speed.py`` can time the batched
``primps_core.synth`` against it:

- PS noise: per colour channel, white Gaussian noise -> complex ``fft2`` -> multiplied by
  ``1 / (|fx|^a + |fy|^b)`` with ``a, b ~ U[0.5, 3.5]`` -> ``ifft2`` (real part) -> min-max to
  0..255 uint8. As in the official code, frequencies are ``fftfreq(size, d=0.2)`` at 256 px; here
  they are scaled with the resolution (cycles per image / 51.2), so every size has the same spectrum.
- 100 shapes drawn coarse to fine with ``cv2.line`` / ``cv2.circle`` / ``cv2.ellipse`` /
  ``cv2.rectangle`` (filled, hard edges, kinds 1:2:2:2), size limit shrinking linearly from 1/5 to
  1/100 of the width, a solid random colour each.
- One salient shape near the centre (circle, ellipse or rectangle), filled through a mask with a
  fresh PS-noise texture.

Pixel coordinates are fractions of the image times the resolution (the official code hard-codes
256 px). This module needs ``opencv-python-headless``; the library itself never imports cv2.
"""
from __future__ import annotations

import cv2
import numpy as np

ALPHA_RANGE = (0.5, 3.5)
N_SHAPES = 100
FIRST_LIMIT, LAST_LIMIT = 1 / 5, 1 / 100
KIND_OF_SEVENTH = ("line", "circle", "circle", "ellipse", "ellipse", "rectangle", "rectangle")
FREQ_UNIT = 51.2   # cycles per image: the official fftfreq(256, d=0.2) measures frequency in these


def ps_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """One PS-noise image, uint8 (size, size, 3): anisotropic 1/f noise, channels independent."""
    freq = np.abs(np.fft.fftfreq(size, d=1.0 / size)) / FREQ_UNIT
    channels = []
    for _ in range(3):
        a, b = rng.uniform(*ALPHA_RANGE, size=2)
        spectrum = np.fft.fft2(rng.standard_normal((size, size)))
        denominator = freq[None, :] ** a + freq[:, None] ** b
        denominator[0, 0] = np.inf                       # no DC: min-max removes the mean anyway
        field = np.fft.ifft2(spectrum / denominator).real
        channels.append(field)
    noise = np.stack(channels, axis=-1)
    low, high = noise.min(axis=(0, 1)), noise.max(axis=(0, 1))
    return (255.0 * (noise - low) / (high - low)).astype(np.uint8)


def draw_shape(canvas: np.ndarray, u: np.ndarray, limit: float) -> None:
    """Draw one filled shape of at most ``limit`` pixels (radius / thickness / side) in place.

    ``u`` holds this shape's 9 uniform numbers in [0, 1): kind, colour (3), geometry (5).
    """
    size = canvas.shape[0]
    kind = KIND_OF_SEVENTH[int(u[0] * 7)]
    colour = (u[1:4] * 256).astype(int).tolist()
    centre = tuple((u[4:6] * size).round().astype(int).tolist())
    if kind == "line":
        end = tuple((u[6:8] * size).round().astype(int).tolist())
        cv2.line(canvas, centre, end, colour, max(1, round(u[8] * limit)))
    elif kind == "circle":
        cv2.circle(canvas, centre, round(u[6] * limit), colour, -1)
    elif kind == "ellipse":
        axes = tuple((u[6:8] * limit).round().astype(int).tolist())
        cv2.ellipse(canvas, centre, axes, u[8] * 180, 0, 360, colour, -1)
    else:
        half = u[6:8] * limit / 2
        corner1 = tuple((u[4:6] * size - half).round().astype(int).tolist())
        corner2 = tuple((u[4:6] * size + half).round().astype(int).tolist())
        cv2.rectangle(canvas, corner1, corner2, colour, -1)


def salient_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Mask (size, size) of one large shape near the centre: circle, ellipse or rectangle."""
    mask = np.zeros((size, size), dtype=np.uint8)
    centre = size * (0.5 + rng.uniform(-0.1, 0.1, size=2))
    radii = size * rng.uniform(1 / 4, 3 / 8, size=2)
    kind = rng.integers(3)
    if kind == 0:
        cv2.circle(mask, tuple(centre.round().astype(int).tolist()), round(radii[0]), 1, -1)
    elif kind == 1:
        cv2.ellipse(mask, tuple(centre.round().astype(int).tolist()), tuple(radii.round().astype(int).tolist()),
                    rng.uniform(0, 180), 0, 360, 1, -1)
    else:
        half = radii * np.sqrt(np.pi) / 2                 # same area as the ellipse with these radii
        cv2.rectangle(mask, tuple((centre - half).round().astype(int).tolist()),
                      tuple((centre + half).round().astype(int).tolist()), 1, -1)
    return mask.astype(bool)


def primitives_ps_image(index: int, size: int, seed: int = 0) -> np.ndarray:
    """Image ``index`` of the reference Primitives-PS stream: uint8 (size, size, 3)."""
    rng = np.random.default_rng([seed, index])
    canvas = np.ascontiguousarray(ps_noise(rng, size))
    uniforms = rng.random((N_SHAPES, 9))
    for k in range(N_SHAPES):
        limit = size * (FIRST_LIMIT + (LAST_LIMIT - FIRST_LIMIT) * k / (N_SHAPES - 1))
        draw_shape(canvas, uniforms[k], limit)
    mask = salient_mask(rng, size)
    return np.where(mask[..., None], ps_noise(rng, size), canvas)


def ps_noise_image(index: int, size: int, seed: int = 0) -> np.ndarray:
    """Image ``index`` of the reference PS-noise-only stream: uint8 (size, size, 3)."""
    return ps_noise(np.random.default_rng([seed, index]), size)


def generate(n: int, size: int, *, variant: str = "primitives-ps", seed: int = 0, start: int = 0) -> np.ndarray:
    """``n`` reference images, one at a time: uint8 (n, size, size, 3)."""
    make = {"primitives-ps": primitives_ps_image, "ps-noise": ps_noise_image}[variant]
    return np.stack([make(start + i, size, seed) for i in range(n)])
