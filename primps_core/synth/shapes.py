"""The shapes of an image: what is drawn, where, how large, in which colour; and their geometry.

``shape_table`` draws every shape of a chunk of images (kind, colour, position, size) from the
``rng.SHAPES`` stream and ``salient_objects`` each image's salient object from ``rng.SALIENT``;
both turn them into per-shape coefficients that both rasterisers (raster_tiles.py and
raster_fused.py) evaluate at pixel centres. Geometry is in fractions of the width, so 32 px and
256 px images are the same distribution at two scales.

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
    """Per-box constants (8, ...) for ``box_coverage``: a box half_u along (cos t, sin t), half_v across."""
    half_u, half_v = half_u.clamp_min(MIN_SIZE), half_v.clamp_min(MIN_SIZE)
    gain = subpixel_gain(half_u) * subpixel_gain(half_v)
    return torch.stack([cy, cx, cos_t * gain, sin_t * gain, half_u * gain, half_v * gain, gain * 0.5, gain])


def rectangle_coefficients(cy: Tensor, cx: Tensor, half_h: Tensor, half_w: Tensor) -> Tensor:
    """Per-rectangle constants (4, ...): top, bottom, left, right edges."""
    return torch.stack([cy - half_h, cy + half_h, cx - half_w, cx + half_w])


# ----------------------------------------------------------------------------------------------
# The 100 shapes
# ----------------------------------------------------------------------------------------------

def size_limits(n_shapes: int) -> np.ndarray:
    """Size limit of each shape as a fraction of the width: 1/5 (first) to 1/100 (last), linear."""
    if n_shapes == 1:
        return np.array([FIRST_LIMIT])
    return np.linspace(FIRST_LIMIT, LAST_LIMIT, n_shapes)


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
    round: Tensor             # (15, rows) ellipse_coefficients (11) then the support box (4)
    segment: Tensor           # (5, rows) line end points (y0, x0, y1, x1) and half-thickness
    box: Tensor               # (8, rows) box_coefficients of the line
    rectangle: Tensor         # (4, rows) rectangle_coefficients


_FAMILY_OF_KIND = np.array([LINE, ROUND, ROUND, RECTANGLE])  # SHAPE_KINDS


def shape_table(seed: int, indices: np.ndarray, config: SynthConfig, device) -> ShapeTable:
    """Draw every shape of every image: kind, colour and geometry in pixels at the resolution.

    With L the size limit of the shape (``size_limits`` times the width): circles have radius
    U(0, L); ellipses semi-axes U(0, L) each and a uniform orientation; axis-aligned rectangles
    sides U(0, L) each; all with uniform centres. Lines join two uniform points with thickness
    U(0, L). Colours are uniform integers 0..255. Computed in float32 with exact operations only,
    on contiguous columns (9, rows) of uniforms.
    """
    count, size = config.n_shapes, config.resolution
    u = uniforms(image_keys(seed, indices, SHAPES, device), 9 * count, torch.float32)
    u = u.view(-1, 9).T.contiguous()
    normals = gaussians(image_keys(seed, indices, SHAPES + AUX, device), 2 * count).real
    cos_t, sin_t = _unit_direction(*normals.view(-1, 2).T.contiguous())
    bounds = np.cumsum(config.kind_weights)[:-1].astype(np.float32)
    kind = sum((u[0] >= float(b)).long() for b in bounds)
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
    return ShapeTable(
        count=count,
        family=_FAMILY_OF_KIND[kind.cpu().numpy()],
        colour=torch.floor(u[1:4] * 256).T.contiguous(),
        round=torch.cat([ellipse_coefficients(centre_y, centre_x, semi_a, semi_b, cos_t, sin_t), support_box]),
        segment=torch.stack([centre_y, centre_x, end_y, end_x, half_thickness]),
        box=box_coefficients((centre_y + end_y) * 0.5, (centre_x + end_x) * 0.5, length * 0.5, half_thickness,
                             torch.where(length > 0, dx / safe, 1.0), dy / safe),
        rectangle=rectangle_coefficients(centre_y, centre_x, semi_a * 0.5, semi_b * 0.5),
    )


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


def salient_objects(seed: int, indices: np.ndarray, size: int, device) -> Salient:
    """One large circle, ellipse or rectangle (1/3 each) per image, centred within +-10% of the middle.

    Radii ~ U[1/4, 3/8] of the width; a rectangle has half-sides r1 sqrt(pi)/2, r2 sqrt(pi)/2, the
    area of the ellipse with radii r1, r2 (so all three cover ~31% of the image on average).
    """
    u = uniforms(image_keys(seed, indices, SALIENT, device), 8, torch.float32)
    normals = gaussians(image_keys(seed, indices, SALIENT + AUX, device), 2).real
    cos_t, sin_t = _unit_direction(normals[:, 0], normals[:, 1])
    kind = torch.floor(u[:, 0] * 3).long()                  # 0 circle, 1 ellipse, 2 rectangle
    cy, cx = ((0.5 + SALIENT_JITTER * (2 * u[:, i] - 1)) * size for i in (1, 2))
    low, high = SALIENT_RADII
    r1 = (low + (high - low) * u[:, 3]) * size
    r2 = torch.where(kind == 0, r1, (low + (high - low) * u[:, 4]) * size)
    half_h, half_w = r1 * float(np.sqrt(np.pi) / 2), r2 * float(np.sqrt(np.pi) / 2)
    ey, ex = ellipse_extent(r1, r2, cos_t, sin_t)
    is_rect = kind == 2
    return Salient(
        family=np.where(is_rect.cpu().numpy(), RECTANGLE, ROUND),
        colour=torch.floor(u[:, 5:8] * 256),
        support=support(cy, cx, torch.where(is_rect, half_h, ey), torch.where(is_rect, half_w, ex)),
        ellipse=ellipse_coefficients(cy, cx, r1, r2, cos_t, sin_t),
        rectangle=rectangle_coefficients(cy, cx, half_h, half_w),
    )


def texture_side(size: int) -> int:
    """Side of the salient object's texture field at resolution ``size``.

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

