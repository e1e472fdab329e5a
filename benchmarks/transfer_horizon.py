"""How long must fine-tuning run for scratch to plateau on the decisive experiment's targets?

The convergence gate of ``figures/design.json`` asks that scratch's mean KID curve gain at most a
tenth of its improvement over the last third of fine-tuning. This benchmark trains scratch on
each primary target (``study.decisive.PRIMARY_TARGETS``) with the ``--preset``'s recipe for
``--iterations``, scored every ``--iterations / --evals`` iterations by FID and KID of the preset's
sample count against the whole target (and at iteration 0, before any step), and reports, for each fine-tuning length T the study could
choose (a multiple of three evaluation intervals), whether the gate would pass on the evaluations
the study would make at that length (T/3, 2T/3, T), averaged over ``--seeds`` scratch seeds. It also measures the noise of one evaluation: the KID of each
run's final generator on ten independent sets of samples.

    .venv/bin/python benchmarks/transfer_horizon.py [--preset cpu] [--iterations 4800] [--evals 16] [--seeds 1]

The runs are the study's transfer stages (``runs.transfer_job`` with the length and evaluations
overridden), cached under ``runs/<preset>/`` and run two at a time on two cores, so an interrupted
benchmark resumes. Writes benchmarks/results/transfer_horizon.md and .png.
"""
from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from primps_core import checks  # noqa: E402
from primps_core.data import sources  # noqa: E402
from primps_core.eval import claims, metrics  # noqa: E402
from primps_core.gan import sampling, training  # noqa: E402
from primps_core.paths import atomic_write  # noqa: E402
from primps_core.presets import get_preset  # noqa: E402
from primps_core.study import decisive, runs, scheduler  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


NOISE_DRAWS = 10        # sample sets drawn from each run's final generator to measure KID's noise


def _score(generator: torch.nn.Module, config, seed: int) -> dict:
    """FID and KID of ``config.fid_samples`` samples of ``generator`` (latents from ``seed``)
    against the whole target, as the transfer stage scores its evaluations."""
    real = sources.load_images(config.train.source, config.train.model.resolution)
    fake = sampling.sample_images(generator, config.fid_samples, seed)
    return metrics.evaluate(real, fake, ["fid", "kid"], progress=False, cache_dir=runs.feature_cache(runs.Context()))


def at_start(config) -> dict:
    """Scratch's evaluation at iteration 0: its EMA generator before any step (the stage scores
    only after steps), with the latents the stage's evaluations use."""
    trainer = training.Trainer(config.train)
    scores = _score(trainer.G_ema, config, config.train.seed + 1_000_000)
    return {"iteration": 0, **{key: scores[key] for key in runs.SCORES}}


def final_noise(result, config) -> list[float]:
    """KID of the run's final EMA generator on ``NOISE_DRAWS`` independent sets of samples: the
    spread of one evaluation at the study's sample count (pilot (d) of issue 33)."""
    state = training.load_checkpoint(result.path / training.CHECKPOINT)
    trainer = training.Trainer(config.train)
    trainer.load_state_dict(state)
    return [_score(trainer.G_ema, config, 2_000_000 + draw)["kid_mean"] for draw in range(NOISE_DRAWS)]


def curves(preset: str, iterations: int, evals: int, seeds: int) -> tuple[dict, dict]:
    """Per primary target, each scratch seed's evaluations (iteration 0 first, then the stage's:
    iteration, fid, kid_mean) and the KIDs of its final generator over ``NOISE_DRAWS`` sample sets."""
    planned = [(target, runs.transfer_job(target, runs.SCRATCH, preset, seed=seed, iterations=iterations, evals=evals))
               for target in decisive.PRIMARY_TARGETS for seed in range(seeds)]
    results = scheduler.run_jobs([job for _, job in planned])
    found: dict[str, list[list[dict]]] = {}
    noise: dict[str, list[list[float]]] = {}
    with scheduler._threads(scheduler.RUN_THREADS):
        for (target, job), result in zip(planned, results):
            found.setdefault(target, []).append([at_start(job.config)] + result.value["curve"])
            noise.setdefault(target, []).append(final_noise(result, job.config))
    return found, noise


def gate_by_length(seeds: list[list[dict]]) -> list[dict]:
    """For each length T with evaluations at T/3 and 2T/3: the mean KID there and whether the
    convergence gate passes on those three evaluations."""
    iterations = [point["iteration"] for point in seeds[0]]
    mean = {i: float(np.mean([curve[k]["kid_mean"] for curve in seeds])) for k, i in enumerate(iterations)}
    rows = []
    for length in iterations:
        marks = [length // 3, 2 * length // 3, length]
        if not length or length % 3 or not all(mark in mean for mark in marks):
            continue
        kids = [mean[mark] for mark in marks]
        rows.append({"length": length, "kids": kids, "passes": claims.convergence_gate(marks, kids)})
    return rows


def report(found: dict, noise: dict, preset: str, iterations: int, evals: int, seeds: int) -> str:
    sizes = get_preset(preset)
    lines = [f"# How long scratch takes to plateau on the primary targets ({datetime.date.today()})", "",
             f"torch {torch.__version__}; preset `{preset}`: {sizes.architecture} {sizes.base_channels} channels, "
             f"{sizes.train_resolution} px, batch {sizes.batch_size}, R1 from the heuristic; scratch fine-tuned for "
             f"{iterations:,} iterations, scored {evals} times by KID and FID of {sizes.fid_samples} samples against "
             f"the whole target; {seeds} seed(s), KID averaged over them. The preset fine-tunes for "
             f"{sizes.transfer_iterations:,} iterations.", "",
             "KID during fine-tuning:", "",
             "| iteration | " + " | ".join(found) + " |", "|---|" + "---|" * len(found)]
    targets = list(found.values())
    for k, point in enumerate(targets[0][0]):
        lines.append(f"| {point['iteration']:,} | " + " | ".join(
            f"{np.mean([curve[k]['kid_mean'] for curve in seeds_]):.3f}" for seeds_ in targets) + " |")
    lines += ["", "The convergence gate at each fine-tuning length T the study could choose, on the mean KID at "
              "T/3, 2T/3 and T:", "", "| T | " + " | ".join(found) + " |", "|---|" + "---|" * len(found)]
    gates = {target: {row["length"]: row for row in gate_by_length(seeds_)} for target, seeds_ in found.items()}
    for length in next(iter(gates.values())):
        cells = []
        for target in found:
            row = gates[target][length]
            cells.append(f"{'passes' if row['passes'] else 'fails'} ({' → '.join(f'{k:.3f}' for k in row['kids'])})")
        lines.append(f"| {length:,} | " + " | ".join(cells) + " |")
    lines += ["", f"The noise of one evaluation: KID of each seed's final generator on {NOISE_DRAWS} independent sets "
              f"of {sizes.fid_samples} samples against the whole target (standard deviation over the draws, "
              "then the mean of the seeds' standard deviations):", "",
              "| target | KID mean over draws | std over draws | range |", "|---|---|---|---|"]
    for target, draws in noise.items():
        values = np.array(draws)
        lines.append(f"| {target} | {values.mean():.4f} | {np.mean(values.std(axis=1, ddof=1)):.4f} | "
                     f"{values.min():.4f} - {values.max():.4f} |")
    return "\n".join(lines) + "\n"


def figure(found: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for target, seeds_ in found.items():
        iterations = [point["iteration"] for point in seeds_[0]]
        ax.plot(iterations, np.mean([[p["kid_mean"] for p in curve] for curve in seeds_], axis=0), "o-", label=target)
    ax.set_xlabel("fine-tuning iteration (scratch)")
    ax.set_ylabel("KID against the whole target")
    ax.legend(frameon=False)
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, format="png", dpi=110))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--iterations", type=int, default=4800)
    parser.add_argument("--evals", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    iterations = checks.integer(args.iterations, "iterations", 3)
    evals = checks.integer(args.evals, "evals", 3)
    seeds = checks.integer(args.seeds, "seeds", 1)
    found, noise = curves(args.preset, iterations, evals, seeds)
    text = report(found, noise, args.preset, iterations, evals, seeds)
    atomic_write(RESULTS / "transfer_horizon.md", lambda temporary: Path(temporary).write_text(text))
    figure(found, RESULTS / "transfer_horizon.png")
    print(text)


if __name__ == "__main__":
    main()
