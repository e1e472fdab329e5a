"""The official Primitives-PS generators, ported: one image at a time with numpy and OpenCV.

A port, written from a reading of ``pretrain/noise_dataset.py`` in FriedRonaldo/Primitives-PS (the
code released with the CVPR 2022 paper), of its generator functions with their behaviour kept,
quirks included. It is the study's yardstick: what "the published synthesizer" means, the oracle
the batched ``synth`` is compared against in distribution, and the per-image baseline of
``benchmarks/synth_speed.py``. It is not fast and needs ``opencv-python-headless``.

Every random draw comes from a ``numpy.random.RandomState`` in the order, with the methods and the
integer dtypes the original calls on numpy's global generator, so an image made here from
``RandomState(s)`` is the image the original makes after ``np.random.seed(s)``. What the original
does, as read:

- **PS noise** (``rgb_noise``): per channel, white Gaussian noise through ``fft2``, multiplied by
  ``1 / (f_rows^a + eps + f_cols^b + eps)`` with ``f = |fftfreq(N, d=0.2)|``, ``f[0] = 0.1 f[1]``,
  ``eps = 1e-6`` and ``a, b ~ U[0.5, 3.5)`` drawn per channel, back with ``ifft2`` (real part).
  ``renormalize`` then maps all three channels with **one** min and max to uint8, so the channel
  with the steepest exponents dominates and the others are nearly flat.
- **Shapes** (``inject_particles``, called 100 times, coarse to fine): kind line : circle : ellipse
  : rectangle = 1 : 2 : 2 : 2, colour ``randint(0, 255)`` per channel, size limit
  ``round(N // 5 * (100 - i) / 100 + 2)``. Lines join two points in ``[0, 255)`` sorted per axis
  (so always top-left to bottom-right), thickness ``randint(1, limit)``; circles and ellipses
  (angle ``randint(0, 180)``) are filled with radii ``randint(1, limit)``; rectangles have a corner
  in ``[0, 255 - limit)`` and sides ``randint(1, limit)``. OpenCV's default 8-connected, hard edges.
- **Salient object** (``inject_saliency``): a circle, an ellipse or a rectangle (a line is never
  chosen: the index starts at 1), colour ``randint(0, 255)``; circle and ellipse centred in
  ``[N/2 - N//10, N/2 + N//10)`` with radii in ``[N//4, 3N//8)``, the ellipse axis-aligned; the
  rectangle's corner in ``[N//8, N//2)`` and sides in ``[3N//8, 3N//4)``, clipped by the border.
  In ``pink_leaves`` and ``pink_and_salient`` it is drawn on a zero canvas whose non-zero pixels,
  per channel, become the mask of a fresh PS-noise texture (a channel whose colour drew 0 keeps
  the background there: the original's behaviour, kept).
- **Variants**: ``pink_leaves`` (PS noise, 100 shapes, textured salient object: Primitives-PS, the
  function the released dataset class calls), ``dead_leaves`` (a grey background, because the
  first of three drawn colours fills all channels, 100 shapes, a solid salient object),
  ``pink_and_salient`` (PS noise with a textured salient object).

The pixel constants the original hard-codes for 256 px (255 as the coordinate bound) are kept at
256 and become ``size - 1`` below it; sizes above 256 are refused (the original draws coordinates
as uint8).
"""
from __future__ import annotations

import numpy as np

from .. import checks

SIZE = 256                        # the original's one size
EPS = 1e-6
ALPHA, BETA = 0.5, 3.5
ITERATIONS = 100
SHAPES = ("line", "circle", "circle", "ellipse", "ellipse", "rectangle", "rectangle")
FUNCTIONS = ("rgb_noise", "pink_leaves", "dead_leaves", "pink_and_salient")


def renormalize(x: np.ndarray) -> np.ndarray:
    """Min-max over the whole array (all channels at once) to uint8, truncating."""
    x = (x - np.min(x)) / (np.max(x) - np.min(x))
    return (255 * x).astype(np.uint8)


def pink_noise(rng: np.random.RandomState, size: int) -> np.ndarray:
    """One channel of PS noise (float64, unnormalised)."""
    white = rng.randn(size, size)
    spectrum = np.fft.fft2(white)
    freq = np.abs(np.fft.fftfreq(size, d=0.2))
    freq[0] = freq[1] * 0.1
    a, b = rng.rand(2) * (BETA - ALPHA) + ALPHA
    rows = np.float_power(freq, a) + EPS
    columns = np.float_power(freq, b) + EPS
    weight = 1 / (rows[:, None] + columns[None, :])
    return np.fft.ifft2(weight * spectrum).real


def rgb_noise(rng: np.random.RandomState, size: int) -> np.ndarray:
    """Three independent channels of PS noise, (size, size, 3) float64."""
    return np.stack([pink_noise(rng, size) for _ in range(3)], axis=2)


def _colour(rng: np.random.RandomState) -> tuple[int, int, int]:
    return tuple(rng.randint(0, 255, size=(3,), dtype=np.uint8).tolist())


def inject_saliency(rng: np.random.RandomState, size: int, canvas: np.ndarray) -> np.ndarray:
    """Draw the salient object (filled circle, axis-aligned ellipse or rectangle) on ``canvas``."""
    import cv2
    shape = SHAPES[rng.randint(1, len(SHAPES))]
    colour = _colour(rng)
    x, y = rng.randint(size // 2 - size // 10, size // 2 + size // 10, size=(2,), dtype=np.uint8).tolist()
    if shape == "circle":
        radius = rng.randint(size // 4, 3 * size // 8, dtype=np.uint8).tolist()
        return cv2.circle(canvas, (x, y), radius, colour, -1)
    if shape == "ellipse":
        first, second = rng.randint(size // 4, 3 * size // 8, size=(2,), dtype=np.uint8).tolist()
        return cv2.ellipse(canvas, (x, y), (first, second), 0, 0, 360, colour, -1)
    left, top = rng.randint(size // 8, size // 2, size=(2,), dtype=np.uint8).tolist()
    across, down = rng.randint(3 * size // 8, 3 * size // 4, size=(2,), dtype=np.uint8).tolist()
    return cv2.rectangle(canvas, (left, top), (left + across, top + down), colour, -1)


def inject_particle(rng: np.random.RandomState, size: int, canvas: np.ndarray, index: int,
                    iterations: int = ITERATIONS) -> np.ndarray:
    """Draw shape number ``index`` of ``iterations`` (its size limit shrinks with the index)."""
    import cv2
    shape = SHAPES[rng.randint(len(SHAPES))]
    colour = _colour(rng)
    limit = int(np.round(size // 5 * (iterations - index) / iterations + 2))
    bound = 255 if size == SIZE else size - 1            # the original's hard-coded coordinate bound
    if shape == "line":
        x1, x2, y1, y2 = rng.randint(0, bound, size=(4,), dtype=np.uint8).tolist()
        thickness = rng.randint(1, limit)
        return cv2.line(canvas, (min(x1, x2), min(y1, y2)), (max(x1, x2), max(y1, y2)), colour, thickness)
    if shape == "circle":
        x, y = rng.randint(low=0, high=size, size=(2,), dtype=np.uint8).tolist()
        radius = rng.randint(low=1, high=limit, dtype=np.uint8).tolist()
        return cv2.circle(canvas, (x, y), radius, colour, -1)
    if shape == "ellipse":
        x, y = rng.randint(low=0, high=size, size=(2,), dtype=np.uint8).tolist()
        first, second = rng.randint(low=1, high=limit, size=(2,), dtype=np.uint8).tolist()
        angle = rng.randint(0, 180)
        return cv2.ellipse(canvas, (x, y), (first, second), angle, 0, 360, colour, -1)
    left, top = rng.randint(0, bound - limit, size=(2,), dtype=np.uint8).tolist()
    across, down = rng.randint(1, limit, size=(2,), dtype=np.uint8).tolist()
    return cv2.rectangle(canvas, (left, top), (left + across, top + down), colour, -1)


def _textured_saliency(rng: np.random.RandomState, size: int, canvas: np.ndarray) -> np.ndarray:
    """Replace the salient object's pixels (per channel, where its colour is non-zero) with fresh,
    renormalised PS noise; float64 out, as the original."""
    mask = inject_saliency(rng, size, np.zeros((size, size, 3)))
    mask[mask > 0] = 1
    inside = renormalize(rgb_noise(rng, size))
    return (1 - mask) * canvas + mask * inside


def pink_leaves(rng: np.random.RandomState, size: int = SIZE, iterations: int = ITERATIONS) -> np.ndarray:
    """Primitives-PS: PS noise, ``iterations`` shapes, a PS-textured salient object."""
    canvas = np.ascontiguousarray(renormalize(rgb_noise(rng, size)))
    for index in range(iterations):
        canvas = inject_particle(rng, size, canvas, index, iterations)
    return _textured_saliency(rng, size, canvas)


def dead_leaves(rng: np.random.RandomState, size: int = SIZE, iterations: int = ITERATIONS,
                salient: bool = True) -> np.ndarray:
    """Grey background (the first of three drawn levels in every channel), shapes, a solid salient
    object (``salient=False`` stops before it: no official function, the nearest reading of the
    paper's Primitives)."""
    levels = rng.randint(0, 255, size=(3,), dtype=np.uint8).tolist()
    canvas = np.full((size, size, 3), float(levels[0]))
    for index in range(iterations):
        canvas = inject_particle(rng, size, canvas, index, iterations)
    return inject_saliency(rng, size, canvas) if salient else canvas


def pink_and_salient(rng: np.random.RandomState, size: int = SIZE) -> np.ndarray:
    """PS noise with a PS-textured salient object."""
    return _textured_saliency(rng, size, renormalize(rgb_noise(rng, size)))


def image(function: str, seed: int, size: int = SIZE, iterations: int = ITERATIONS, salient: bool = True) -> np.ndarray:
    """One image of the named function from ``RandomState(seed)``, as uint8 (size, size, 3) RGB
    (the original's float outputs hold whole numbers; OpenCV's colour order is immaterial, every
    channel being drawn alike). ``iterations``: the shape count of pink_leaves and dead_leaves
    (0 leaves dead_leaves' grey background and its salient object alone); ``salient=False``:
    dead_leaves without its salient object."""
    checks.choice(function, "function", FUNCTIONS)
    checks.integer(size, "size", 8, SIZE)
    rng = np.random.RandomState(checks.integer(seed, "seed", 0, 2**32 - 1))
    iterations = checks.integer(iterations, "iterations", 0, 10_000)
    if function == "rgb_noise":
        return renormalize(rgb_noise(rng, size))
    if function == "pink_and_salient":
        return np.asarray(pink_and_salient(rng, size)).astype(np.uint8)
    if function == "dead_leaves":
        return np.asarray(dead_leaves(rng, size, iterations, checks.boolean(salient, "salient"))).astype(np.uint8)
    return np.asarray(pink_leaves(rng, size, iterations)).astype(np.uint8)


def images(function: str, n: int, size: int = SIZE, seed: int = 0, iterations: int = ITERATIONS,
           salient: bool = True) -> np.ndarray:
    """``n`` images (uint8 NHWC), image ``k`` from ``RandomState(seed + k)``."""
    return np.stack([image(function, seed + k, size, iterations, salient) for k in range(checks.integer(n, "n", 1))])


def particle_areas(n: int, size: int = SIZE, seed: int = 0, iterations: int = ITERATIONS) -> np.ndarray:
    """(n, iterations) pixels drawn by each shape of ``dead_leaves`` (image k from ``RandomState(seed + k)``),
    each drawn alone: the random draws of dead_leaves replayed, every shape on its own blank canvas
    (filled with 255, a level no colour takes, so every drawn pixel is counted)."""
    areas = np.empty((checks.integer(n, "n", 1), checks.integer(iterations, "iterations", 1, 10_000)), np.int64)
    for k in range(n):
        rng = np.random.RandomState(checks.integer(seed + k, "seed", 0, 2**32 - 1))
        rng.randint(0, 255, size=(3,), dtype=np.uint8)                   # dead_leaves' background levels
        for index in range(iterations):
            canvas = inject_particle(rng, size, np.full((size, size, 3), 255, np.uint8), index, iterations)
            areas[k, index] = int((canvas != 255).any(axis=2).sum())
    return areas
