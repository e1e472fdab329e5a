"""Images from (config, seed, indices): the background, then a rasteriser; chunked and parallel.

``generate(n, variant=..., resolution=..., seed=..., start=...)`` returns uint8 images
(n, resolution, resolution, 3). Image ``start + i`` depends only on (variant, options, seed,
start + i): not on ``n``, ``start``, ``batch_size``, the rasteriser or the torch thread count.

Speed: images are made in chunks (``batch_size``, default a fixed pixel budget, so memory stays
bounded for any n); on CPU the chunks run in a pool of ``torch.get_num_threads()`` single-threaded
workers, and each chunk's shape tables are drawn at once but its images are made, painted and
quantised straight into the output a few at a time (raster_fused.painted_parts), so their canvases
stay in cache. benchmarks/synth_speed.py compares with a per-image numpy + OpenCV reference.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .. import checks
from . import raster_fused, raster_tiles
from .config import SynthConfig, make_config
from .noise import ps_noise
from .rng import BACKGROUND_COLOUR, BACKGROUND_NOISE, image_keys, uniforms
from .shapes import colour_levels, salient_objects, shape_table

DOWNSAMPLE = Image.Resampling.LANCZOS      # the filter of every photo, target and natural patch (data.images)
PIXELS_PER_CHUNK = 1 << 21
MAX_CHUNK = 1024
RASTERISERS = ("fused", "tiles")


def default_batch_size(resolution: int) -> int:
    """Images per internal chunk: a fixed pixel budget (bounding memory for any n), at most
    MAX_CHUNK images (beyond which small images gain nothing and the canvas leaves the caches)."""
    return max(1, min(MAX_CHUNK, PIXELS_PER_CHUNK // (resolution * resolution)))


def render(config: SynthConfig, seed: int, indices: np.ndarray, device, rasteriser: str | None, out: np.ndarray) -> None:
    """Images ``indices`` (one chunk) as uint8 into ``out`` (B, S, S, 3): ``paint``, then rounded half
    to even and clamped to 0..255 (with the fused rasteriser, a compiled pass per painted part)."""
    device = torch.device(device)
    if _rasteriser(rasteriser, device) == "fused":
        for part, images in raster_fused.painted_parts(_background(config, seed, device), seed, indices, config):
            raster_fused.quantise(images.numpy(), out[part])
        return
    images = paint(config, seed, indices, device, rasteriser)
    out[...] = images.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def paint(config: SynthConfig, seed: int, indices: np.ndarray, device, rasteriser: str | None = None) -> Tensor:
    """Images ``indices`` before quantisation: float32 (B, 3, S, S), values in 0..255.

    ``rasteriser``: "fused" (raster_fused.py, compiled, CPU only) or "tiles" (raster_tiles.py, torch
    on any device); by default fused on CPU. Both give the same bits.
    """
    device = torch.device(device)
    background = _background(config, seed, device)
    if _rasteriser(rasteriser, device) == "fused":
        size = config.resolution
        images = torch.empty(len(indices), 3, size, size)
        for part, painted in raster_fused.painted_parts(background, seed, indices, config):
            images[part] = painted
        return images
    return raster_tiles.paint_tiles(background(indices), seed, indices, config)


def _rasteriser(rasteriser: str | None, device: torch.device) -> str:
    """The rasteriser asked for, checked; by default fused on CPU, tiles elsewhere."""
    rasteriser = rasteriser or ("fused" if device.type == "cpu" else "tiles")
    checks.choice(rasteriser, "rasteriser", RASTERISERS)
    if rasteriser == "fused" and device.type != "cpu":
        raise ValueError(f"the fused rasteriser runs on CPU only, not on {device}; use rasteriser='tiles'")
    return rasteriser


def _background(config: SynthConfig, seed: int, device: torch.device):
    """A function of image indices giving their backgrounds, float32 (b, 3, S, S) (flat ones expanded)."""
    size = config.resolution

    def background(indices: np.ndarray) -> Tensor:
        if config.background == "ps-noise":
            return ps_noise(seed, indices, BACKGROUND_NOISE, size, config, device)
        return flat_background(seed, indices, config, device)[:, :, None, None].expand(-1, -1, size, size)
    return background


def flat_background(seed: int, indices: np.ndarray, config: SynthConfig, device) -> Tensor:
    """(B, 3) background colours of the flat variants: "grey" draws three levels, as the official
    ``dead_leaves``, and fills every channel with the first; "colour" uses all three."""
    levels = colour_levels(uniforms(image_keys(seed, indices, BACKGROUND_COLOUR, device), 3), config.geometry).float()
    return levels[:, :1].expand(-1, 3) if config.background == "grey" else levels


def _chunks(n: int, start: int, batch_size: int) -> list[tuple[int, np.ndarray]]:
    """(offset in the output, image indices) of each chunk."""
    return [(low, np.arange(start + low, start + min(n, low + batch_size), dtype=np.int64))
            for low in range(0, n, batch_size)]


def check_counts(n, seed, start, batch_size) -> tuple[int, int, int, int | None]:
    """The image count, seed, first index and chunk size checked (``batch_size`` None: automatic)."""
    n = checks.integer(n, "n", 1)
    seed = checks.integer(seed, "seed", 0, (1 << 63) - 1)
    start = checks.integer(start, "start", 0, (1 << 62))
    if batch_size is not None:
        batch_size = checks.integer(batch_size, "batch_size", 1)
    return n, seed, start, batch_size


def _run_chunks(work, chunks: list, device: torch.device) -> None:
    """Apply ``work`` (which writes its chunk's images into the output) to every chunk; on CPU,
    chunks run in parallel, one per torch thread.

    Each worker runs its chunk single-threaded: whole chunks in parallel scale better than
    intra-op threads on the many small ops of the rasteriser (measured 1.2-1.6x on 2 cores).
    Chunks are independent, so this never changes the images. Workers set their own (per-thread)
    OpenMP count; the process-wide thread pool size they touch is restored afterwards. An error in
    any chunk is raised here.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1 or len(chunks) == 1:
        with torch.inference_mode():
            for chunk in chunks:
                work(chunk)
        return

    def single_threaded(chunk):
        torch.set_num_threads(1)
        with torch.inference_mode():
            work(chunk)

    try:
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(single_threaded, chunk) for chunk in chunks]:
                future.result()
    finally:
        torch.set_num_threads(threads)


def _plan(n: int, start: int, batch_size: int | None, resolution: int, device: torch.device) -> list:
    """Chunks of at most ``batch_size`` images, and at least one per CPU worker."""
    size = batch_size or default_batch_size(resolution)
    if device.type == "cpu":
        size = min(size, -(-n // torch.get_num_threads()))
    return _chunks(n, start, max(1, size))


def generate(n: int, *, variant: str = "primitives-ps", resolution: int = 64, seed: int = 0, start: int = 0,
             device="cpu", batch_size: int | None = None, rasteriser: str | None = None, **options) -> np.ndarray:
    """Images ``start .. start + n - 1`` of the (variant, options, seed) stream: uint8 (n, S, S, 3).

    Below the official 256 px each image is drawn larger (option ``drawn_at``: by default 4 S, at
    most 256; "native" draws at S itself) and downsampled with Lanczos, as the photos of the targets
    and natural patches are.

    ``batch_size`` (images per internal chunk, default from a fixed pixel budget) and
    ``rasteriser`` ("fused" or "tiles", see ``paint``) change speed and memory only, never the
    images. ``options`` are described in the module docstring.
    """
    config = make_config(variant, resolution, **options)
    n, seed, start, batch_size = check_counts(n, seed, start, batch_size)
    device = torch.device(device)
    out = np.empty((n, config.resolution, config.resolution, 3), dtype=np.uint8)
    drawn = dataclasses.replace(config, resolution=config.drawn_at)
    chunks = _plan(n, start, batch_size, drawn.resolution, device)

    def work(chunk) -> None:
        target = out[chunk[0]:chunk[0] + len(chunk[1])]
        if drawn.resolution == config.resolution:
            render(config, seed, chunk[1], device, rasteriser, target)
            return
        full = np.empty((len(chunk[1]), drawn.resolution, drawn.resolution, 3), dtype=np.uint8)
        render(drawn, seed, chunk[1], device, rasteriser, full)
        downsample(full, config.resolution, target)
    _run_chunks(work, chunks, device)
    return out


def downsample(images: np.ndarray, resolution: int, out: np.ndarray) -> None:
    """uint8 (B, D, D, 3) images resized to ``resolution`` into ``out`` with ``DOWNSAMPLE`` (Lanczos),
    one image at a time: how a photo becomes a target or a natural patch."""
    for image, into in zip(images, out):
        into[...] = np.asarray(Image.fromarray(image).resize((resolution, resolution), DOWNSAMPLE))


def salient_coverage(n: int, *, variant: str = "primitives-ps", resolution: int = 64, seed: int = 0,
                     start: int = 0, device="cpu", batch_size: int | None = None, **options) -> np.ndarray:
    """Fraction of each image covered by its salient object (coverage summed over the pixels / image
    area), (n,).

    The object of image i is the one ``generate`` draws for the same arguments (when saliency is
    on); its geometry depends only on (seed, index, resolution, geometry).
    """
    def salient(canvas, config, seed, indices, device):
        objects = salient_objects(seed, indices, config, device)
        return raster_tiles.salient_groups(canvas, objects, config.antialias), len(indices)

    return _coverage_sums(salient, n, variant, resolution, seed, start, device, batch_size, options)[:, 0]


def shape_areas(n: int, *, variant: str = "primitives-ps", resolution: int = 64, seed: int = 0,
                start: int = 0, device="cpu", batch_size: int | None = None, **options) -> np.ndarray:
    """(n, n_shapes) area of each shape drawn alone (coverage summed over the pixels, in pixels),
    coarse to fine: the shapes ``generate`` draws for the same arguments, before any occlusion."""
    def shapes(canvas, config, seed, indices, device):
        table = shape_table(seed, indices, config, device)
        capsule = config.geometry == "published"
        groups = []
        for family in (raster_tiles.LINE, raster_tiles.ROUND, raster_tiles.RECTANGLE):
            rows = torch.from_numpy(np.flatnonzero(table.family == family)).to(device)
            if len(rows):
                groups.append(raster_tiles.family_coverage(canvas, table, rows, family, config.antialias, capsule))
        return groups, len(indices) * config.n_shapes

    areas = _coverage_sums(shapes, n, variant, resolution, seed, start, device, batch_size, options)
    return areas.reshape(n, -1) * resolution**2


def _coverage_sums(groups, n, variant, resolution, seed, start, device, batch_size, options) -> np.ndarray:
    """Coverage summed over the pixels of an image, / image area, for every item ``groups`` lists:
    ``groups(canvas, config, seed, indices, device)`` gives (tiles, coverage, item of each tile) and
    the item count of a chunk; items are numbered within the chunk. Returns (items of all chunks, 1)."""
    config = make_config(variant, resolution, **options)
    n, seed, start, batch_size = check_counts(n, seed, start, batch_size)
    batch_size = batch_size or default_batch_size(config.resolution)
    device = torch.device(device)
    size = config.resolution
    out = []
    with torch.inference_mode():
        for _, indices in _chunks(n, start, batch_size):
            empty = torch.zeros(len(indices), 1, size, size, device=device)
            canvas = raster_tiles.TileCanvas.from_images(empty, raster_tiles.tile_size(size))
            listed, count = groups(canvas, config, seed, indices, device)
            total = torch.zeros(count, dtype=torch.float64, device=device)
            for tiles, coverage, per_tile in listed:
                y, x = raster_tiles.pixel_grid(tiles)
                inside = coverage * ((y < size) & (x < size))
                total.index_add_(0, per_tile, inside.double().sum(dim=(0, 1)))
            out.append(total.cpu().numpy() / size**2)
    return np.concatenate(out)[:, None]
