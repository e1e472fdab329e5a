"""Synthesizer throughput: primps_core.synth.generate against the per-image reference.

For primitives-ps and ps-noise at 32, 64 and 256 px, in one run: images/s of the batched
``generate`` (default chunking, all torch threads; on CPU the compiled fused rasteriser) and of
the port of the official code (``synth.official``: numpy FFT + OpenCV, one image at a time, its
``pink_leaves`` and ``rgb_noise``, whose distributions the variants' defaults draw), their ratio, ``generate`` with the torch tile rasteriser (the path other devices take; same
images) for comparison, and two floors measured the
way ``generate`` does the work: the inverse FFTs alone (background and, for primitives-ps, the
salient texture field, batched through scipy.fft with the same thread count) and the
random-number generation alone (every counter-based draw of an image: spectra, exponents, shapes);
then the inverse FFT alone by images per call, which shows where a batch leaves the cache (the
header records the cache sizes). Each number is the best of a few timed passes after a warm-up.

    .venv/bin/python benchmarks/synth_speed.py [--repeats 3]

Writes benchmarks/results/synth_speed.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
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


FFT_BATCHES = (1, 4, 16, 64)


def fft_by_batch(repeats: int) -> dict[int, float]:
    """Images/s of one thread's inverse FFT of 3-channel 256 px spectra, by images per call: a
    batch whose arrays leave the cache costs more per image, which is why ``generate`` makes noise
    (and paints and quantises) noise.NOISE_PIXELS at a time."""
    rng = np.random.default_rng(0)
    rates = {}
    for batch in FFT_BATCHES:
        spectrum = (rng.standard_normal((batch, 3, 256, 129)) * 1j).astype(np.complex64)
        rates[batch] = best_rate(lambda n: [scipy.fft.irfft2(spectrum, s=(256, 256), workers=1)
                                            for _ in range(-(-n // batch))], 64, repeats)
    return rates


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


def cache_sizes() -> str:
    """The CPU's data caches as the kernel lists them for cpu0 (e.g. "L1d 32K, L2 1024K, L3 32768K"):
    the working set of a painted part is sized against them (noise.NOISE_PIXELS)."""
    caches = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        kind = (index / "type").read_text().strip()
        if kind != "Instruction":
            caches.append(f"L{(index / 'level').read_text().strip()}{'d' if kind == 'Data' else ''} "
                          f"{(index / 'size').read_text().strip()}")
    return ", ".join(caches) or "unknown"


def table(rows: list[dict], fft_rates: dict[int, float]) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        "# Synthesizer speed",
        "",
        f"{now}; CPU: {cpu_model()} ({torch.get_num_threads()} torch threads, "
        f"{len(os.sched_getaffinity(0))} cores; caches of cpu0: {cache_sizes()}); torch {torch.__version__}, "
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
    lines += ["", f"Inverse FFT alone at 256 px, one thread, by images per call (noise is made "
              f"{synth.noise.NOISE_PIXELS // 256**2} at a time at 256 px):", "",
              "| images per call | " + " | ".join(map(str, fft_rates)) + " |",
              "|---|" + "---:|" * len(fft_rates),
              "| images/s | " + " | ".join(f"{rate:.0f}" for rate in fft_rates.values()) + " |"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    text = table(measure(args.repeats), fft_by_batch(args.repeats))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
