"""Training throughput at 32 px: images/s of the full step (D with lazy R1, G, EMA, DiffAugment).

Times ``training.Trainer.step`` on pre-generated Primitives-PS images (the data source is not
timed), for each architecture and width, after a warm-up. The default must reach at least
200 images/s on 2 cores.

    .venv/bin/python benchmarks/train_speed.py [--steps 30] [--batch 32]

Writes benchmarks/results/train_speed.md.
"""
from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import torch

from primps_core import models, synthesizer, training

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.md"
WIDTHS = ((16, 128), (32, 128), (32, 256), (64, 256))     # (base_channels, max_channels) candidates


def images_per_second(model: models.ModelConfig, batch: int, steps: int) -> float:
    config = training.TrainConfig(source="primitives-ps", model=model, batch_size=batch, iterations=steps + 5)
    trainer = training.Trainer(config)
    reals = synthesizer.generate(batch * (steps + 5), variant="primitives-ps", resolution=model.resolution)
    for k in range(5):                                   # warm-up, and one lazy-R1 step
        trainer.step(reals[k * batch:(k + 1) * batch])
    start = time.perf_counter()
    for k in range(5, steps + 5):
        trainer.step(reals[k * batch:(k + 1) * batch])
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    rows = [f"# Training throughput at 32 px ({datetime.date.today()})", "",
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch}; "
            f"DiffAugment color,translation,cutout; lazy R1 every 16 steps; {args.steps} timed steps.", "",
            "| architecture | base / max channels | G parameters | D parameters | images/s |", "|---|---|---|---|---|"]
    for architecture in models.ARCHITECTURES:
        for width, widest in WIDTHS:
            model = models.ModelConfig(architecture=architecture, resolution=32, base_channels=width, max_channels=widest)
            generator, discriminator = models.build(model)
            count = lambda module: sum(p.numel() for p in module.parameters())   # noqa: E731
            rate = images_per_second(model, args.batch, args.steps)
            rows.append(f"| {architecture} | {width} / {widest} | {count(generator):,} | {count(discriminator):,} | {rate:.0f} |")
            print(rows[-1], flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
