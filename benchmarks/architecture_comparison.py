"""Which GAN pair learns its pretraining source fastest on this CPU: FID/KID against CPU-minutes.

Each candidate (architecture and width) trains on Primitives-PS at 32 px, batch 32, with the
recipe the study uses (DiffAugment, lazy R1 with StyleGAN2-ADA's heuristic weight
``training.r1_heuristic``, EMA) for the same budget of CPU time, its EMA generator scored at
evenly spaced checkpoints by FID and KID of ``--samples`` images against as many held-out
Primitives-PS images (equal sizes keep FID's bias equal across candidates). Each candidate trains
on one thread, as every run of the study does (``scheduler.run_jobs``), and only its training steps
count, as the thread's CPU time: generating the batches and the evaluations do not, and other
work on the machine does not either (with several threads, OpenMP's spin-waiting under contention
would count as time).

    .venv/bin/python benchmarks/architecture_comparison.py [--minutes 30] [--checkpoints 6] [--samples 200]
        [--seeds 1] [--candidates 0,1,2,3]

The study's pretraining must learn its source (notebook 04's pretraining gate), so the horizon is
long: 30 CPU-minutes per candidate by default. Two processes with different ``--candidates``
share two cores. Each finished (candidate, seed) is kept in
benchmarks/results/architecture_comparison/ with the settings it ran under, so an interrupted run
resumes with the next one; after each, the table (architecture_comparison.md), the curves
(architecture_comparison.png) and every candidate's final samples beside the real images
(architecture_samples.png) are rewritten from all finished runs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import torch

from primps_core import synth
from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.gan import models, sampling, training
from primps_core.paths import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"
CANDIDATES = (("dcgan", 16, 128), ("resnet", 16, 128), ("dcgan", 32, 256), ("resnet", 32, 256))
RESOLUTION, BATCH = 32, 32
STORE = RESULTS / "architecture_comparison"       # one JSON file per finished candidate and seed


def run(architecture: str, width: int, widest: int, minutes: float, checkpoints: int, real: np.ndarray,
        seed: int) -> dict:
    """Train one candidate for ``minutes`` of CPU time; its scores at each checkpoint and final samples."""
    model = models.ModelConfig(architecture=architecture, resolution=RESOLUTION, base_channels=width,
                               max_channels=widest)
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=model, batch_size=BATCH,
                                  iterations=10**9, seed=seed, r1_gamma=training.r1_heuristic(RESOLUTION, BATCH))
    trainer = training.Trainer(config)
    rows, trained = [], 0.0
    for mark in [minutes * 60 * (k + 1) / checkpoints for k in range(checkpoints)]:
        while trained < mark:
            reals = synth.generate(BATCH, variant="primitives-ps", resolution=RESOLUTION, seed=seed,
                                   start=trainer.iteration * BATCH)
            start = time.thread_time()
            trainer.step(reals)
            trained += time.thread_time() - start
        fake = sampling.sample_images(trainer.G_ema, len(real), seed=7)
        scores = metrics.evaluate(real, fake, ["fid", "kid"], cache_dir=None, progress=False)
        rows.append({"cpu_minutes": trained / 60, "iterations": trainer.iteration,
                     "fid": scores["fid"], "kid": scores["kid_mean"]})
        print(architecture, width, widest, seed, rows[-1], flush=True)
    samples = sampling.sample_images(trainer.G_ema, 16, seed=7)
    return {"architecture": architecture, "width": width, "widest": widest, "seed": seed, "rows": rows,
            "samples": samples.tolist()}


def spread(values: list[float], digits: int = 1) -> str:
    """Mean ± sample std of ``values`` (just the value for one)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def table(finished: list[dict], settings: dict) -> str:
    lines = [f"# GAN architectures at 32 px: FID/KID against CPU-minutes ({datetime.date.today()})", "",
             f"torch {torch.__version__}, {torch.get_num_threads()} threads; Primitives-PS, batch {BATCH}, "
             f"DiffAugment, lazy R1 (gamma {training.r1_heuristic(RESOLUTION, BATCH):g}, StyleGAN2-ADA's heuristic), "
             f"EMA; {settings['minutes']:g} CPU-minutes per candidate (one thread; its CPU time in the training "
             f"steps); FID/KID of {settings['samples']} EMA samples against {settings['samples']} held-out "
             f"Primitives-PS images; mean ± std over {settings['seeds']} seed(s).", "",
             "| architecture | base / max channels | CPU-minutes | iterations | images per CPU-second | FID | KID |",
             "|---|---|---|---|---|---|---|"]
    for architecture, width, widest in CANDIDATES:
        runs = [f["rows"] for f in finished if (f["architecture"], f["width"], f["widest"]) == (architecture, width, widest)]
        for rows in zip(*runs):
            minutes, iterations = np.mean([r["cpu_minutes"] for r in rows]), np.mean([r["iterations"] for r in rows])
            lines.append(f"| {architecture} | {width} / {widest} | {minutes:.1f} | {iterations:.0f} | "
                         f"{iterations * BATCH / (minutes * 60):.1f} | {spread([r['fid'] for r in rows])} | "
                         f"{spread([r['kid'] for r in rows], 3)} |")
    return "\n".join(lines) + "\n"


def figures(finished: list[dict], real: np.ndarray) -> None:
    """FID and KID against CPU-minutes per candidate; final samples of each candidate beside real images."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from primps_core.viz import plots
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for f in finished:
        label = f"{f['architecture']} {f['width']}/{f['widest']}, seed {f['seed']}"
        minutes = [r["cpu_minutes"] for r in f["rows"]]
        for axis, key in zip(axes, ("fid", "kid")):
            axis.plot(minutes, [r[key] for r in f["rows"]], marker="o", label=label)
    for axis, key in zip(axes, ("FID", "KID")):
        axis.set_xlabel("CPU-minutes of training")
        axis.set_ylabel(f"{key} against held-out Primitives-PS")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    plots.save_figure(fig, RESULTS, "architecture_comparison")
    grid = {"real": real[:16]}
    grid.update({f"{f['architecture']} {f['width']}/{f['widest']} s{f['seed']}": np.asarray(f["samples"], np.uint8)
                 for f in finished})
    plots.save_figure(plots.labelled_rows(grid), RESULTS, "architecture_samples")
    plt.close("all")


def finished_runs(settings: dict) -> list[dict]:
    """Every finished run kept under the same settings, in CANDIDATES order."""
    kept = [json.loads(path.read_text()) for path in sorted(STORE.glob("*.json"))]
    kept = [run for run in kept if run["settings"] == settings]
    order = {candidate: k for k, candidate in enumerate(CANDIDATES)}
    return sorted(kept, key=lambda run: (order[(run["architecture"], run["width"], run["widest"])], run["seed"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--checkpoints", type=int, default=6)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--candidates", default=",".join(map(str, range(len(CANDIDATES)))),
                        help="indices into CANDIDATES, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = {"minutes": args.minutes, "checkpoints": args.checkpoints, "samples": args.samples,
                "seeds": args.seeds, "r1_gamma": training.r1_heuristic(RESOLUTION, BATCH), "threads": 1}
    real = synth.generate(args.samples, variant="primitives-ps", resolution=RESOLUTION, seed=10**6)
    STORE.mkdir(parents=True, exist_ok=True)
    for index in map(int, args.candidates.split(",")):
        architecture, width, widest = CANDIDATES[index]
        for seed in range(args.seeds):
            path = STORE / f"{architecture}-{width}-{widest}-seed{seed}.json"
            if path.exists() and json.loads(path.read_text())["settings"] == settings:
                continue
            result = {"settings": settings, **run(architecture, width, widest, args.minutes, args.checkpoints, real, seed)}
            atomic_write(path, lambda temporary: Path(temporary).write_text(json.dumps(result)))
            finished = finished_runs(settings)
            markdown = table(finished, settings)
            atomic_write(RESULTS / "architecture_comparison.md", lambda temporary: Path(temporary).write_text(markdown))
            figures(finished, real)
    print(table(finished_runs(settings), settings))


if __name__ == "__main__":
    main()
