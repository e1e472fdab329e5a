"""Synthesizer throughput: primps_core.synth.generate against the per-image reference.

For primitives-ps and ps-noise at 32, 64 and 256 px, in one run: images/s of the batched
``generate`` (default chunking, all torch threads; on CPU the compiled fused rasteriser) and of
the port of the official code (``synth.official``: numpy FFT + OpenCV, one image at a time, its
``pink_leaves`` and ``rgb_noise``, whose distributions the variants' defaults draw), their ratio, ``generate`` with the torch tile rasteriser (the path other devices take; same
images) for comparison, and two floors measured the
way ``generate`` does the work: the inverse FFTs alone (background and, for primitives-ps, the
salient texture field, batched through scipy.fft with the same thread count) and the
random-number generation alone (every counter-based draw of an image: spectra, exponents, shapes).
Each number is the best of a few timed passes after a warm-up.

    .venv/bin/python benchmarks/synth_speed.py [--repeats 3]

Writes benchmarks/results/synth_speed.md.
"""
from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numba
import numpy as np
import scipy.fft
import torch

from primps_core import synth
from primps_core.study.reproduce import cpu_model
from primps_core.synth import official

RESULTS = Path(__file__).resolve().parent / "results" / "synth_speed.md"
# Images per timed pass: enough for stable numbers, the whole run within ~3 minutes.
COUNTS = {32: (4096, 400), 64: (1024, 200), 256: (64, 24)}     # (primps, reference)
OFFICIAL = {"primitives-ps": "pink_leaves", "ps-noise": "rgb_noise"}


def best_rate(run, count: int, repeats: int) -> float:
    """Images/s of ``run(count)``: best of ``repeats`` passes after one warm-up pass."""
    run(min(count, 64))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(count)
        best = min(best, time.perf_counter() - start)
    return count / best


def noise_sizes(variant: str, resolution: int) -> list[int]:
    """Sides of the noise fields an image draws: the background and, for primitives-ps, the salient
    object's texture (a whole-image field in the published geometry)."""
    return [resolution] * (2 if variant == "primitives-ps" else 1)


def fft_floor(variant: str, resolution: int, count: int, repeats: int) -> float:
    """Images/s of the inverse FFTs alone: 3 channels of background (and of texture for primitives-ps)."""
    sizes = noise_sizes(variant, resolution)
    step = max(1, synth.noise.NOISE_PIXELS // resolution**2)
    rng = np.random.default_rng(0)
    spectra = [(rng.standard_normal((step, 3, s, s // 2 + 1)) * 1j).astype(np.complex64) for s in sizes]

    def run(n: int) -> None:
        for _ in range(-(-n // step)):
            for spectrum, size in zip(spectra, sizes):
                scipy.fft.irfft2(spectrum, s=(size, size), workers=torch.get_num_threads())

    return best_rate(run, count, repeats)


def rng_floor(variant: str, resolution: int, count: int, repeats: int) -> float:
    """Images/s of all the counter-based random numbers an image of ``variant`` draws."""
    sizes = noise_sizes(variant, resolution)
    shapes = synth.make_config(variant, resolution).n_shapes

    def run(n: int) -> None:
        for start in range(0, n, 1024):
            keys = synth.rng.image_keys(0, np.arange(start, min(n, start + 1024)), 1, "cpu")
            for size in sizes:
                step = max(1, synth.noise.NOISE_PIXELS // size**2)
                for low in range(0, len(keys), step):
                    synth.rng.gaussians(keys[low:low + step], 3 * size * (size // 2 + 1))
                synth.rng.uniforms(keys, 6)
            if shapes:
                synth.rng.uniforms(keys, 9 * shapes, torch.float32)
                synth.rng.gaussians(keys, 2 * shapes + 2)
                synth.rng.uniforms(keys, 8, torch.float32)

    with torch.inference_mode():
        return best_rate(run, count, repeats)


def measure(repeats: int) -> list[dict]:
    rows = []
    for resolution, (count, reference_count) in COUNTS.items():
        for variant in ("primitives-ps", "ps-noise"):
            ours = best_rate(lambda n: synth.generate(n, variant=variant, resolution=resolution),
                             count, repeats)
            tiles = best_rate(lambda n: synth.generate(n, variant=variant, resolution=resolution,
                                                             rasteriser="tiles"), count, repeats)
            theirs = best_rate(lambda n: official.images(OFFICIAL[variant], n, size=resolution),
                               reference_count, repeats)
            rows.append(dict(resolution=resolution, variant=variant, reference=theirs, primps=ours, tiles=tiles,
                             fft=fft_floor(variant, resolution, count, repeats),
                             rng=rng_floor(variant, resolution, count, repeats)))
            print(f"{variant} {resolution} px: {ours:.0f} vs {theirs:.0f} images/s", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        "# Synthesizer speed",
        "",
        f"{now}; CPU: {cpu_model()} ({torch.get_num_threads()} torch threads, "
        f"{len(__import__('os').sched_getaffinity(0))} cores); torch {torch.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, numba {numba.__version__}.",
        "Reference: the port of the official code, synth.official (pink_leaves for primitives-ps, rgb_noise for "
        "ps-noise; numpy FFT + OpenCV, one image at a time). "
        "Floors: the inverse FFTs alone and the random numbers alone, per image, batched as in "
        "`generate` (images/s; the ceiling those steps leave). Best of several passes after a warm-up.",
        "",
        "| resolution | variant | reference images/s | primps images/s | ratio | primps, torch tiles images/s | ratio | "
        "FFT floor images/s | RNG floor images/s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['resolution']} | {row['variant']} | {row['reference']:.0f} | {row['primps']:.0f} | "
                     f"{row['primps'] / row['reference']:.1f}x | {row['tiles']:.0f} | {row['tiles'] / row['reference']:.1f}x | "
                     f"{row['fft']:.0f} | {row['rng']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    text = table(measure(args.repeats))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
