"""The runs behind notebook 04: every target fine-tuned from scratch, natural patches and
Primitives-PS, over the preset's fine-tuning seeds (``plan``), and their scores as the rows of
``transfer.csv`` (``rows``; the tables over them are ``eval.transfer_tables``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import sources
from ..eval import transfer_tables
from ..gan.training import sample_images
from ..presets import get_preset
from . import runs, tables
from .pipeline import Context, StageResult

# The targets notebook 04 transfers to (the colour photo targets, landscapes and galaxies, join them
# with the decisive experiment's recipe).
TARGETS = ("faces-100", "emoji-animals", "emoji-food", "sneakers-100")
INITS = (runs.SCRATCH, sources.NATURAL, "primitives-ps")


def plan(preset: str) -> list[tuple[dict, runs.Job]]:
    """Every (labels, job): one per (target, init, seed)."""
    seeds = range(get_preset(preset).transfer_seeds)
    return [({"target": target, "init": init, "seed": seed}, runs.transfer_job(target, init, preset, seed=seed))
            for target in TARGETS for init in INITS for seed in seeds]


def train(preset: str, context: Context | None = None) -> tuple[list[dict], list[StageResult]]:
    """Train (or load) every run of ``plan``: its labels and results, in order."""
    planned = plan(preset)
    return [labels for labels, _ in planned], runs.run_jobs([job for _, job in planned], context=context)


def rows(labels: list[dict], results: list[StageResult]) -> list[dict]:
    """One row per run and evaluation (``transfer_tables.COLUMNS``)."""
    return transfer_tables.curve_rows([(label, result.value) for label, result in zip(labels, results)])


def real_and_samples(labels: list[dict], results: list[StageResult], resolution: int,
                     n: int = 10) -> dict[str, np.ndarray]:
    """Per target, ``n`` real images and ``n`` samples of each init's seed-0 run."""
    grid = {}
    for target in TARGETS:
        grid[f"{target}\n(real)"] = sources.load_images(target, resolution)[:n]
        for init in INITS:
            run = results[labels.index({"target": target, "init": init, "seed": 0})]
            grid[f"{target}\n{init}"] = sample_images(runs.load_generator(run), n, seed=1)
    return grid


def paired_table(rows: list[dict], baseline: str, by: str, when: str | None = None) -> tables.Table:
    """Each ``by`` label against ``baseline`` on the same (target, seed), by FID and by KID: wins,
    the mean ± s.d. of the paired differences, the sign-test and paired t-test p-values."""
    by_metric = {metric: {row[by]: row for row in transfer_tables.paired_wins(rows, baseline, metric, by)}
                 for metric in ("fid", "kid_mean")}
    table = []
    for name, fid in by_metric["fid"].items():
        kid = by_metric["kid_mean"][name]
        table.append({by: name, **({"when": when} if when else {}),
                      "wins by FID": f"{fid['wins']} / {fid['pairs']}",
                      f"FID minus {baseline}": f"{fid['mean_difference']:+.1f} ± {fid['std_difference']:.1f}",
                      "sign test p": tables.p_value(fid["sign_test_p"]), "t-test p": tables.p_value(fid["t_test_p"]),
                      "wins by KID": f"{kid['wins']} / {kid['pairs']}",
                      f"KID minus {baseline}": f"{kid['mean_difference']:+.3f} ± {kid['std_difference']:.3f}",
                      "KID t-test p": tables.p_value(kid["t_test_p"])})
    return table


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 04's numbers, from ``transfer.csv``."""
    rows = tables.csv_rows(Path(figures_dir) / "transfer.csv")
    for row in rows:
        row["seed"] = int(row["seed"])
    finals = [{"target": row["target"], "init": row["init"], "seeds": row["seeds"],
               "FID": tables.plus_minus(row["fid_mean"], row["fid_std"], 1),
               "KID": tables.plus_minus(row["kid_mean"], row["kid_std"], 3)}
              for row in transfer_tables.summary(rows)]
    first = min(row["iters"] for row in rows)
    paired = (paired_table(rows, runs.SCRATCH, "init", f"final ({max(row['iters'] for row in rows):.0f})")
              + paired_table([row for row in rows if row["iters"] == first], runs.SCRATCH, "init",
                             f"first evaluation ({first:.0f})"))
    return {"Final scores, mean ± s.d. over fine-tuning seeds": finals,
            "Paired against scratch on the same (target, seed)": paired}
