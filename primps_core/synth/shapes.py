"""The shapes of an image: what is drawn, where, how large, in which colour; and their geometry.

``shape_table`` draws every shape of a chunk of images (kind, colour, position, size) from the
``rng.SHAPES`` stream and ``salient_objects`` each image's salient object from ``rng.SALIENT``;
both turn them into per-shape coefficients that both rasterisers (raster_tiles.py and
raster_fused.py) evaluate at pixel centres. Two geometries:

- ``published`` (the default): the official code's integer draws (``synth.official``) on its
  256-pixel grid, scaled to the resolution. Pixel (i, j) of an N-px image is centred on the centre
  of grid pixel (i, j) * 256 / N, so with hard edges an N-px image shows the shapes of the 256 px
  one point-sampled (exactly, when N divides 256). The shapes are calibrated to OpenCV's
  rasterisation (circles cover the grid pixels within r, ellipses within the axes widened by the
  offsets of ``opencv_ellipses`` that give OpenCV's mean pixel count, a line of
  thickness t >= 2 is a band of half-width w + 1/2 with discs of radius w at its ends, w =
  ceil(t/2), as OpenCV fills its polygon and caps; one-pixel lines one pixel per step).
- ``continuous``: the study's own reading: continuous sizes in fractions of the width, lines at any
  orientation, ellipses at any angle, a salient object centred within +-10%.

Coordinates are in pixels: x to the right, y down, pixel (i, j) centred at (i + 0.5, j + 0.5).
Each shape has a support box (its bounding box widened by ``MARGIN``) outside which its coverage is
exactly 0. Anti-aliasing gives a one-pixel coverage ramp across each edge; shapes thinner than a
pixel are scaled by ``subpixel_gain`` so their ink stays close to their area. Per-image parameters
that need transcendental functions are computed in float64 numpy and rounded to float32; per-shape
coefficients use only exact IEEE operations and correctly rounded square roots (``sqrt``), so they
do not depend on an element's position in the batch or on the thread count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch
from torch import Tensor

from . import opencv_ellipses
from .config import SynthConfig
from .rng import AUX, SALIENT, SHAPES, gaussians, image_keys, uniforms

LINE, ROUND, RECTANGLE = 0, 1, 2   # shape families: a thick segment, an ellipse, an axis-aligned rectangle
MIN_SIZE = 1e-3   # pixels: smaller semi-axes are clamped (their ink is ~0 anyway), avoiding 0/0
MARGIN = 0.5      # pixels added around a shape's bounding box for its support (anti-aliasing ramp)
BAND_SLACK = 0.01 # pixels added to a line's band, far above rounding errors, so it holds every inked pixel
FIRST_LIMIT, LAST_LIMIT = 1 / 5, 1 / 100
SALIENT_JITTER = 0.1
SALIENT_RADII = (1 / 4, 3 / 8)
TEXTURE_ALIGN = 4         # pixels: the texture's anchor (a multiple of it) and side
GRID = 256                # the official code's one size: published geometry is drawn on this integer grid
CIRCLE_SLACK = 1 / 256    # grid pixels added to a published circle's radius: keeps its rim pixels (distance
                          # exactly r) inside despite rounding, far below the gap to the next (>= 1 / (2r + 1))


# ----------------------------------------------------------------------------------------------
# Geometry: per-shape coefficients shared by both rasterisers
# ----------------------------------------------------------------------------------------------

def sqrt(x: Tensor) -> Tensor:
    """Correctly rounded square root of float32 ``x``: computed in float64, then rounded.

    torch.sqrt on CPU goes through MKL's VML and is not correctly rounded: about 15% of float32
    results differ by an ulp from IEEE sqrt here, and MKL picks its code by CPU model. A float64
    square root rounded to float32 is the correctly rounded result (float64 carries more than twice
    float32's bits), the one numba's compiled sqrt gives in raster_fused.py, on any CPU.
    """
    return torch.sqrt(x.double()).to(x.dtype)


def support(cy: Tensor, cx: Tensor, ey: Tensor, ex: Tensor) -> Tensor:
    """Support box (4, ...) = top, bottom, left, right of a shape centred at (cy, cx) with bounding-box
    half-sizes (ey, ex), widened by MARGIN. Coverage is exactly 0 for pixel centres outside it."""
    return torch.stack([cy - ey - MARGIN, cy + ey + MARGIN, cx - ex - MARGIN, cx + ex + MARGIN])


def subpixel_gain(half_width: Tensor) -> Tensor:
    """Ink scale for a strip ``half_width`` pixels thick: 2w / (w + 0.5)^2 below half a pixel, else 1.

    A one-pixel coverage ramp spreads a strip of half-width w < 0.5 over (w + 0.5)^2 per unit
    length instead of its true 2w; the gain restores the true amount (used across lines and boxes).
    """
    w = half_width.clamp_min(0)
    return torch.where(w < 0.5, 2 * w / ((w + 0.5) * (w + 0.5)), torch.ones_like(w))


def round_gain(semi_a: Tensor, semi_b: Tensor) -> Tensor:
    """Ink scale for an ellipse: the strip gains of both axes times min(1, 3 (m + 0.5) / 4), m the
    larger semi-axis. For a disc of radius r < 0.5 this is 3 r^2 / (r + 0.5)^3, the exact ratio of
    its area to the ink of its one-pixel ramp; it stays within ~12% above, and tends to 1 (opaque
    interiors) from m = 5/6 pixel on."""
    larger = torch.maximum(semi_a, semi_b)
    return subpixel_gain(semi_a) * subpixel_gain(semi_b) * torch.clamp(0.75 * (larger + 0.5), max=1.0)


def ellipse_coefficients(cy: Tensor, cx: Tensor, semi_a: Tensor, semi_b: Tensor, cos_t: Tensor,
                         sin_t: Tensor) -> Tensor:
    """Per-ellipse constants (11, ...) for ``ellipse_coverage``; axis a points along (cos t, sin t) in (x, y).

    U = (dx cos + dy sin) / a and V = (dy cos - dx sin) / b are pre-scaled by c = sqrt(gain), so that
    gain * d comes out of the per-pixel arithmetic with no extra pass.
    """
    semi_a, semi_b = semi_a.clamp_min(MIN_SIZE), semi_b.clamp_min(MIN_SIZE)
    gain = round_gain(semi_a, semi_b)
    scale = sqrt(gain)
    return torch.stack([cy, cx, cos_t * scale / semi_a, sin_t * scale / semi_a, -sin_t * scale / semi_b,
                        cos_t * scale / semi_b, gain * 0.5, 1 / (semi_a * semi_a * gain),
                        1 / (semi_b * semi_b * gain), gain, scale])


def ellipse_extent(semi_a: Tensor, semi_b: Tensor, cos_t: Tensor, sin_t: Tensor) -> tuple[Tensor, Tensor]:
    """Half-height and half-width (ey, ex) of the rotated ellipse's bounding box."""
    a_cos, a_sin, b_cos, b_sin = semi_a * cos_t, semi_a * sin_t, semi_b * cos_t, semi_b * sin_t
    return sqrt(a_sin * a_sin + b_cos * b_cos), sqrt(a_cos * a_cos + b_sin * b_sin)


def box_coefficients(cy: Tensor, cx: Tensor, half_u: Tensor, half_v: Tensor, cos_t: Tensor,
                     sin_t: Tensor) -> Tensor:
    """Per-box constants (9, ...) for ``box_coverage``: a box half_u along (cos t, sin t), half_v across
    (the last row, a capped line's cap radius, is 0: unused)."""
    half_u, half_v = half_u.clamp_min(MIN_SIZE), half_v.clamp_min(MIN_SIZE)
    gain = subpixel_gain(half_u) * subpixel_gain(half_v)
    return torch.stack([cy, cx, cos_t * gain, sin_t * gain, half_u * gain, half_v * gain, gain * 0.5, gain,
                        torch.zeros_like(gain)])


def capsule_coefficients(y0: Tensor, x0: Tensor, y1: Tensor, x1: Tensor, half_width: Tensor, cap: Tensor) -> Tensor:
    """``box_coefficients`` of a thick line drawn as OpenCV draws it: the box of ``half_width`` along the
    segment (y0, x0) - (y1, x1) united with discs of radius ``cap`` at its ends (the rasterisers'
    ``capsule`` mode); the ink gain is the half-width's."""
    dy, dx = y1 - y0, x1 - x0
    length = sqrt(dy * dy + dx * dx)
    safe = length.clamp_min(1e-12)
    half_width = half_width.clamp_min(MIN_SIZE)
    gain = subpixel_gain(half_width)
    cos_t, sin_t = torch.where(length > 0, dx / safe, 1.0), dy / safe
    return torch.stack([(y0 + y1) * 0.5, (x0 + x1) * 0.5, cos_t * gain, sin_t * gain, length * 0.5 * gain,
                        half_width * gain, gain * 0.5, gain, cap * gain])


def rectangle_coefficients(cy: Tensor, cx: Tensor, half_h: Tensor, half_w: Tensor) -> Tensor:
    """Per-rectangle constants (4, ...): top, bottom, left, right edges."""
    return torch.stack([cy - half_h, cy + half_h, cx - half_w, cx + half_w])


# ----------------------------------------------------------------------------------------------
# Random draws shared by both geometries
# ----------------------------------------------------------------------------------------------

def randint(u: Tensor, low, high) -> Tensor:
    """numpy's ``randint(low, high)`` from float32 uniforms ``u`` in [0, 1): low + floor(u (high - low)),
    kept below ``high`` (``low``, ``high`` numbers or tensors of whole numbers; exact in float32)."""
    span = high - low
    return low + torch.minimum(torch.floor(u * span), torch.as_tensor(span - 1, dtype=u.dtype, device=u.device))


def colour_levels(u: Tensor, geometry: str) -> Tensor:
    """Colour levels from uniforms: the official ``randint(0, 255)`` (0..254) for the published
    geometry, 0..255 for the continuous one."""
    return randint(u, 0, 255) if geometry == "published" else randint(u, 0, 256)


def to_pixels(grid: Tensor, size: int) -> Tensor:
    """Positions on the official 256 grid (grid pixel j spans [j, j + 1)) to pixel coordinates at
    ``size`` px: pixel centre i + 0.5 lands on the centre of grid pixel i * 256 / size."""
    scale = size / GRID
    return (grid - 0.5) * scale + 0.5


def ellipse_offsets(table: tuple, first: int, a: Tensor, b: Tensor) -> Tensor:
    """The calibrated offset of ``opencv_ellipses`` for integer semi-axes (a, b) (float tensors of whole
    numbers, ``first`` the table's smallest axis): OpenCV fills ellipses as polygons, whose pixel
    counts the analytic ellipse meets only with an offset that depends on the axes."""
    offsets = torch.tensor(table, dtype=torch.float32, device=a.device)
    return offsets[(a - first).long().clamp(0, len(table) - 1), (b - first).long().clamp(0, len(table) - 1)]


def _degrees(device) -> tuple[Tensor, Tensor]:
    """cos and sin of 0..179 whole degrees (float64 numpy rounded to float32: no device dependence)."""
    angles = np.deg2rad(np.arange(180))
    return (torch.from_numpy(np.cos(angles).astype(np.float32)).to(device),
            torch.from_numpy(np.sin(angles).astype(np.float32)).to(device))


# ----------------------------------------------------------------------------------------------
# The 100 shapes
# ----------------------------------------------------------------------------------------------

def size_limits(n_shapes: int) -> np.ndarray:
    """Continuous geometry: size limit of each shape as a fraction of the width, 1/5 (first) to
    1/100 (last), linear."""
    if n_shapes == 1:
        return np.array([FIRST_LIMIT])
    return np.linspace(FIRST_LIMIT, LAST_LIMIT, n_shapes)


def published_limits(n_shapes: int) -> np.ndarray:
    """Published geometry: the official ``round(256 // 5 * (n - i) / n + 2)`` in grid pixels
    (53 for the first of 100 shapes, 3 for the last); sizes are then ``randint(1, limit)``."""
    return np.round(GRID // 5 * (n_shapes - np.arange(n_shapes)) / n_shapes + 2)


def _unit_direction(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(cos, sin) of a uniform angle: two independent normals divided by their norm."""
    norm = sqrt(x * x + y * y).clamp_min(1e-12)
    return x / norm, y / norm


@dataclass
class ShapeTable:
    """Every shape of a chunk, one column per (image b, shape k) at b * n_shapes + k.

    Coefficients for all three families are computed for every row (cheap, vectorised once) and
    each row is drawn with its own family's.
    """

    count: int                # shapes per image
    family: np.ndarray        # (rows,) LINE, ROUND (circle / ellipse) or RECTANGLE
    colour: Tensor            # (rows, 3)
    round: Tensor             # (15, rows) ellipse_coefficients (11) then the support box (4, rectangles too)
    segment: Tensor           # (5, rows) line end points (y0, x0, y1, x1) and its reach across
    box: Tensor               # (9, rows) box_coefficients (continuous) or capsule_coefficients (published) of the line
    rectangle: Tensor         # (4, rows) rectangle_coefficients


_FAMILY_OF_KIND = np.array([LINE, ROUND, ROUND, RECTANGLE])  # SHAPE_KINDS


def shape_table(seed: int, indices: np.ndarray, config: SynthConfig, device) -> ShapeTable:
    """Draw every shape of every image: kind, colour and geometry in pixels at the resolution.

    Nine uniforms per shape from ``rng.SHAPES`` (in contiguous columns (9, rows)): the kind (published
    weights restricted to ``shape_kinds``), three colour levels, then the geometry's draws
    (``_published_geometry`` or ``_continuous_geometry``).
    """
    count = config.n_shapes
    u = uniforms(image_keys(seed, indices, SHAPES, device), 9 * count, torch.float32)
    u = u.view(-1, 9).T.contiguous()
    bounds = np.cumsum(config.kind_weights)[:-1].astype(np.float32)
    kind = sum((u[0] >= float(b)).long() for b in bounds)
    geometry = _published_geometry if config.geometry == "published" else _continuous_geometry
    round_, segment, box, rectangle = geometry(seed, indices, u, kind, config, device)
    return ShapeTable(count=count, family=_FAMILY_OF_KIND[kind.cpu().numpy()],
                      colour=colour_levels(u[1:4], config.geometry).T.contiguous(),
                      round=round_, segment=segment, box=box, rectangle=rectangle)


def _published_geometry(seed, indices, u: Tensor, kind: Tensor, config: SynthConfig, device) -> tuple:
    """The official ``inject_particles`` on the 256 grid, scaled (see the module docstring).

    Circle: centre randint(0, 256) twice, radius randint(1, L). Ellipse: the same centre, axes
    randint(1, L) each, angle randint(0, 180) degrees. Rectangle: top-left corner randint(0, 255 - L)
    twice, sides randint(1, L), grid pixels corner..corner + side inclusive. Line: four coordinates
    randint(0, 255), sorted per axis (top-left to bottom-right), thickness randint(1, L).
    L = ``published_limits``; uniforms u[4..8] feed the draws in that order.
    """
    size, count = config.resolution, config.n_shapes
    scale = size / GRID
    limit = torch.from_numpy(published_limits(count).astype(np.float32)).to(device).repeat(len(indices))
    centre_y, centre_x = to_pixels(randint(u[4], 0, GRID) + 0.5, size), to_pixels(randint(u[5], 0, GRID) + 0.5, size)
    first, second = randint(u[6], 1, limit), randint(u[7], 1, limit)
    is_circle = kind == 1
    offset = ellipse_offsets(opencv_ellipses.SHAPES, opencv_ellipses.SHAPES_FIRST, first, second)
    semi_a = torch.where(is_circle, first + CIRCLE_SLACK, first + offset) * scale
    semi_b = torch.where(is_circle, semi_a, (second + offset) * scale)
    cos_table, sin_table = _degrees(device)
    angle = torch.where(kind == 2, randint(u[8], 0, 180), 0.0).long()
    cos_t, sin_t = cos_table[angle], sin_table[angle]
    ey, ex = ellipse_extent(semi_a, semi_b, cos_t, sin_t)
    corner_x, corner_y = randint(u[4], 0, 255 - limit), randint(u[5], 0, 255 - limit)
    top, left = to_pixels(corner_y, size), to_pixels(corner_x, size)
    bottom, right = to_pixels(corner_y + second + 1, size), to_pixels(corner_x + first + 1, size)
    ends = [randint(u[k], 0, 255) for k in (4, 5, 6, 7)]            # x1, x2, y1, y2
    x0, x1 = (to_pixels(v + 0.5, size) for v in (torch.minimum(ends[0], ends[1]), torch.maximum(ends[0], ends[1])))
    y0, y1 = (to_pixels(v + 0.5, size) for v in (torch.minimum(ends[2], ends[3]), torch.maximum(ends[2], ends[3])))
    thickness = randint(u[8], 1, limit)
    thin = _one_pixel_reach(y1 - y0, x1 - x0)
    cap = torch.where(thickness >= 2, torch.ceil(thickness * 0.5), thin) * scale
    half_width = torch.where(thickness >= 2, torch.ceil(thickness * 0.5) + 0.5, thin) * scale
    is_rect = kind == 3
    rect_support = torch.stack([top - MARGIN, bottom + MARGIN, left - MARGIN, right + MARGIN])
    support_box = torch.where(is_rect, rect_support, support(centre_y, centre_x, ey, ex))
    return (torch.cat([ellipse_coefficients(centre_y, centre_x, semi_a, semi_b, cos_t, sin_t), support_box]),
            torch.stack([y0, x0, y1, x1, half_width]),
            capsule_coefficients(y0, x0, y1, x1, half_width, cap),
            torch.stack([top, bottom, left, right]))


def _one_pixel_reach(dy: Tensor, dx: Tensor) -> Tensor:
    """Half-width (grid pixels) of OpenCV's one-pixel line: one pixel per step along the major axis,
    i.e. 1/2 measured along the minor axis, 1/2 cos(angle to the major axis) across the line."""
    length = sqrt(dy * dy + dx * dx)
    major = torch.maximum(dy.abs(), dx.abs())
    return torch.where(length > 0, 0.5 * major / length.clamp_min(1e-12), 0.5)


def _continuous_geometry(seed, indices, u: Tensor, kind: Tensor, config: SynthConfig, device) -> tuple:
    """The study's own reading: with L the size limit (``size_limits`` times the width), circles have
    radius U(0, L); ellipses semi-axes U(0, L) each and a uniform orientation; axis-aligned
    rectangles sides U(0, L) each; all with uniform centres. Lines join two uniform points with
    thickness U(0, L). Computed in float32 with exact operations only."""
    size, count = config.resolution, config.n_shapes
    normals = gaussians(image_keys(seed, indices, SHAPES + AUX, device), 2 * count).real
    cos_t, sin_t = _unit_direction(*normals.view(-1, 2).T.contiguous())
    limit = torch.from_numpy(size_limits(count).astype(np.float32) * size).to(device).repeat(len(indices))
    centre_y, centre_x, end_y, end_x = u[4] * size, u[5] * size, u[6] * size, u[7] * size
    semi_a = u[6] * limit
    semi_b = torch.where(kind == 1, semi_a, u[7] * limit)
    ey, ex = ellipse_extent(semi_a, semi_b, cos_t, sin_t)
    dy, dx = end_y - centre_y, end_x - centre_x
    length = sqrt(dy * dy + dx * dx)
    safe = length.clamp_min(1e-12)
    half_thickness = u[8] * limit * 0.5
    is_rect = kind == 3
    support_box = support(centre_y, centre_x, torch.where(is_rect, semi_a * 0.5, ey),
                          torch.where(is_rect, semi_b * 0.5, ex))
    return (torch.cat([ellipse_coefficients(centre_y, centre_x, semi_a, semi_b, cos_t, sin_t), support_box]),
            torch.stack([centre_y, centre_x, end_y, end_x, half_thickness]),
            box_coefficients((centre_y + end_y) * 0.5, (centre_x + end_x) * 0.5, length * 0.5, half_thickness,
                             torch.where(length > 0, dx / safe, 1.0), dy / safe),
            rectangle_coefficients(centre_y, centre_x, semi_a * 0.5, semi_b * 0.5))


# ----------------------------------------------------------------------------------------------
# The salient object
# ----------------------------------------------------------------------------------------------

@dataclass
class Salient:
    """The salient object of each image: family (ROUND or RECTANGLE), colour and coefficients."""

    family: np.ndarray        # (B,)
    colour: Tensor            # (B, 3)
    support: Tensor           # (4, B) support box
    ellipse: Tensor           # (11, B) ellipse_coefficients
    rectangle: Tensor         # (4, B)


def salient_objects(seed: int, indices: np.ndarray, config: SynthConfig, device) -> Salient:
    """One large circle, ellipse or rectangle (1/3 each) per image, in ``config.geometry``.

    Published (the official ``inject_saliency`` on the 256 grid, scaled): colour randint(0, 255);
    circle and ellipse centred at randint(103, 153) on each axis with radii randint(64, 96), the
    ellipse axis-aligned; the rectangle's top-left corner randint(32, 128) and sides randint(96, 192),
    clipped by the border (so often off-centre). Continuous: centred within +-10% of the middle,
    radii ~ U[1/4, 3/8] of the width, ellipses at any angle; a rectangle has half-sides
    r1 sqrt(pi)/2, r2 sqrt(pi)/2, the area of the ellipse with radii r1, r2 (so all three cover
    ~31% of the image on average).
    """
    size = config.resolution
    u = uniforms(image_keys(seed, indices, SALIENT, device), 8, torch.float32)
    kind = torch.floor(u[:, 0] * 3).long()                  # 0 circle, 1 ellipse, 2 rectangle
    is_rect = kind == 2
    colour = colour_levels(u[:, 5:8], config.geometry)
    if config.geometry == "published":
        scale = size / GRID
        cy, cx = (to_pixels(randint(u[:, i], GRID // 2 - GRID // 10, GRID // 2 + GRID // 10) + 0.5, size) for i in (1, 2))
        r1 = randint(u[:, 3], GRID // 4, 3 * GRID // 8)
        r2 = torch.where(kind == 0, r1, randint(u[:, 4], GRID // 4, 3 * GRID // 8))
        offset = ellipse_offsets(opencv_ellipses.SALIENT, opencv_ellipses.SALIENT_FIRST, r1, r2)
        r1, r2 = (torch.where(kind == 0, r + CIRCLE_SLACK, r + offset) * scale for r in (r1, r2))
        cos_t, sin_t = torch.ones_like(r1), torch.zeros_like(r1)
        left, top = (randint(u[:, i], GRID // 8, GRID // 2) for i in (1, 2))
        across, down = (randint(u[:, i], 3 * GRID // 8, 3 * GRID // 4) for i in (3, 4))
        edges = torch.stack([to_pixels(top, size), to_pixels(top + down + 1, size),
                             to_pixels(left, size), to_pixels(left + across + 1, size)])
    else:
        normals = gaussians(image_keys(seed, indices, SALIENT + AUX, device), 2).real
        cos_t, sin_t = _unit_direction(normals[:, 0], normals[:, 1])
        cy, cx = ((0.5 + SALIENT_JITTER * (2 * u[:, i] - 1)) * size for i in (1, 2))
        low, high = SALIENT_RADII
        r1 = (low + (high - low) * u[:, 3]) * size
        r2 = torch.where(kind == 0, r1, (low + (high - low) * u[:, 4]) * size)
        half = float(np.sqrt(np.pi) / 2)
        edges = rectangle_coefficients(cy, cx, r1 * half, r2 * half)
    ey, ex = ellipse_extent(r1, r2, cos_t, sin_t)
    widened = edges + torch.tensor([-MARGIN, MARGIN, -MARGIN, MARGIN], device=edges.device)[:, None]
    return Salient(
        family=np.where(is_rect.cpu().numpy(), RECTANGLE, ROUND),
        colour=colour,
        support=torch.where(is_rect, widened, support(cy, cx, ey, ex)),
        ellipse=ellipse_coefficients(cy, cx, r1, r2, cos_t, sin_t),
        rectangle=edges,
    )


def texture_placement(config: SynthConfig, salient: Salient) -> tuple[int, Tensor, Tensor]:
    """Side of the salient object's texture field and, per image, the pixel where it is anchored.

    Published: a whole-image field (side = resolution) at (0, 0), as the official code fills the
    object with a fresh full-size PS-noise image. Continuous: a smaller field anchored at the
    support's top-left corner rounded down to a multiple of TEXTURE_ALIGN (``texture_side``).
    """
    if config.geometry == "published":
        zero = torch.zeros(salient.support.shape[1], dtype=torch.int64, device=salient.support.device)
        return config.resolution, zero, zero
    top, _, left, _ = salient.support
    return texture_side(config.resolution), aligned(top).long(), aligned(left).long()


def texture_side(size: int) -> int:
    """Side of the continuous geometry's texture field at resolution ``size``.

    The texture is anchored at the support's top-left corner rounded down to a multiple of
    TEXTURE_ALIGN pixels and must hold the support from there; its side is the first such multiple
    with only factors 2, 3, 5 (fast FFT lengths). The field is periodic and read with wrap-around,
    so tiles that start before the anchor or end past the field (where the coverage is 0) need no
    extra margin: 32 px at 32 px, 200 px at 256 px.
    """
    reach = SALIENT_RADII[1] * size + MARGIN
    side = int(np.ceil(2 * reach)) + TEXTURE_ALIGN
    while side % TEXTURE_ALIGN or scipy.fft.next_fast_len(side, real=True) != side:
        side += 1
    return side


def aligned(pixel: Tensor) -> Tensor:
    """``pixel`` rounded down to a multiple of TEXTURE_ALIGN."""
    return torch.div(pixel, TEXTURE_ALIGN, rounding_mode="floor") * TEXTURE_ALIGN
