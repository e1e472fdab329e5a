"""The CPU rasteriser: one compiled (numba) pass per image that draws every shape and the salient
object pixel by pixel, with the same arithmetic as the tile rasteriser (raster_tiles.py).

The tile rasteriser runs each step (distances, ramp, blend, gathers and scatters) as a separate
torch pass over every listed pixel: about 25 passes over ~9,000 pixels per 32 px image, which is
where its time went. Here each pixel's coverage and blend are computed in registers, once.

Same images, bit for bit: every per-pixel value is computed in float32 with the same exact IEEE
operations in the same order as raster_tiles.py (numba adds no fused multiply-adds and no
reassociation without ``fastmath``), shapes are blended in the same order, and pixels are visited
over a range that holds every pixel whose coverage is not exactly 0 (the pixel centres in the
support box, or per row the thick line's band plus a slack): pixels outside it keep their value in
both rasterisers.
tests/test_raster_fused.py checks the equality on every variant and option.

Each image is one sequential loop (``nogil``): chunks run in parallel threads as before, and an
image never depends on the chunk or thread it was drawn in.
"""
from __future__ import annotations

import math

import numba
import numpy as np
import torch
from torch import Tensor

from .config import SynthConfig
from .noise import NOISE_PIXELS, ps_noise
from .rng import TEXTURE_NOISE
from .shapes import BAND_SLACK, LINE, MARGIN, ROUND, salient_objects, shape_table, texture_placement

_ZERO, _HALF, _ONE = np.float32(0.0), np.float32(0.5), np.float32(1.0)
_TINY = np.float32(1e-15)                         # raster_tiles.ellipse_coverage's offset of U
# pixels from a line's box where its coverage can still be above 0: the ramp (MARGIN) and a slack
# far above float32 rounding, as raster_tiles.band_tiles
LINE_REACH = MARGIN + BAND_SLACK


@numba.njit(inline="always")
def _ramp(level, half_gain, gain):
    """clamp(gain/2 - gain*d, 0, gain), as raster_tiles._ramp."""
    return min(max(half_gain - level, _ZERO), gain)


@numba.njit(inline="always")
def _ellipse(y, x, k, antialias):
    """raster_tiles.ellipse_coverage at one pixel centre; ``k`` the 15 coefficients (11 + support box)."""
    dy, dx = y - k[0], x - k[1]
    u = dx * k[2] + (dy * k[3] + _TINY)
    v = dx * k[4] + dy * k[5]
    uu, vv = u * u, v * v
    square = uu + vv
    inside = _ONE if (y >= k[11]) and (y <= k[12]) and (x >= k[13]) and (x <= k[14]) else _ZERO
    if not antialias:
        return (_ONE if square <= k[9] else _ZERO) * inside
    level = square - np.sqrt(square) * k[10]
    slope = np.sqrt(uu * k[7] + vv * k[8])
    return _ramp(level / slope, k[6], k[9]) * inside


@numba.njit(inline="always")
def _box(y, x, k, antialias, capsule):
    """raster_tiles.box_coverage (a rotated box, capped or not: the thick line) at one pixel centre."""
    dy, dx = y - k[0], x - k[1]
    u = abs(dx * k[2] + dy * k[3]) - k[4]
    across = abs(dy * k[2] - dx * k[3])
    level = max(u, across - k[5])
    if capsule:
        beyond = max(u, _ZERO)
        level = min(level, np.sqrt(beyond * beyond + across * across) - k[8])
    if not antialias:
        return _ONE if level <= _ZERO else _ZERO
    return _ramp(level, k[6], k[7])


@numba.njit(inline="always")
def _rectangle(y, x, k, antialias):
    """raster_tiles.rectangle_coverage (axis-aligned: top, bottom, left, right) at one pixel centre."""
    if not antialias:
        return _ONE if (y >= k[0]) and (y <= k[1]) and (x >= k[2]) and (x <= k[3]) else _ZERO
    rows = min(max(min(y + _HALF, k[1]) - max(y - _HALF, k[0]), _ZERO), _ONE)
    cols = min(max(min(x + _HALF, k[3]) - max(x - _HALF, k[2]), _ZERO), _ONE)
    return rows * cols


@numba.njit(inline="always")
def _span(low, high, size):
    """Pixels from..to-1 (rows or columns, within 0..size) whose centres i + 0.5 lie in [low, high]."""
    low, high = min(max(float(low), -1.0), size + 1.0), min(max(float(high), -1.0), size + 1.0)
    return max(0, int(math.ceil(low - 0.5))), min(size, int(math.floor(high - 0.5)) + 1)


@numba.njit(inline="always")
def _interval(centre, slope, reach):
    """dx with |centre + slope * dx| <= reach, as (low, high); everything when slope is 0."""
    if slope == 0.0:
        return (-np.inf, np.inf) if abs(centre) <= reach else (np.inf, -np.inf)
    a, b = (-reach - centre) / slope, (reach - centre) / slope
    return min(a, b), max(a, b)


@numba.njit(inline="always")
def _line_rows(k, size, capsule):
    """Rows that can meet the line ``k`` (box coefficients, all gain-scaled by g = k[7]): the
    half-height |sin| (half_u + LINE_REACH) + |cos| (half_v + LINE_REACH) of its widened box, in float64
    (a capsule's box is longer by its radius, half_v, at each end)."""
    gain = float(k[7])
    reach = LINE_REACH * gain
    along = float(k[4]) + (float(k[5]) if capsule else 0.0)
    extent = (abs(float(k[3])) * (along + reach) + abs(float(k[2])) * (float(k[5]) + reach)) / (gain * gain)
    return _span(float(k[0]) - extent, float(k[0]) + extent, size)


@numba.njit(inline="always")
def _line_columns(y, k, size, capsule):
    """Columns of row centre ``y`` that can meet the line ``k``: |u| <= half_u (+ half_v for a
    capsule) + LINE_REACH and |v| <= half_v + LINE_REACH (gain-scaled), solved for x in float64."""
    gain = float(k[7])
    dy, c, s = float(y) - float(k[0]), float(k[2]), float(k[3])
    along = float(k[4]) + (float(k[5]) if capsule else 0.0)
    low_u, high_u = _interval(dy * s, c, along + LINE_REACH * gain)
    low_v, high_v = _interval(-dy * c, s, float(k[5]) + LINE_REACH * gain)
    low, high = max(low_u, low_v), min(high_u, high_v)
    if low > high:
        return 0, 0
    return _span(float(k[1]) + low, float(k[1]) + high, size)


@numba.njit(inline="always")
def _blend(image, py, px, cover, colour, texture, anchor_y, anchor_x):
    """pixel += cover * (paint - pixel) per channel, as raster_tiles.composite; the paint is the flat
    ``colour`` or, when ``texture`` (3, R, R) is not empty, its wrapped pixel (py - anchor_y, px - anchor_x)."""
    for c in range(3):
        old = image[c, py, px]
        if texture.shape[1]:
            side = texture.shape[1]
            paint = texture[c, (py - anchor_y) % side, (px - anchor_x) % side]
        else:
            paint = colour[c]
        image[c, py, px] = old + (paint - old) * cover


@numba.njit(inline="always")
def _draw(image, family, k, support, colour, texture, anchor_y, anchor_x, antialias, capsule):
    """Blend one shape of ``family`` (coefficients ``k``, support box) into ``image`` (3, S, S);
    ``capsule``: a line is a capsule, else a box.

    The coefficients and colour are copied into tuples first: values the compiler knows cannot
    change when pixels are written, so they stay in registers instead of being reloaded per pixel.
    """
    size = image.shape[1]
    paint = (colour[0], colour[1], colour[2])
    if family == LINE:
        line = (k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8])
        row0, row1 = _line_rows(line, size, capsule)
        for py in range(row0, row1):
            y = np.float32(py) + _HALF
            col0, col1 = _line_columns(y, line, size, capsule)
            for px in range(col0, col1):
                cover = _box(y, np.float32(px) + _HALF, line, antialias, capsule)
                _blend(image, py, px, cover, paint, texture, anchor_y, anchor_x)
        return
    row0, row1 = _span(support[0], support[1], size)
    col0, col1 = _span(support[2], support[3], size)
    if family == ROUND:
        ellipse = (k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], k[11], k[12], k[13], k[14])
        for py in range(row0, row1):
            y = np.float32(py) + _HALF
            for px in range(col0, col1):
                _blend(image, py, px, _ellipse(y, np.float32(px) + _HALF, ellipse, antialias), paint, texture,
                       anchor_y, anchor_x)
        return
    edges = (k[0], k[1], k[2], k[3])
    for py in range(row0, row1):
        y = np.float32(py) + _HALF
        for px in range(col0, col1):
            _blend(image, py, px, _rectangle(y, np.float32(px) + _HALF, edges, antialias), paint, texture,
                   anchor_y, anchor_x)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def paint_images(images, count, family, colour, round_, box, rectangle, salient_family, salient_colour,
                 salient_round, salient_rectangle, texture, anchor, antialias, capsule):
    """Draw, in place on ``images`` (B, 3, S, S) float32, each image's ``count`` shapes in order, then
    its salient object (when ``salient_family`` is not empty).

    Shape r = b * count + j: ``family`` (LINE, ROUND or RECTANGLE), ``colour`` (3,), and the
    rows of ``round_`` (15: ellipse coefficients then the support box, used by rectangles too),
    ``box`` (9: the line's box coefficients) and ``rectangle`` (4 edges). The salient object of
    image b: family ROUND or RECTANGLE, colour, ``salient_round`` (15), ``salient_rectangle`` (4), painted with
    its colour or, when ``texture`` (B, 3, R, R) has R > 0, the texture anchored at ``anchor[b]``.
    ``capsule``: lines are capsules (published geometry), else boxes.
    """
    flat = np.zeros((3, 0, 0), np.float32)
    for b in range(images.shape[0]):
        image = images[b]
        for r in range(b * count, (b + 1) * count):
            kind = family[r]
            k = box[r] if kind == LINE else (round_[r] if kind == ROUND else rectangle[r])
            _draw(image, kind, k, round_[r, 11:], colour[r], flat, 0, 0, antialias, capsule)
        if len(salient_family):
            kind = salient_family[b]
            k = salient_round[b] if kind == ROUND else salient_rectangle[b]
            _draw(image, kind, k, salient_round[b, 11:], salient_colour[b], texture[b], anchor[b, 0],
                  anchor[b, 1], antialias, capsule)


@numba.njit(nogil=True, cache=True)
def quantise(images, out):
    """``images`` (B, 3, S, S) float32 as uint8 into ``out`` (B, S, S, 3): rounded half to even and
    clamped to 0..255, as torch's round_, clamp_ and conversion, in one pass that also moves the
    channels last."""
    for b in range(images.shape[0]):
        for y in range(images.shape[2]):
            for x in range(images.shape[3]):
                for c in range(3):
                    out[b, y, x, c] = np.uint8(min(max(np.rint(images[b, c, y, x]), _ZERO), np.float32(255.0)))


# ----------------------------------------------------------------------------------------------
# Painting a chunk
# ----------------------------------------------------------------------------------------------

def painted_parts(background, seed: int, indices: np.ndarray, config: SynthConfig):
    """Paint the chunk ``indices`` a few images at a time, yielding (slice of the chunk, float32
    images (b, 3, S, S)) per part; ``background(part_indices)`` gives a part's canvases.

    The shape and salient tables are drawn for the whole chunk (many small torch ops, paid once);
    the backgrounds and textures are made, painted and handed on one part (NOISE_PIXELS) at a time,
    so the canvases stay in cache from the noise to the caller's quantisation instead of making a
    round trip through memory per chunk. Same shapes, order and arithmetic as the tile rasteriser.
    """
    count = config.n_shapes
    shapes = [t.numpy() for t in _fused_shapes(seed, indices, config)]
    salient, texture_side, anchor = _fused_salient(seed, indices, config)
    step = max(1, NOISE_PIXELS // config.resolution**2)
    for low in range(0, len(indices), step):
        part = slice(low, min(low + step, len(indices)))
        images = background(indices[part]).contiguous()
        texture = torch.zeros(len(indices[part]), 3, 0, 0)
        if texture_side:
            texture = ps_noise(seed, indices[part], TEXTURE_NOISE, texture_side, config, "cpu")
        paint_images(images.numpy(), count, *(t[part.start * count:part.stop * count] for t in shapes),
                     *(t[part] for t in salient), texture.numpy(), anchor[part],
                     config.antialias, config.geometry == "published")
        yield part, images


def _fused_shapes(seed: int, indices: np.ndarray, config: SynthConfig) -> list[Tensor]:
    """paint_images' shape arguments: family, colour, and the round, box and rectangle coefficients
    one row per shape (empty without shapes)."""
    if not config.n_shapes:
        return [torch.zeros(0, dtype=torch.int64)] + [torch.zeros(0, width) for width in (3, 15, 9, 4)]
    table = shape_table(seed, indices, config, "cpu")
    return [torch.from_numpy(table.family.astype(np.int64)), table.colour,
            *(t.T.contiguous() for t in (table.round, table.box, table.rectangle))]


def _fused_salient(seed: int, indices: np.ndarray, config: SynthConfig) -> tuple[list[np.ndarray], int, np.ndarray]:
    """paint_images' salient-object arguments one row per image (family, colour, round (ellipse +
    support) and rectangle coefficients; empty without saliency), the side of its PS-noise texture
    (0 for a flat colour) and the texture's anchor (B, 2)."""
    if not config.saliency:
        empty = [np.zeros(0, np.int64), np.zeros((0, 3), np.float32), np.zeros((0, 15), np.float32),
                 np.zeros((0, 4), np.float32)]
        return empty, 0, np.zeros((len(indices), 2), np.int64)
    objects = salient_objects(seed, indices, config, "cpu")
    side, anchor_y, anchor_x = texture_placement(config, objects)
    rows = [torch.from_numpy(objects.family.astype(np.int64)), objects.colour.contiguous(),
            torch.cat([objects.ellipse, objects.support]).T.contiguous(), objects.rectangle.T.contiguous()]
    side = side if config.shape_texture == "ps-noise" else 0
    return [t.numpy() for t in rows], side, torch.stack([anchor_y, anchor_x], 1).numpy()
