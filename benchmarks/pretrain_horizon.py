"""How long must pretraining run for each decisive arm to learn its source, and where does it flatten?

Pilots (a) and (b) of issue 33. Notebook 04's pretraining gate asks that a run's last source KID
be no higher than its KID at a third of the run. This benchmark pretrains each ``--sources`` arm
(Primitives-PS, natural photo patches) with the ``--preset``'s recipe for ``--iterations``, scored
at iteration 0 and ``--evals`` times after by FID and KID of the preset's sample count against as
many held-out source images (``sources.held_out_images``: for natural patches, crops of photos no
run trains on), and reports, for each pretraining length T the study could choose, the KID there
and whether the gate would pass on the evaluations the study would make (T/3 and T). It also
measures the noise of one evaluation: the KID of each run's final generator on ten independent
sets of samples.

    .venv/bin/python benchmarks/pretrain_horizon.py [--preset cpu] [--sources natural-patches,primitives-ps]
        [--iterations 6000] [--evals 15] [--seeds 1] [--workers N]

The runs are the study's pretraining stages (``runs.pretrain_job`` with the length and evaluations
overridden), cached under ``runs/<preset>/``, so an interrupted benchmark resumes and a source whose
runs have finished is not trained again. Writes benchmarks/results/pretrain_horizon.md and .png.
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
from primps_core.study import runs, scheduler  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NOISE_DRAWS = 10        # sample sets drawn from each run's final generator to measure KID's noise
DEFAULT_SOURCES = ("natural-patches", "primitives-ps")


def _score(generator: torch.nn.Module, config: runs.PretrainConfig, seed: int) -> dict:
    """FID and KID of ``config.fid_samples`` samples of ``generator`` against the held-out source
    images the pretraining stage scores against."""
    train = config.train
    reference = sources.held_out_images(train.source, train.model.resolution, train.seed, config.fid_samples)
    fake = sampling.sample_images(generator, config.fid_samples, seed)
    return metrics.evaluate(reference, fake, ["fid", "kid"], progress=False,
                            cache_dir=runs.feature_cache(runs.Context()))


def at_start(config: runs.PretrainConfig) -> dict:
    """The run's evaluation at iteration 0: its EMA generator before any step, with the latents
    the stage's evaluations use."""
    trainer = training.Trainer(config.train)
    scores = _score(trainer.G_ema, config, config.train.seed + 1_000_000)
    return {"iteration": 0, **{key: scores[key] for key in runs.SCORES}}


def final_noise(result, config: runs.PretrainConfig) -> list[float]:
    """KID of the run's final EMA generator on ``NOISE_DRAWS`` independent sets of samples."""
    trainer = training.Trainer(config.train)
    trainer.load_state_dict(training.load_checkpoint(result.path / training.CHECKPOINT))
    return [_score(trainer.G_ema, config, 2_000_000 + draw)["kid_mean"] for draw in range(NOISE_DRAWS)]


def curves(preset: str, names: list[str], iterations: int, evals: int, seeds: int,
           workers: int | None = None) -> tuple[dict, dict, dict]:
    """Per source, each seed's evaluations (iteration 0 first), the KIDs of its final generator over
    ``NOISE_DRAWS`` sample sets, and its training rate (images/s, one thread)."""
    planned = [(name, runs.pretrain_job(name, preset, seed=seed, iterations=iterations, evals=evals))
               for name in names for seed in range(seeds)]
    results = scheduler.run_jobs([job for _, job in planned], workers=workers)
    found: dict[str, list[list[dict]]] = {}
    noise: dict[str, list[list[float]]] = {}
    rates: dict[str, list[float]] = {}
    with scheduler._threads(scheduler.RUN_THREADS):
        for (name, job), result in zip(planned, results):
            found.setdefault(name, []).append([at_start(job.config)] + result.value["curve"])
            noise.setdefault(name, []).append(final_noise(result, job.config))
            rates.setdefault(name, []).append(result.value["images_per_s"])
    return found, noise, rates


def gate_by_length(seeds: list[list[dict]]) -> list[dict]:
    """For each length T with an evaluation at T/3: each seed's KID at T/3 and T and whether the
    pretraining gate (no seed's KID higher at T than at T/3) passes, without and with a tolerance."""
    iterations = [point["iteration"] for point in seeds[0]]
    rows = []
    for length in iterations:
        if not length or length % 3 or length // 3 not in iterations:
            continue
        pairs = [(curve[iterations.index(length // 3)]["kid_mean"], curve[iterations.index(length)]["kid_mean"])
                 for curve in seeds]
        gate = claims.learned_gate("pretraining", ([[length // 3, length], [third, end]] for third, end in pairs))
        rows.append({"length": length, "pairs": pairs, "rise": gate.value, "passes": gate.passes})
    return rows


def report(found: dict, noise: dict, rates: dict, preset: str, iterations: int, evals: int, seeds: int) -> str:
    sizes = get_preset(preset)
    lines = [f"# How long each decisive arm takes to learn its pretraining source ({datetime.date.today()})", "",
             f"torch {torch.__version__}; preset `{preset}`: {sizes.architecture} {sizes.base_channels} channels, "
             f"{sizes.train_resolution} px, batch {sizes.batch_size}, R1 from the heuristic; each source pretrained "
             f"for {iterations:,} iterations on one thread, scored at iteration 0 and {evals} times after by KID and "
             f"FID of {sizes.fid_samples} samples against as many held-out source images (natural patches: crops of "
             f"held-out photos); {seeds} seed(s), KID averaged over them. The preset pretrains for "
             f"{sizes.pretrain_iterations:,} iterations.", "",
             "Source KID during pretraining (mean over seeds; FID in brackets):", "",
             "| iteration | " + " | ".join(found) + " |", "|---|" + "---|" * len(found)]
    arms = list(found.values())
    for k, point in enumerate(arms[0][0]):
        cells = [f"{np.mean([c[k]['kid_mean'] for c in seeds_]):.3f} ({np.mean([c[k]['fid'] for c in seeds_]):.0f})"
                 for seeds_ in arms]
        lines.append(f"| {point['iteration']:,} | " + " | ".join(cells) + " |")
    lines += ["", "The pretraining gate at each length T the study could choose: the largest rise of a seed's KID "
              "from T/3 to T (negative: every seed improved), and whether the gate passes without a tolerance:", "",
              "| T | " + " | ".join(found) + " |", "|---|" + "---|" * len(found)]
    gates = {name: {row["length"]: row for row in gate_by_length(seeds_)} for name, seeds_ in found.items()}
    for length in next(iter(gates.values())):
        cells = [f"{'passes' if gates[name][length]['passes'] else 'fails'} ({gates[name][length]['rise']:+.3f})"
                 for name in found]
        lines.append(f"| {length:,} | " + " | ".join(cells) + " |")
    lines += ["", f"The noise of one evaluation and the training rate: KID of each seed's final generator on "
              f"{NOISE_DRAWS} independent sets of {sizes.fid_samples} samples against the held-out source images "
              "(standard deviation over the draws, then the mean over seeds), and images/s of one training thread:", "",
              "| source | KID mean over draws | std over draws | range | images/s |", "|---|---|---|---|---|"]
    for name, draws in noise.items():
        values = np.array(draws)
        lines.append(f"| {name} | {values.mean():.4f} | {np.mean(values.std(axis=1, ddof=1)):.4f} | "
                     f"{values.min():.4f} - {values.max():.4f} | {np.mean(rates[name]):.0f} |")
    return "\n".join(lines) + "\n"


def figure(found: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, seeds_ in found.items():
        iterations = [point["iteration"] for point in seeds_[0]]
        for k, curve in enumerate(seeds_):
            ax.plot(iterations, [p["kid_mean"] for p in curve], "o-", ms=3, color=f"C{list(found).index(name)}",
                    alpha=0.8, label=name if k == 0 else None)
    ax.set_xlabel("pretraining iteration")
    ax.set_ylabel("KID against held-out source images")
    ax.set_yscale("log")
    ax.legend(frameon=False)
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, format="png", dpi=110))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--sources", default=",".join(DEFAULT_SOURCES),
                        help="comma-separated pretraining sources (default: both decisive arms)")
    parser.add_argument("--iterations", type=int, default=6000)
    parser.add_argument("--evals", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None,
                        help="runs at a time (default: one per core); 1 leaves the other core free")
    args = parser.parse_args()
    names = [checks.choice(name, "pretraining source", runs.PRETRAIN_SOURCES) for name in args.sources.split(",")]
    iterations = checks.integer(args.iterations, "iterations", 3)
    evals = checks.integer(args.evals, "evals", 3)
    seeds = checks.integer(args.seeds, "seeds", 1)
    found, noise, rates = curves(args.preset, names, iterations, evals, seeds, args.workers)
    text = report(found, noise, rates, args.preset, iterations, evals, seeds)
    atomic_write(RESULTS / "pretrain_horizon.md", lambda temporary: Path(temporary).write_text(text))
    figure(found, RESULTS / "pretrain_horizon.png")
    print(text)


if __name__ == "__main__":
    main()
