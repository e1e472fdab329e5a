"""Training throughput: images/s of the full step (D with lazy R1, G, EMA, DiffAugment), and its levers.

Times ``training.Trainer.step`` on pre-generated Primitives-PS images (the data source is not
timed), for each architecture and width, after a warm-up, in one process using every core's
thread. Then the default three ways on the same cores: one process with all threads; one run
data-parallel over one single-thread process per core (gloo, as ``torchrun --nproc_per_node``
runs it: each process computes its share of the same global batch, gradients are summed); and one
independent single-thread run per core side by side (what ``scheduler.run_jobs`` does with
many runs; their images/s summed). The default must reach at least 200 images/s on 2 cores.

Last, the levers of a faster step side by side in the same run, at widths 16, 32 and 64 and at
32 and 64 px: today's step (NCHW) against channels-last tensors (``TrainConfig.channels_last``),
each as the time of a plain step and of a lazy-R1 step combined 15:1, with the FLOP rate of the
plain step against this machine's float32 matmul rate (how close the step already is to the
cores' arithmetic limit); then torch.compile (inductor) of G and D on plain steps, and the EMA
update's share of a step.

    .venv/bin/python benchmarks/train_speed.py [--steps 30] [--batch 32] [--default-only] [--seconds 15]

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
from torch.utils.flop_counter import FlopCounterMode

from primps_core import synth
from primps_core.data import sources
from primps_core.gan import models, training

from fid_speed import matmul_flops_per_second  # noqa: E402  (benchmarks/ is the script's folder)

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.md"
WIDTHS = ((16, 128), (32, 128), (32, 256), (64, 256))     # (base_channels, max_channels) candidates
LEVER_WIDTHS = ((16, 128), (32, 256), (64, 256))


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


def step_times(model: models.ModelConfig, batch: int, seconds: float, **options) -> tuple[float, float, float]:
    """(seconds per plain step, per lazy-R1 step, FLOPs of a plain step) of a trainer with ``options``,
    each step timed after a warm-up for about ``seconds`` in all."""
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=model, batch_size=batch,
                                  iterations=10_000, **options)
    trainer = training.Trainer(config)
    reals = synth.generate(batch, variant="primitives-ps", resolution=model.resolution)
    for _ in range(3):                                   # warm-up: an R1 step, then plain ones
        trainer.step(reals)
    with FlopCounterMode(display=False) as counter:
        trainer.step(reals)
    timed = {}
    for r1 in (False, True):
        steps, start = 0, time.perf_counter()
        while steps < 2 or time.perf_counter() - start < seconds * (0.25 if r1 else 0.75):
            trainer.iteration = 16 * (trainer.iteration // 16 + 1) if r1 else trainer.iteration | 1
            trainer.step(reals)
            steps += 1
        timed[r1] = (time.perf_counter() - start) / steps
    return timed[False], timed[True], counter.get_total_flops()


def combined_rate(plain: float, r1: float, batch: int, interval: int = 16) -> float:
    """Images/s of the schedule: one lazy-R1 step in every ``interval``."""
    return batch * interval / ((interval - 1) * plain + r1)


def lever_rows(batch: int, seconds: float, peak: float) -> list[str]:
    """Today's step against channels-last at each width and resolution; compile and EMA at one."""
    rows = ["| base / max channels | resolution | NCHW images/s | channels-last images/s | ratio | "
            "plain-step GFLOP/s NCHW / channels-last (of the matmul rate) |", "|---|---|---|---|---|---|"]
    for resolution in (32, 64):
        for width, widest in LEVER_WIDTHS:
            model = models.ModelConfig(resolution=resolution, base_channels=width, max_channels=widest)
            today, faster = (step_times(model, batch, seconds, channels_last=flag) for flag in (False, True))
            rates = [combined_rate(plain, r1, batch) for plain, r1, _ in (today, faster)]
            flop_rates = [flops / plain / 1e9 for plain, _, flops in (today, faster)]
            rows.append(f"| {width} / {widest} | {resolution} px | {rates[0]:.1f} | {rates[1]:.1f} | "
                        f"{rates[1] / rates[0]:.2f}x | {flop_rates[0]:.0f} / {flop_rates[1]:.0f} "
                        f"({flop_rates[0] * 1e9 / peak:.0%} / {flop_rates[1] * 1e9 / peak:.0%}) |")
            print(rows[-1], flush=True)
    model = models.ModelConfig(resolution=32, base_channels=32, max_channels=256)
    plain, r1, _ = step_times(model, batch, seconds)
    rows += ["", f"At 32 / 256, 32 px: a lazy-R1 step (double backward) takes {r1 / plain:.2f}x a plain step, "
             f"{(r1 - plain) / (15 * plain + r1):.0%} of the schedule's time; "
             f"{compiled_rate(model, batch, seconds, plain)} "
             f"the EMA update (one lerp per parameter) takes {ema_seconds(model) / plain:.1%} of a plain step."]
    return rows


def compiled_rate(model: models.ModelConfig, batch: int, seconds: float, eager_plain: float) -> str:
    """torch.compile of G and D (inductor's CPU backend) on plain steps, as a sentence."""
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=model, batch_size=batch,
                                  iterations=10_000, r1_gamma=0.0)
    trainer = training.Trainer(config)
    trainer.G, trainer.D = torch.compile(trainer.G), torch.compile(trainer.D)
    reals = synth.generate(batch, variant="primitives-ps", resolution=model.resolution)
    start = time.perf_counter()
    for _ in range(3):
        trainer.step(reals)
    warm = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - start < seconds:
        trainer.step(reals)
        steps += 1
    compiled = (time.perf_counter() - start) / steps
    return (f"torch.compile of G and D (R1 off: inductor cannot differentiate twice) takes {compiled / eager_plain:.2f}x "
            f"the eager plain step after {warm:.0f} s of compilation;")


def ema_seconds(model: models.ModelConfig, repeats: int = 50) -> float:
    """Seconds of one EMA update of G."""
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=model)
    trainer = training.Trainer(config)
    start = time.perf_counter()
    for _ in range(repeats):
        trainer.update_ema()
    return (time.perf_counter() - start) / repeats


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
    parser.add_argument("--seconds", type=float, default=15.0, help="timing per lever measurement")
    args = parser.parse_args()
    rows = [f"# Training throughput ({datetime.date.today()})", "",
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch}; "
            f"DiffAugment color,translation,cutout; lazy R1 every 16 steps; {args.steps} timed steps.", "",
            "At 32 px:", "",
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
    peak = matmul_flops_per_second()
    rows += ["", f"Levers, side by side in this run (one process, {torch.get_num_threads()} threads; float32 matmul "
             f"rate {peak / 1e9:.0f} GFLOP/s; images/s of the schedule, one lazy-R1 step in 16):", ""]
    rows += lever_rows(args.batch, args.seconds, peak)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
