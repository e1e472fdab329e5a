"""Training throughput at 32 px: images/s of the full step (D with lazy R1, G, EMA, DiffAugment).

Times ``training.Trainer.step`` on pre-generated Primitives-PS images (the data source is not
timed), for each architecture and width, after a warm-up, in one process using every core's
thread. Then the default three ways on the same cores: one process with all threads; one run
data-parallel over one single-thread process per core (gloo, as ``torchrun --nproc_per_node``
runs it: each process computes its share of the same global batch, gradients are summed); and one
independent single-thread run per core side by side (what ``runs.run_jobs`` does with
many runs; their images/s summed). The default must reach at least 200 images/s on 2 cores.

    .venv/bin/python benchmarks/train_speed.py [--steps 30] [--batch 32] [--default-only]

Writes benchmarks/results/train_speed.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import socket
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from primps_core import synth
from primps_core.data import sources
from primps_core.gan import models, training

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.md"
WIDTHS = ((16, 128), (32, 128), (32, 256), (64, 256))     # (base_channels, max_channels) candidates


def images_per_second(model: models.ModelConfig, batch: int, steps: int) -> float:
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=model, batch_size=batch, iterations=steps + 5)
    trainer = training.Trainer(config)
    reals = synth.generate(batch * (steps + 5), variant="primitives-ps", resolution=model.resolution)
    offset, count = trainer.local_slice()                # this process's share of each global batch
    for k in range(5):                                   # warm-up, and one lazy-R1 step
        trainer.step(reals[k * batch + offset:k * batch + offset + count])
    start = time.perf_counter()
    for k in range(5, steps + 5):
        trainer.step(reals[k * batch + offset:k * batch + offset + count])
    return steps * batch / (time.perf_counter() - start)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(rank: int, world: int, port: int, distributed: bool, model, batch: int, steps: int, rates) -> None:
    """One single-thread process: a rank of a data-parallel run, or an independent run."""
    torch.set_num_threads(1)
    if distributed:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
        dist.barrier()
    rates.put((rank, images_per_second(model, batch, steps)))
    if distributed:
        dist.destroy_process_group()


def parallel_images_per_second(model: models.ModelConfig, batch: int, steps: int, distributed: bool) -> float:
    """Images/s over all cores: one data-parallel run (rank 0's rate of the global batch), or the
    sum of one independent run per core."""
    world = os.cpu_count() or 1
    rates = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_worker, args=(world, _free_port(), distributed, model, batch, steps, rates), nprocs=world)
    measured = dict(rates.get() for _ in range(world))
    return measured[0] if distributed else sum(measured.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--default-only", action="store_true", help="skip the architecture table")
    args = parser.parse_args()
    rows = [f"# Training throughput at 32 px ({datetime.date.today()})", "",
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch}; "
            f"DiffAugment color,translation,cutout; lazy R1 every 16 steps; {args.steps} timed steps.", "",
            "| architecture | base / max channels | G parameters | D parameters | images/s |", "|---|---|---|---|---|"]
    for architecture in () if args.default_only else models.ARCHITECTURES:
        for width, widest in WIDTHS:
            model = models.ModelConfig(architecture=architecture, resolution=32, base_channels=width, max_channels=widest)
            generator, discriminator = models.build(model)
            count = lambda module: sum(p.numel() for p in module.parameters())   # noqa: E731
            rate = images_per_second(model, args.batch, args.steps)
            rows.append(f"| {architecture} | {width} / {widest} | {count(generator):,} | {count(discriminator):,} | {rate:.0f} |")
            print(rows[-1], flush=True)
    default = models.ModelConfig(resolution=32)
    cores = os.cpu_count() or 1
    rows += ["", f"The default (dcgan {default.base_channels} / {default.max_channels}) on {cores} cores, three ways:", "",
             "| how | images/s |", "|---|---|",
             f"| one process, {torch.get_num_threads()} threads | {images_per_second(default, args.batch, args.steps):.0f} |",
             f"| one run, data-parallel over {cores} single-thread processes (gloo) | "
             f"{parallel_images_per_second(default, args.batch, args.steps, distributed=True):.0f} |",
             f"| {cores} independent single-thread runs, summed | "
             f"{parallel_images_per_second(default, args.batch, args.steps, distributed=False):.0f} |"]
    print("\n".join(rows[-6:]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
