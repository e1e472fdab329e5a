"""Batched, anti-aliased rasteriser of elementary shapes on tile-major canvases.

A canvas holds a batch of images cut into T x T tiles and stored tile-major,
``tiles[(b * n + ty) * n + tx] = image_b[:, ty*T:(ty+1)*T, tx*T:(tx+1)*T]``. Drawing a group of
shapes whose footprints do not share tiles (e.g. one shape per image) lists those tiles as one
flat ``TileList``, computes every listed pixel's coverage, copies the tiles out with
``index_select`` (contiguous T*T*C blocks, near memcpy speed), blends and adds the change back
with ``index_add_``. Per-pixel gathers and scatters (fancy indexing) cost 10-20x more per pixel
on CPU, and dominated an earlier sketch.

Coverage is a function of each pixel's absolute centre coordinates and the shape, exactly 0 outside
the shape's support (its bounding box widened by MARGIN, or for lines the band of pixels within
MARGIN of the thick segment); footprints hold every tile meeting the support. So the result does
not depend on the tile size, on the batch, or on which other tiles a footprint happens to include:
pixels with coverage 0 keep their value bit for bit. Only exact IEEE operations (+, -, *, /,
correctly rounded ``sqrt``, abs, min/max, clamp) touch per-pixel data, never transcendental
functions or fused multiply-adds, whose vectorised and scalar code paths can differ in the last bit
and would make a pixel depend on its position in the batch or on the thread count. The same
operations in the same order make fused_raster.py's compiled CPU rasteriser give the same bytes.

Anti-aliasing: coverage = clamp(0.5 - d, 0, 1) with d a signed distance in pixels (first order
for ellipses, exact pixel-area overlap for axis-aligned rectangles), a one-pixel ramp across each
edge; shapes thinner than a pixel are scaled by ``subpixel_gain`` so their ink stays close to
their area. ``antialias=False`` thresholds the distance at 0 (hard, aliased edges).

Coordinates are in pixels: x to the right, y down, pixel (i, j) centred at (i + 0.5, j + 0.5).
Coverage is computed in (T, T, N) layout (tile index innermost, see ``pixel_grid``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

LINE, ROUND, RECTANGLE = 0, 1, 2   # shape families: a thick segment, an ellipse, an axis-aligned rectangle
MIN_SIZE = 1e-3   # pixels: smaller semi-axes are clamped (their ink is ~0 anyway), avoiding 0/0
MARGIN = 0.5      # pixels added around a shape's bounding box for its support (anti-aliasing ramp)
BAND_SLACK = 0.01 # pixels added to a line's band, far above rounding errors, so it holds every inked pixel


def sqrt(x: Tensor) -> Tensor:
    """Correctly rounded square root of float32 ``x``: computed in float64, then rounded.

    torch.sqrt on CPU goes through MKL's VML and is not correctly rounded: about 15% of float32
    results differ by an ulp from IEEE sqrt here, and MKL picks its code by CPU model. A float64
    square root rounded to float32 is the correctly rounded result (float64 carries more than twice
    float32's bits), the one numba's compiled sqrt gives in fused_raster.py, on any CPU.
    """
    return torch.sqrt(x.double()).to(x.dtype)


def move_rows(x: Tensor, shape: tuple, order: tuple) -> Tensor:
    """``x.reshape(shape).permute(order).contiguous()`` for float32 ``x`` whose last axis stays last.

    When that axis (a tile row) holds a multiple of 4 floats, rows are moved as 16-byte complex128
    words, which torch copies 2-3x faster than float by float; the bits are only moved, never
    computed on.
    """
    if shape[-1] % 4 or x.dtype != torch.float32 or not x.is_contiguous():
        return x.reshape(shape).permute(order).contiguous()
    words = x.view(torch.complex128).reshape(*shape[:-1], shape[-1] // 4)
    return words.permute(order).contiguous().view(torch.float32)


def cut_tiles(images: Tensor, image: Tensor, top: Tensor, left: Tensor, tile: int) -> Tensor:
    """Blocks (N, C, T, T) of float32 ``images`` (B, C, H, W) with top-left pixel (top, left) in image
    ``image`` ((N,) int64 each, ``left`` a multiple of 4 when T and W are), read with wrap-around
    (pixel coordinates modulo H and W: the images are periodic fields).

    Gathers tile rows as 16-byte words when T % 4 == 0: much cheaper than re-tiling whole images
    when only some tiles are needed.
    """
    batch, channels, height, width = images.shape
    per_word = 4 if tile % 4 == 0 and width % 4 == 0 else 1
    words = images.view(torch.complex128) if per_word == 4 else images
    device = images.device
    channel = torch.arange(channels, device=device)[:, None, None]
    rows = torch.remainder(top[:, None] + torch.arange(tile, device=device), height)
    row_words = width // per_word
    cols = torch.remainder(torch.div(left, per_word, rounding_mode="floor")[:, None]
                           + torch.arange(tile // per_word, device=device), row_words)
    index = (((image[:, None, None, None] * channels + channel) * height + rows[:, None, :, None]) * row_words
             + cols[:, None, None, :])
    blocks = words.reshape(-1).index_select(0, index.reshape(-1))
    return (blocks.view(torch.float32) if per_word == 4 else blocks).view(len(image), channels, tile, tile)


@dataclass
class TileCanvas:
    """A batch of C-channel float32 images of side ``size``, stored as (B * n * n, C, T, T) tiles."""

    tiles: Tensor
    batch: int
    size: int
    tile: int

    @property
    def per_side(self) -> int:
        """Tiles along each side (the canvas is padded up to per_side * tile pixels)."""
        return -(-self.size // self.tile)

    @classmethod
    def from_images(cls, images: Tensor, tile: int) -> "TileCanvas":
        """Cut (B, C, S, S) images into tiles (the right/bottom padding is zero)."""
        batch, channels, size, _ = images.shape
        n = -(-size // tile)
        if n * tile != size:
            images = torch.nn.functional.pad(images, (0, n * tile - size, 0, n * tile - size))
        tiles = move_rows(images.contiguous(), (batch, channels, n, tile, n, tile), (0, 2, 4, 1, 3, 5))
        return cls(tiles.reshape(batch * n * n, channels, tile, tile), batch, size, tile)

    def to_images(self) -> Tensor:
        """The (B, C, S, S) images (a copy)."""
        n, t = self.per_side, self.tile
        channels = self.tiles.shape[1]
        images = move_rows(self.tiles, (self.batch, n, n, channels, t, t), (0, 3, 1, 4, 2, 5))
        return images.reshape(self.batch, channels, n * t, n * t)[:, :, : self.size, : self.size]


@dataclass
class TileList:
    """A flat list of N canvas tiles: row in ``TileCanvas.tiles``, top-left pixel, owning shape."""

    ids: Tensor      # (N,) int64, no duplicates
    y0: Tensor       # (N,) float32
    x0: Tensor       # (N,) float32
    owner: Tensor    # (N,) int64: index of the shape (in the group) the tile belongs to
    tile: int


def _expand(counts: Tensor) -> tuple[Tensor, Tensor]:
    """For shapes with ``counts`` tiles each: the owner of every tile and its rank within its shape."""
    owner = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)
    first = torch.cumsum(counts, 0).sub_(counts)
    return owner, torch.arange(len(owner), device=counts.device).sub_(first.index_select(0, owner))


def _tile_list(canvas: TileCanvas, image: Tensor, owner: Tensor, rows: Tensor, cols: Tensor) -> TileList:
    """TileList of tiles (rows, cols) of the images ``image[owner]``."""
    n_side, t = canvas.per_side, canvas.tile
    ids = (image.index_select(0, owner) * n_side + rows) * n_side + cols
    return TileList(ids, (rows * t).float(), (cols * t).float(), owner, t)


def _tile_of(pixel: Tensor, tile: int, n_side: int) -> Tensor:
    """Tile index containing pixel coordinate ``pixel``, clamped to the canvas."""
    return torch.div(pixel, tile, rounding_mode="floor").clamp_(0, n_side - 1).long()


def support(cy: Tensor, cx: Tensor, ey: Tensor, ex: Tensor) -> Tensor:
    """Support box (4, ...) = top, bottom, left, right of a shape centred at (cy, cx) with bounding-box
    half-sizes (ey, ex), widened by MARGIN. Coverage is exactly 0 for pixel centres outside it."""
    return torch.stack([cy - ey - MARGIN, cy + ey + MARGIN, cx - ex - MARGIN, cx + ex + MARGIN])


def box_tiles(canvas: TileCanvas, image: Tensor, top: Tensor, bottom: Tensor, left: Tensor, right: Tensor) -> TileList:
    """Tiles holding a pixel centre inside each support box (pixels i with top <= i + 0.5 <= bottom, ...)."""
    n_side, t = canvas.per_side, canvas.tile
    first_row, first_col = _tile_of(top, t, n_side), _tile_of(left, t, n_side)
    width = _tile_of(right, t, n_side) - first_col + 1
    owner, rank = _expand((_tile_of(bottom, t, n_side) - first_row + 1) * width)
    width = width.index_select(0, owner)
    down = torch.div(rank, width, rounding_mode="floor")
    return _tile_list(canvas, image, owner, first_row.index_select(0, owner) + down,
                      first_col.index_select(0, owner) + rank - down * width)


def band_tiles(canvas: TileCanvas, image: Tensor, p0: Tensor, p1: Tensor, reach: Tensor) -> TileList:
    """Tiles within ``reach`` + MARGIN pixels of the segments p0 -> p1 ((n, 2) as (y, x)).

    Along each segment's major axis, per tile column (or row) it spans, the run of tiles across it
    that meets the band of the line's (reach + MARGIN) / cos(angle) on each side of the centre line
    over that column (its length fitted to each column: ~25% fewer tiles than a fixed run).
    """
    n_side, t = canvas.per_side, canvas.tile
    along_x = (p1[:, 1] - p0[:, 1]).abs() >= (p1[:, 0] - p0[:, 0]).abs()
    a = torch.where(along_x[:, None], p0.flip(1), p0)       # (major, minor) coordinates
    b = torch.where(along_x[:, None], p1.flip(1), p1)
    d_major = b[:, 0] - a[:, 0]
    slope = (b[:, 1] - a[:, 1]) / torch.where(d_major == 0, 1.0, d_major)
    half = (reach + MARGIN + BAND_SLACK) * sqrt(1 + slope * slope)
    start = torch.minimum(a[:, 0], b[:, 0]) - half
    stop = torch.maximum(a[:, 0], b[:, 0]) + half
    first = _tile_of(start, t, n_side)
    line, step = _expand(_tile_of(stop, t, n_side) - first + 1)      # one entry per tile column
    column = first.index_select(0, line) + step
    edge0 = (column * t).float().maximum(start.index_select(0, line))
    edge1 = (column * t + t).float().minimum(stop.index_select(0, line))
    a_major, a_minor = (a[:, i].contiguous().index_select(0, line) for i in (0, 1))  # 1-D gathers: fast
    slope_t, half_t = slope.index_select(0, line), half.index_select(0, line)
    at0, at1 = (edge0 - a_major).mul_(slope_t), (edge1 - a_major).mul_(slope_t)
    low = _tile_of(torch.minimum(at0, at1).add_(a_minor).sub_(half_t), t, n_side)
    high = _tile_of(torch.maximum(at0, at1).add_(a_minor).add_(half_t), t, n_side)
    col, rank = _expand(high - low + 1)
    across = low.index_select(0, col) + rank
    column = column.index_select(0, col)
    x_major = along_x.index_select(0, line).index_select(0, col)
    return _tile_list(canvas, image, line.index_select(0, col), torch.where(x_major, across, column),
                      torch.where(x_major, column, across))


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


def _columns(coefficients: Tensor) -> list[Tensor]:
    """Rows of (F, N) per-tile constants, each (N,) and contiguous (broadcast over (T, T, N))."""
    return list(coefficients.unbind(0))


def pixel_grid(tiles: TileList) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates in (T, T, N) layout: y (T, 1, N), x (1, T, N).

    The tile index is the innermost axis, so per-tile constants broadcast along contiguous memory
    (2.5-5x faster than (N, T, T) with (N, 1, 1) constants, whose inner loops are only T long).
    """
    offsets = torch.arange(tiles.tile, device=tiles.ids.device, dtype=torch.float32) + 0.5
    return tiles.y0 + offsets[:, None, None], tiles.x0 + offsets[None, :, None]


def _ramp(level: Tensor, half_gain: Tensor, gain: Tensor, antialias: bool, inside: Tensor | None = None) -> Tensor:
    """Coverage from gain * d: clamp(gain/2 - gain*d, 0, gain) (or d <= 0 without anti-aliasing), in
    place, times ``inside`` (0 or 1) if given: 2-3 passes over the pixels."""
    if not antialias:
        return (level <= 0).float()
    level = torch.sub(half_gain, level, out=level)
    level = torch.clamp(level, min=torch.zeros((), device=level.device), max=gain, out=level)
    return level if inside is None else level.mul_(inside)


def _inside(y: Tensor, x: Tensor, top: Tensor, bottom: Tensor, left: Tensor, right: Tensor) -> Tensor:
    """1 for pixel centres inside the support box, else 0: (T, 1, N) x (1, T, N) -> (T, T, N)."""
    return ((y >= top) & (y <= bottom)).float() * ((x >= left) & (x <= right)).float()


def ellipse_coverage(tiles: TileList, coefficients: Tensor, antialias: bool) -> Tensor:
    """Coverage (T, T, N) of filled ellipses; ``coefficients`` (15, N) per tile: ``ellipse_coefficients``
    then the ``support`` box, outside which the coverage is exactly 0.

    With rho = |(U, V)| the distance in units of the semi-axes, d = rho (rho - 1) / |(U/a, V/b)| =
    (rho - 1) / |grad rho|: the exact signed distance for circles, first-order accurate at the edge
    of ellipses. A 1e-15 offset of U keeps the centre pixel off 0 / 0.
    """
    cy, cx, ux, uy, vx, vy, half_gain, ka, kb, gain, scale, *box = _columns(coefficients)
    y, x = pixel_grid(tiles)
    dy, dx = y - cy, x - cx
    u = dx * ux + (dy * uy + 1e-15)
    v = dx * vx + dy * vy
    uu, vv = u.mul_(u), v.mul_(v)
    square = torch.add(uu, vv)                               # gain * rho^2
    inside = _inside(y, x, *box)
    if not antialias:
        return (square <= gain).float().mul_(inside)
    level = square.sub_(sqrt(square).mul_(scale))           # gain * rho (rho - 1)
    slope = sqrt(uu.mul_(ka).add_(vv.mul_(kb)))              # |(U/a, V/b)|
    return _ramp(level.div_(slope), half_gain, gain, antialias, inside)


def box_coverage(tiles: TileList, coefficients: Tensor, antialias: bool) -> Tensor:
    """Coverage (T, T, N) of filled rotated boxes; ``coefficients`` (8, N) per tile, from ``box_coefficients``.

    d = max(|u| - half_u, |v| - half_v): exact inside, the Chebyshev distance outside (square
    corners, as a box filter gives).
    """
    cy, cx, cos_g, sin_g, half_u, half_v, half_gain, gain = _columns(coefficients)
    y, x = pixel_grid(tiles)
    dy, dx = y - cy, x - cx
    u = (dx * cos_g + dy * sin_g).abs_().sub_(half_u)
    v = (dy * cos_g - dx * sin_g).abs_().sub_(half_v)
    return _ramp(torch.maximum(u, v), half_gain, gain, antialias)


def rectangle_coverage(tiles: TileList, coefficients: Tensor, antialias: bool) -> Tensor:
    """Coverage (T, T, N) of axis-aligned rectangles, (4, N) edges: exact pixel-area overlap, separable."""
    top, bottom, left, right = _columns(coefficients)
    y, x = pixel_grid(tiles)
    if not antialias:
        return ((y >= top) & (y <= bottom)).float() * ((x >= left) & (x <= right)).float()
    rows = (torch.minimum(y + 0.5, bottom) - torch.maximum(y - 0.5, top)).clamp_(0, 1)
    cols = (torch.minimum(x + 0.5, right) - torch.maximum(x - 0.5, left)).clamp_(0, 1)
    return rows * cols


@dataclass
class Layer:
    """Listed tiles ready to composite: ``coverage`` (N, 1, T, T) in tile-major order and ``paint``,
    a colour per tile (N, C, 1, 1) or a texture (N, C, T, T)."""

    ids: Tensor
    coverage: Tensor
    paint: Tensor

    @classmethod
    def paint_over(cls, tiles: TileList, coverage: Tensor, paint: Tensor) -> "Layer":
        """Layer of ``coverage`` (T, T, N) with a colour per tile (N, C) or a texture (N, C, T, T).

        The coverage is transposed once to tile-major order (~0.6 ns per pixel).
        """
        t = tiles.tile
        coverage = coverage.reshape(t * t, -1).T.contiguous().view(-1, 1, t, t)
        return cls(tiles.ids, coverage, paint[:, :, None, None] if paint.dim() == 2 else paint)

    def part(self, start: int, stop: int) -> "Layer":
        """Tiles start..stop-1 of the layer (views)."""
        return Layer(self.ids[start:stop], self.coverage[start:stop], self.paint[start:stop])


def composite(canvas: TileCanvas, layer: Layer) -> None:
    """Blend ``layer`` over the canvas, in place: tile += coverage * (paint - tile) (its tiles are distinct).

    Adding the change with ``index_add_`` is 1.4-2.3x faster than writing new tiles with
    ``index_copy_``, which copies element by element; with distinct tiles it is deterministic.
    A pixel with coverage 0 keeps its value exactly; with coverage 1 it gets the paint to
    within a rounding of the last bit. With small tiles (T <= 4), multiplying one channel at a time
    is ~3x faster than broadcasting the coverage over the channels (whose inner loops are T*T long).
    """
    old = canvas.tiles.index_select(0, layer.ids)
    change = torch.sub(layer.paint, old, out=old)
    if canvas.tile <= 4:
        coverage = layer.coverage.reshape(len(old), -1)
        for c in range(old.shape[1]):
            change[:, c].view(len(old), -1).mul_(coverage)
    else:
        change.mul_(layer.coverage)
    canvas.tiles.index_add_(0, layer.ids, change)

