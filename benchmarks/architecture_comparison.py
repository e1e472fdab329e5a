"""Which GAN pair learns fastest on this CPU: FID against CPU time at 32 px, per architecture and width.

Each candidate trains on Primitives-PS (32 px, batch 32, the full recipe) for the same wall-clock
budget; its EMA generator is scored at checkpoints in time by FID and KID of ``--samples``
images against as many held-out Primitives-PS images (seed 1; equal sizes keep the FID bias
equal across candidates). Only the training steps count as training time: generating the
Primitives-PS batches and the evaluations do not.

    .venv/bin/python benchmarks/architecture_comparison.py [--minutes 2] [--checkpoints 2] [--samples 100] [--seeds 2]

Every candidate runs once per seed (initial weights, latents, augmentation and data all follow it);
the table gives each checkpoint's mean and, over seeds, the spread.

Writes benchmarks/results/architecture_comparison.md.
"""
from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import torch

from primps_core import synth
from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.gan import models, training

RESULTS = Path(__file__).resolve().parent / "results" / "architecture_comparison.md"
CANDIDATES = (("dcgan", 16, 128), ("dcgan", 32, 128), ("resnet", 16, 128), ("resnet", 32, 128))


def run(architecture: str, width: int, widest: int, minutes: float, checkpoints: int, samples: int, real,
        seed: int) -> list[dict]:
    model = models.ModelConfig(architecture=architecture, resolution=32, base_channels=width, max_channels=widest)
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=model, batch_size=32, iterations=10**9, seed=seed)
    trainer = training.Trainer(config)
    rows, trained, marks = [], 0.0, [minutes * 60 * (k + 1) / checkpoints for k in range(checkpoints)]
    for mark in marks:
        while trained < mark:
            reals = synth.generate(32, variant="primitives-ps", resolution=32, seed=seed,
                                         start=trainer.iteration * 32)
            start = time.perf_counter()
            trainer.step(reals)
            trained += time.perf_counter() - start
        fake = training.sample_images(trainer.G_ema, samples, seed=7)
        scores = metrics.evaluate(real, fake, ["fid", "kid"], cache_dir=None, progress=False)
        rows.append({"minutes": trained / 60, "iterations": trainer.iteration, **scores})
        print(architecture, width, widest, seed, rows[-1], flush=True)
    return rows


def spread(values: list[float], digits: int = 1) -> str:
    """Mean ± sample std of ``values`` (just the value for one)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--checkpoints", type=int, default=2)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    real = synth.generate(args.samples, variant="primitives-ps", resolution=32, seed=10**6)
    # With at most 1,000 samples every KID subset is the whole set, so KID has no subset spread to report.
    lines = [f"# GAN architectures at 32 px: FID against training time ({datetime.date.today()})", "",
             f"torch {torch.__version__}, {torch.get_num_threads()} threads; Primitives-PS, batch 32, DiffAugment, "
             f"lazy R1, equalized learning rate; FID/KID of {args.samples} EMA samples against {args.samples} "
             f"held-out Primitives-PS images; mean ± std over {args.seeds} seeds.", "",
             "| architecture | base / max channels | training minutes | iterations | images/s | FID | KID |",
             "|---|---|---|---|---|---|---|"]
    for architecture, width, widest in CANDIDATES:
        runs = [run(architecture, width, widest, args.minutes, args.checkpoints, args.samples, real, seed)
                for seed in range(args.seeds)]
        for rows in zip(*runs):          # one checkpoint over the seeds
            minutes, iterations = np.mean([r["minutes"] for r in rows]), np.mean([r["iterations"] for r in rows])
            lines.append(f"| {architecture} | {width} / {widest} | {minutes:.1f} | {iterations:.0f} | "
                         f"{iterations * 32 / (minutes * 60):.0f} | {spread([r['fid'] for r in rows])} | "
                         f"{spread([r['kid_mean'] for r in rows], 3)} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
