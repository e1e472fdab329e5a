"""Notebook 04, low-shot transfer: the decisive experiment (``study.decisive``: claims 1 and 2 of
``figures/design.json``) and the secondary grid beside it.

``plan`` lists both: the decisive experiment's pretraining and transfer runs, then every secondary
target fine-tuned from scratch, natural patches and Primitives-PS over the preset's fine-tuning
seeds (``secondary_plan``); ``rows`` gives every evaluation of every run with its labels;
``claims`` decides claims 1 and 2 from those rows through the claims engine. The secondary grid's
tables (``transfer.csv``: ``secondary_rows``; ``eval.transfer_tables``) are descriptive."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import sources
from ..eval import transfer_tables
from ..gan.sampling import sample_images
from ..presets import get_preset
from . import decisive, runs, scheduler, tables
from .pipeline import Context, Job, StageResult

# The targets notebook 04 transfers to (the colour photo targets, landscapes and galaxies, join them
# with the decisive experiment's recipe).
TARGETS = ("faces-100", "emoji-animals", "emoji-food", "sneakers-100")
INITS = (runs.SCRATCH, sources.NATURAL, "primitives-ps")


DESIGN = decisive.DESIGN
DECISIVE_PRETRAINING, DECISIVE, SECONDARY = "decisive pretraining", "decisive", "secondary"
SECONDARY_TABLE, SECONDARY_FIGURES = "transfer.csv", ("04_curves", "04_final", "04_samples")


def secondary_plan(preset: str) -> list[tuple[dict, Job]]:
    """Every (labels, job) of the secondary grid: one per (target, init, seed); none at a preset
    with no fine-tuning seeds for it (the cpu preset spends that budget on the claims)."""
    seeds = range(get_preset(preset).transfer_seeds)
    return [({"target": target, "init": init, "seed": seed}, runs.transfer_job(target, init, preset, seed=seed))
            for target in TARGETS for init in INITS for seed in seeds]


def plan(preset: str) -> list[tuple[dict, Job]]:
    """Every run of notebook 04, each labelled with its ``part``: the decisive experiment's
    pretraining runs and transfers, then the secondary grid."""
    parts = ((DECISIVE_PRETRAINING, decisive.pretrain_plan(preset)), (DECISIVE, decisive.transfer_plan(preset)),
             (SECONDARY, secondary_plan(preset)))
    return [({"part": part, **labels}, job) for part, planned in parts for labels, job in planned]


def rows(plan_: list[tuple[dict, Job]], results: list[StageResult]) -> list[dict]:
    """Every evaluation of every run of ``plan_``: its labels, iteration, FID and KID."""
    return decisive.curve_rows([labels for labels, _ in plan_], results)


def claims(rows_: list[dict]) -> list[dict]:
    """Claims 1 and 2 (``decisive.claims``) from ``rows`` of the decisive parts of the plan."""
    def part(name: str) -> list[dict]:
        return [{key: value for key, value in row.items() if key != "part"} for row in rows_ if row["part"] == name]
    return decisive.claims(part(DECISIVE), part(DECISIVE_PRETRAINING))


def train(preset: str, context: Context | None = None) -> tuple[list[dict], list[StageResult]]:
    """Train (or load) every run of the secondary grid: its labels and results, in order."""
    planned = secondary_plan(preset)
    return [labels for labels, _ in planned], scheduler.run_jobs([job for _, job in planned], context=context)


def remove_secondary_files(out_dir: Path) -> None:
    """Remove the secondary grid's table and figures of an earlier run from ``out_dir``: a run
    that leaves the grid out must not sit beside another run's figures."""
    for name in (SECONDARY_TABLE, *(f"{figure}.png" for figure in SECONDARY_FIGURES)):
        (Path(out_dir) / name).unlink(missing_ok=True)


def secondary_rows(labels: list[dict], results: list[StageResult]) -> list[dict]:
    """One row per run of the secondary grid and evaluation (``transfer_tables.COLUMNS``)."""
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
    """Notebook 04's numbers, from ``transfer.csv`` (none where the secondary grid was not run)."""
    if not (Path(figures_dir) / SECONDARY_TABLE).is_file():
        return {}
    rows = tables.csv_rows(Path(figures_dir) / SECONDARY_TABLE)
    for row in rows:
        row["seed"] = int(row["seed"])
    finals = [{"target": row["target"], "init": row["init"], "seeds": row["seeds"],
               "FID": tables.plus_minus(row["fid_mean"], row["fid_std"], 1),
               "KID": tables.plus_minus(row["kid_mean"], row["kid_std"], 3)}
              for row in transfer_tables.summary(rows)]
    first = min(row["iters"] for row in rows if row["iters"] > 0)      # the first after the start
    paired = (paired_table(rows, runs.SCRATCH, "init", f"final ({max(row['iters'] for row in rows):.0f})")
              + paired_table([row for row in rows if row["iters"] == first], runs.SCRATCH, "init",
                             f"first evaluation ({first:.0f})"))
    return {"Final scores, mean ± s.d. over fine-tuning seeds": finals,
            "Paired against scratch on the same (target, seed)": paired}
