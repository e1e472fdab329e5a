"""Is the channels-last training step statistically the same as today's? FID/KID curves over seeds.

Channels-last tensors change only the order of float operations, but GAN training amplifies
rounding within a few steps (Adam's first updates are close to the gradients' signs), so weights
cannot be compared. Whole runs can: for each seed, one run with today's NCHW step and one with
channels-last, same data, latents and augmentations, scored at the same iterations (FID and KID of
EMA samples against held-out Primitives-PS images). The table gives each setting's mean and std
over seeds and the paired difference (channels-last minus NCHW) with its 95% interval; the
spread between seeds of one setting is the yardstick the difference is read against.

    .venv/bin/python benchmarks/train_equivalence.py [--seeds 4] [--iterations 400] [--evals 4]

Writes benchmarks/results/train_equivalence.md.
"""
from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import scipy.stats
import torch

from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.gan import models, sampling, training

RESULTS = Path(__file__).resolve().parent / "results" / "train_equivalence.md"
REFERENCE_START = 10_000_000      # held-out images: far beyond any index a run trains on


def curve(seed: int, channels_last: bool, iterations: int, evals: int, samples: int, reference) -> list[dict]:
    """FID/KID of ``samples`` EMA samples at ``evals`` evenly spaced iterations of one run."""
    model = models.ModelConfig(resolution=32, base_channels=16, max_channels=128)
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=model, iterations=iterations,
                                  seed=seed, channels_last=channels_last)
    trainer = training.Trainer(config)
    stream = sources.image_stream(config.source, model.resolution, seed)
    points = []
    for iteration in range(iterations):
        trainer.step(stream(iteration * config.batch_size, config.batch_size))
        if (iteration + 1) % (iterations // evals) == 0:
            fake = metrics.features(sampling.sample_images(trainer.G_ema, samples, seed + 1_000_000), cache_dir=None,
                                    progress=False)
            points.append({"iteration": iteration + 1, **metrics.fid_from_features(reference, fake),
                           **metrics.kid_from_features(reference, fake)})
    return points


def interval(differences: np.ndarray) -> str:
    """Mean paired difference and its 95% t-interval."""
    mean = differences.mean()
    if len(differences) < 2:
        return f"{mean:+.3f}"
    half = scipy.stats.t.ppf(0.975, len(differences) - 1) * differences.std(ddof=1) / np.sqrt(len(differences))
    return f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--evals", type=int, default=4)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    reference_images = sources.image_stream(sources.resolve("primitives-ps"), 32, 0)(REFERENCE_START, args.samples)
    reference = metrics.features(reference_images, cache_dir=None, progress=False)
    start = time.perf_counter()
    runs = {flag: [curve(seed, flag, args.iterations, args.evals, args.samples, reference) for seed in range(args.seeds)]
            for flag in (False, True)}
    minutes = (time.perf_counter() - start) / 60
    lines = [f"# Channels-last against today's step, over seeds ({datetime.date.today()})", "",
             f"torch {torch.__version__}, {torch.get_num_threads()} threads; dcgan 16 / 128 at 32 px on Primitives-PS, "
             f"batch 32, {args.iterations} iterations, {args.seeds} seeds per setting; FID and KID of {args.samples} "
             f"EMA samples against {args.samples} held-out images; {minutes:.0f} min in all.", "",
             "| iteration | metric | NCHW mean ± std | channels-last mean ± std | paired difference [95% CI] |",
             "|---|---|---|---|---|"]
    for point in range(args.evals):
        for metric in ("fid", "kid_mean"):
            values = {flag: np.array([run[point][metric] for run in runs[flag]]) for flag in (False, True)}
            digits = 1 if metric == "fid" else 4
            lines.append(f"| {runs[False][0][point]['iteration']} | {metric.replace('_mean', '')} | "
                         f"{values[False].mean():.{digits}f} ± {values[False].std(ddof=1):.{digits}f} | "
                         f"{values[True].mean():.{digits}f} ± {values[True].std(ddof=1):.{digits}f} | "
                         f"{interval(values[True] - values[False])} |")
    table = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
