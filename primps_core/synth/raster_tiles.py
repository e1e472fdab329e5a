"""The tile rasteriser: shapes drawn batched over whole chunks with torch ops, on any device.

A canvas holds a batch of images cut into T x T tiles and stored tile-major,
``tiles[(b * n + ty) * n + tx] = image_b[:, ty*T:(ty+1)*T, tx*T:(tx+1)*T]``. Drawing a group of
shapes whose footprints do not share tiles (e.g. one shape per image) lists those tiles as one
flat ``TileList``, computes every listed pixel's coverage, copies the tiles out with
``index_select`` (contiguous T*T*C blocks, near memcpy speed), blends and adds the change back
with ``index_add_``. Per-pixel gathers and scatters (fancy indexing) cost 10-20x more per pixel
on CPU, and dominated an earlier sketch.

Coverage is a function of each pixel's absolute centre coordinates and the shape, exactly 0 outside
the shape's support (shapes.py); footprints hold every tile meeting the support. So the result
does not depend on the tile size, on the batch, or on which other tiles a footprint happens to
include: pixels with coverage 0 keep their value bit for bit. Only exact IEEE operations (+, -, *,
/, correctly rounded ``sqrt``, abs, min/max, clamp) touch per-pixel data, never transcendental
functions or fused multiply-adds, whose vectorised and scalar code paths can differ in the last bit
and would make a pixel depend on its position in the batch or on the thread count. The same
operations in the same order make raster_fused.py's compiled CPU rasteriser give the same bytes.

Anti-aliasing: coverage = clamp(0.5 - d, 0, 1) with d a signed distance in pixels (first order
for ellipses, exact pixel-area overlap for axis-aligned rectangles), a one-pixel ramp across each
edge. ``antialias=False`` thresholds the distance at 0 (hard, aliased edges). Coverage is computed
in (T, T, N) layout (tile index innermost, see ``pixel_grid``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .config import SynthConfig
from .noise import ps_noise
from .rng import TEXTURE_NOISE
from .shapes import (BAND_SLACK, LINE, MARGIN, RECTANGLE, ROUND, Salient, ShapeTable, salient_objects,
                     shape_table, sqrt, texture_placement)

BLOCK_PIXELS = 1 << 21    # tile pixels of the layers built together (bounds memory only)


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


def box_coverage(tiles: TileList, coefficients: Tensor, antialias: bool, capsule: bool = False) -> Tensor:
    """Coverage (T, T, N) of filled rotated boxes, or boxes with round caps; ``coefficients`` (9, N) per
    tile, from ``box_coefficients`` or ``capsule_coefficients``.

    Box: d = max(|u| - half_u, |v| - half_v): exact inside, the Chebyshev distance outside (square
    corners, as a box filter gives). Capped (``capsule``): the smaller of that and the distance to
    the segment minus the cap radius, |(max(|u| - half_u, 0), v)| - cap: the box united with discs
    at its ends (OpenCV's thick lines).
    """
    cy, cx, cos_g, sin_g, half_u, half_v, half_gain, gain, cap = _columns(coefficients)
    y, x = pixel_grid(tiles)
    dy, dx = y - cy, x - cx
    u = (dx * cos_g + dy * sin_g).abs_().sub_(half_u)
    across = (dy * cos_g - dx * sin_g).abs_()
    level = torch.maximum(u, across - half_v)
    if capsule:
        beyond = u.clamp_(min=0)
        level = torch.minimum(level, sqrt(beyond.mul_(beyond).add_(across.mul_(across))).sub_(cap))
    return _ramp(level, half_gain, gain, antialias)


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



# ----------------------------------------------------------------------------------------------
# Drawing a chunk
# ----------------------------------------------------------------------------------------------

def paint_tiles(background: Tensor, seed: int, indices, config: SynthConfig) -> Tensor:
    """The images ``indices`` painted over ``background`` (B, 3, S, S): float32 (B, 3, S, S)."""
    canvas = TileCanvas.from_images(background, tile_size(config.resolution))
    if config.n_shapes:
        draw_shapes(canvas, shape_table(seed, indices, config, background.device), config)
    if config.saliency:
        draw_salient(canvas, seed, indices, config, background.device)
    return canvas.to_images()


def tile_size(resolution: int) -> int:
    """Tile side of the canvas (a multiple of TEXTURE_ALIGN): large enough for fast tile copies, small enough
    to follow small shapes. It changes speed only, never the images."""
    return 8 if resolution >= 64 else 4


def _per_tile(table: Tensor, rows: Tensor) -> Tensor:
    """Columns ``rows`` of a (F, shapes) table: (F, N), the layout the coverage functions take."""
    return table.index_select(1, rows)


def _family_layer(canvas: TileCanvas, table: ShapeTable, rows: Tensor, family: int,
                  antialias: bool, capsule: bool) -> tuple[Layer, Tensor]:
    """Footprints, coverage and paint of the shapes ``rows`` (one family); also the owner of each tile.
    ``capsule``: lines are capsules (published geometry), else boxes."""
    tiles, cover, per_tile = family_coverage(canvas, table, rows, family, antialias, capsule)
    return Layer.paint_over(tiles, cover, table.colour.index_select(0, per_tile)), tiles.owner


def family_coverage(canvas: TileCanvas, table: ShapeTable, rows: Tensor, family: int,
                    antialias: bool, capsule: bool) -> tuple[TileList, Tensor, Tensor]:
    """Footprint tiles, coverage (T, T, N) and the shape (row of ``table``) of each tile, for the
    shapes ``rows`` of one family."""
    image = torch.div(rows, table.count, rounding_mode="floor")
    if family == LINE:
        segment = table.segment.index_select(1, rows)
        tiles = band_tiles(canvas, image, segment[0:2].T, segment[2:4].T, segment[4])
        per_tile = rows.index_select(0, tiles.owner)
        cover = box_coverage(tiles, _per_tile(table.box, per_tile), antialias, capsule)
    else:
        tiles = box_tiles(canvas, image, *table.round[11:].index_select(1, rows))
        per_tile = rows.index_select(0, tiles.owner)
        if family == ROUND:
            cover = ellipse_coverage(tiles, _per_tile(table.round, per_tile), antialias)
        else:
            cover = rectangle_coverage(tiles, _per_tile(table.rectangle, per_tile), antialias)
    return tiles, cover, per_tile


def _level_blocks(n_shapes: int, batch: int, size: int):
    """Consecutive ranges of levels whose layers are built together: about BLOCK_PIXELS tile pixels,
    taking a level's footprints as ~10% of the images. Bounds memory; never changes the result."""
    per_block = max(1, round(BLOCK_PIXELS / (batch * size * size * 0.1)))
    for start in range(0, n_shapes, per_block):
        yield start, min(n_shapes, start + per_block)


def draw_shapes(canvas: TileCanvas, table: ShapeTable, config: SynthConfig) -> None:
    """Paint all shapes coarse to fine.

    Coverage does not depend on what is already painted, so the layers of a block of levels are
    computed in one batched pass per family; compositing then goes level by level (each level
    holds one shape per image, so its tiles never repeat).
    """
    level = np.tile(np.arange(table.count), canvas.batch)
    device = canvas.tiles.device
    for first, stop in _level_blocks(table.count, canvas.batch, config.resolution):
        parts = []
        for family in (LINE, ROUND, RECTANGLE):
            rows = np.flatnonzero((table.family == family) & (level >= first) & (level < stop))
            if len(rows):
                rows = rows[np.argsort(level[rows], kind="stable")]
                layer, owner = _family_layer(canvas, table, torch.from_numpy(rows).to(device), family,
                                             config.antialias, config.geometry == "published")
                tile_level = level[rows][owner.cpu().numpy()]          # ascending: rows are sorted
                parts.append((layer, np.searchsorted(tile_level, np.arange(first, stop + 1))))
        for k in range(stop - first):
            for layer, bounds in parts:
                if bounds[k + 1] > bounds[k]:
                    composite(canvas, layer.part(bounds[k], bounds[k + 1]))


def salient_groups(canvas: TileCanvas, salient: Salient, antialias: bool):
    """Yield (tiles, coverage (T, T, N), image of each tile) for the round and the rectangular objects."""
    device = canvas.tiles.device
    for family in (ROUND, RECTANGLE):
        rows = torch.from_numpy(np.flatnonzero(salient.family == family)).to(device)
        if not len(rows):
            continue
        tiles = box_tiles(canvas, rows, *salient.support.index_select(1, rows))
        per_tile = rows.index_select(0, tiles.owner)
        if family == ROUND:
            coefficients = torch.cat([_per_tile(salient.ellipse, per_tile), _per_tile(salient.support, per_tile)])
            coverage = ellipse_coverage(tiles, coefficients, antialias)
        else:
            coverage = rectangle_coverage(tiles, _per_tile(salient.rectangle, per_tile), antialias)
        yield tiles, coverage, per_tile


def _texture_tiles(texture: Tensor, anchor_y: Tensor, anchor_x: Tensor, tiles: TileList, per_tile: Tensor) -> Tensor:
    """The texture (B, 3, R, R), anchored at pixel (anchor_y, anchor_x) of each image
    (``shapes.texture_placement``), cut to the listed tiles (N, 3, T, T)."""
    return cut_tiles(texture, per_tile, tiles.y0.long() - anchor_y.index_select(0, per_tile),
                     tiles.x0.long() - anchor_x.index_select(0, per_tile), tiles.tile)


def draw_salient(canvas: TileCanvas, seed: int, indices: np.ndarray, config: SynthConfig, device) -> None:
    """Paint the salient object over everything: a flat colour or a fresh PS-noise texture."""
    salient = salient_objects(seed, indices, config, device)
    texture = None
    if config.shape_texture == "ps-noise":
        side, anchor_y, anchor_x = texture_placement(config, salient)
        texture = ps_noise(seed, indices, TEXTURE_NOISE, side, config, device)
    for tiles, coverage, per_tile in salient_groups(canvas, salient, config.antialias):
        paint = (salient.colour.index_select(0, per_tile) if texture is None
                 else _texture_tiles(texture, anchor_y, anchor_x, tiles, per_tile))
        composite(canvas, Layer.paint_over(tiles, coverage, paint))
