"""Synthetic datasets on disk: ``write_dataset`` streams the synthesizer into a zip (StyleGAN2-ADA's
format), a folder of PNGs or an ``.npz``, atomically and in bounded memory; ``shard_range`` splits
a dataset into contiguous parts that separate processes or machines write independently."""
from __future__ import annotations

import warnings
from pathlib import Path


from .. import __version__, synth
from ..progress import bar as progress_bar
from ..synth.render import check_counts
from .images import ImageWriter


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` as (i, N) with 0 <= i < N; one clear error otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like i/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {text!r} is impossible: need 0 <= i < N")
    return index, count


def shard_range(n: int, index: int, count: int) -> tuple[int, int]:
    """(start, size) of shard ``index`` of ``count`` over images 0 .. n-1: contiguous, in order, sizes differing by at most one."""
    low, high = n * index // count, n * (index + 1) // count
    return low, high - low


def stylegan_warning(resolution: int) -> str | None:
    """Why StyleGAN2-ADA could not train on images of ``resolution`` (None when it can): its networks
    double the resolution from 4 px, so only powers of two work."""
    if resolution < 4 or resolution & (resolution - 1):
        return (f"resolution {resolution} is not a power of two of at least 4: StyleGAN2-ADA cannot train on it "
                f"(the dataset is written anyway)")
    return None


def write_dataset(path, n: int, *, variant: str = "primitives-ps", resolution: int = 64, seed: int = 0,
                  start: int = 0, format: str | None = None, chunk: int | None = None, progress: bool = True,
                  device="cpu", overwrite: bool = False, **options) -> Path:
    """Generate images ``start .. start + n - 1`` in chunks and write them to ``path`` atomically.

    The format follows ``path`` (``.zip``: StyleGAN2-ADA's dataset format; ``.npz``; otherwise a
    folder of PNGs) unless ``format`` says otherwise. Files are numbered by their index in the
    whole dataset, so shards written with ``start`` offsets together equal the unsharded set.
    A zip's ``dataset.json`` records how it was made (``"primps"``: version, variant, resolution,
    seed, first index, count, options); a resolution StyleGAN2-ADA cannot train warns.
    Memory stays bounded by the chunk (default: about 64 MB of pixels), whatever ``n``. An existing
    ``path`` is refused unless ``overwrite``, which replaces only an earlier dataset (``ImageWriter``).
    """
    config = synth.make_config(variant, resolution, **options)           # validate before creating anything
    n, seed, start, _ = check_counts(n, seed, start, None)
    if stylegan_warning(config.resolution):
        warnings.warn(stylegan_warning(config.resolution), stacklevel=2)
    chunk = chunk or max(1, min(4096, (64 << 20) // (3 * config.resolution**2)))
    metadata = {"primps": {"version": __version__, "variant": variant, "resolution": config.resolution, "seed": seed,
                           "first_index": start, "images": n, "options": {k: options[k] for k in sorted(options)}}}
    with ImageWriter(path, n=n, format=format, first_index=start, overwrite=overwrite, metadata=metadata) as writer, \
            progress_bar(total=n, unit="img", desc=f"{variant} {config.resolution}px", disable=not progress) as bar:
        for low in range(0, n, chunk):
            size = min(chunk, n - low)
            writer.write(synth.generate(size, variant=variant, resolution=resolution, seed=seed, start=start + low,
                                        device=device, **options))
            bar.update(size)
    return writer.path

