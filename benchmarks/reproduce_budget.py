"""How long would `make reproduce` take from an empty runs folder? A projection from the stage times.

A notebook that resumes from cached stages records only the time it took to resume
(``figures/reproduce.json`` marks it ``from_empty: false``), so the budget of the whole canonical
run cannot be read from there while its stages were computed across several sessions. Every
training stage records its own wall time (``wall_s`` in its ``result.json``), measured in a worker
of ``scheduler.run_jobs``, which runs as many workers as the machine has cores. This benchmark lists
the jobs each notebook runs (with the jobs they need), in notebook order, each job counted in the
first notebook that runs it; sums the recorded wall times of the finished ones; estimates a job
not finished yet by the median of the finished jobs of its kind (stage, length, private or not);
and divides by the number of workers: the projected wall time of each notebook from empty,
beside the measured one where ``figures/reproduce.json`` has it. A recorded wall time includes
whatever else the machine did meanwhile (a paused run counts its pause; a stage resumed from its
checkpoint counts only the resumed part), hence the median for estimates.

A runs folder lives on one machine and can be lost with it, so the recorded times are also kept in
a committed ledger, ``benchmarks/results/stage_times.csv`` (a job's folder relative to the runs
root, the same on every machine because a folder is named by its config's hash, and its wall
time): a job whose folder is gone counts with its ledgered time, and every run of this benchmark
adds the times it found.

    .venv/bin/python benchmarks/reproduce_budget.py [--preset cpu] [--workers 2]

Writes benchmarks/results/reproduce_budget.md and stage_times.csv. Reads runs/<preset>/ and the
ledger; computes nothing.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from primps_core import checks, paths
from primps_core.paths import atomic_write, read_csv, write_csv
from primps_core.study import pipeline, reproduce

RESULTS = Path(__file__).resolve().parent / "results"
LEDGER = RESULTS / "stage_times.csv"


def notebook_jobs(preset: str) -> dict[str, list[pipeline.Job]]:
    """Every notebook's jobs, from its study module (``primps_core.study.<name>``): its
    ``study_plan`` where it trains more runs than it shows (notebook 03 trains every pretraining
    run of 04-05), else its ``plan``; in the order ``make reproduce`` runs them."""
    found = {}
    for notebook in reproduce.find_notebooks(paths.NOTEBOOKS_DIR):
        module = importlib.import_module(f"primps_core.study.{notebook.stem[3:]}")
        found[notebook.stem] = [job for _, job in getattr(module, "study_plan", module.plan)(preset)]
    return found


def kind(job: pipeline.Job) -> tuple:
    """Jobs of one kind cost about the same: the stage, its training length, private or not."""
    config = job.config
    length = getattr(config, "train", None) or getattr(config, "scale", None)     # scale: notebook 08's runs
    budget = getattr(config, "privacy", None)
    return (job.stage.name, getattr(length, "iterations", None), None if budget is None else budget.private)


def ledger_key(folder: Path) -> str:
    """A job's folder relative to the runs root (preset/stage/hash): the same on every machine."""
    return "/".join(folder.parts[-3:])


def read_ledger(path: Path = LEDGER) -> dict[str, float]:
    """The ledgered wall times, {ledger_key: seconds} (NaN: finished without a recorded time)."""
    if not path.exists():
        return {}
    columns = read_csv(path)
    return dict(zip(columns["job"].tolist(), columns["wall_s"].tolist()))


def recorded_seconds(job: pipeline.Job, ledger: dict[str, float] | None = None) -> float | None:
    """The job's recorded wall time, from its folder or else the ledger; None when it has not
    finished, NaN when it finished without one (the short stages: DP queries, reference scores)."""
    result = job.path() / "result.json"
    if not result.exists():
        return (ledger or {}).get(ledger_key(job.path()))
    return json.loads(result.read_text()).get("wall_s", float("nan"))


def recorded_times(owned: dict[str, list[pipeline.Job]], ledger: dict[str, float] | None = None) -> dict[Path, float | None]:
    """``recorded_seconds`` of every job of the plan, by its folder: read once, for the projection and the ledger."""
    return {job.path(): recorded_seconds(job, ledger) for jobs in owned.values() for job in jobs}


def updated_ledger(ledger: dict[str, float], recorded: dict[Path, float | None], preset: str) -> dict[str, float]:
    """The ledger with this preset's entries replaced by the current plan's finished jobs (``recorded``:
    from their folders, or kept from the ledger where a folder is gone); other presets' entries kept."""
    kept = {key: seconds for key, seconds in ledger.items() if not key.startswith(f"{preset}/")}
    found = {ledger_key(folder): seconds for folder, seconds in recorded.items() if seconds is not None}
    return {**kept, **found}


def first_runs(groups: dict[str, list[pipeline.Job]]) -> dict[str, list[pipeline.Job]]:
    """Each job (and the jobs it needs, first) under the first notebook that runs it."""
    seen: set[Path] = set()
    owned: dict[str, list[pipeline.Job]] = {}

    def visit(job: pipeline.Job, mine: list[pipeline.Job]) -> None:
        if job.path() in seen:
            return
        for needed in job.needs():
            visit(needed, mine)
        seen.add(job.path())
        mine.append(job)

    for notebook, jobs in groups.items():
        owned[notebook] = []
        for job in jobs:
            visit(job, owned[notebook])
    return owned


def projection(owned: dict[str, list[pipeline.Job]], workers: int, recorded: dict[Path, float | None]) -> list[dict]:
    """Per notebook: jobs, finished jobs, recorded and estimated worker-seconds, projected wall hours
    (``recorded``: ``recorded_times`` of the plan)."""
    by_kind = defaultdict(list)
    for jobs in owned.values():
        for job in jobs:
            if recorded[job.path()] is not None and not np.isnan(recorded[job.path()]):
                by_kind[kind(job)].append(recorded[job.path()])
    rows = []
    for notebook, jobs in owned.items():
        done = [recorded[job.path()] for job in jobs if recorded[job.path()] is not None]
        untimed = sum(1 for seconds in done if np.isnan(seconds))
        done = [seconds for seconds in done if not np.isnan(seconds)]
        missing = [job for job in jobs if recorded[job.path()] is None]
        unknown = [job for job in missing if not by_kind[kind(job)]]
        estimated = sum(float(np.median(by_kind[kind(job)])) for job in missing if by_kind[kind(job)])
        if not jobs:
            continue
        rows.append({"notebook": notebook, "jobs": len(jobs), "finished": len(done) + untimed, "untimed": untimed,
                     "unknown": len(unknown),
                     "recorded_s": sum(done), "estimated_s": estimated,
                     "projected_h": (sum(done) + estimated) / workers / 3600})
    return rows


def evaluation_share(owned: dict[str, list[pipeline.Job]]) -> dict[str, tuple[float, float]]:
    """Per notebook, over its finished training runs whose curves record evaluation times
    (``eval_s``, pretraining and transfer): (seconds spent evaluating, wall seconds of those runs).
    Issue 33 budgets evaluation at most 15% of a fine-tuning run."""
    shares = {}
    for notebook, jobs in owned.items():
        spent = total = 0.0
        for job in jobs:
            result = job.path() / "result.json"
            value = json.loads(result.read_text()) if result.exists() else None
            curve = value.get("curve") if isinstance(value, dict) else None
            if curve and all("eval_s" in point for point in curve) and "wall_s" in value:
                spent += sum(point["eval_s"] for point in curve)
                total += value["wall_s"]
        if total:
            shares[notebook] = (spent, total)
    return shares


def measured_hours(preset: str) -> dict[str, float]:
    """From-empty times recorded by ``primps reproduce`` (figures/reproduce.json), in hours."""
    record = paths.figures_dir(preset) / "reproduce.json"
    if not record.exists():
        return {}
    notebooks = json.loads(record.read_text()).get("notebooks", {})
    return {name: entry["seconds"] / 3600 for name, entry in notebooks.items() if entry.get("from_empty", True)}


def report(preset: str, workers: int, rows: list[dict], measured: dict[str, float],
           shares: dict[str, tuple[float, float]] | None = None) -> str:
    lines = [f"# Projected `make reproduce` time from an empty runs folder ({datetime.date.today()})", "",
             f"Preset {preset}; {workers} workers (one per core); each job's `wall_s` as recorded in runs/{preset}/ "
             "(or, for a job whose folder is gone, in stage_times.csv), a job not finished yet estimated by the "
             "median of the finished jobs of its kind; a job of a kind with no recorded time yet is counted "
             "in its row and not in the hours. A notebook with no timed job (01 and 02, which measure and "
             "do not train) counts its measured time.", "",
             "| notebook | jobs | finished | recorded worker-hours | estimated worker-hours (unfinished) | "
             "projected wall hours | measured from empty (hours) |", "|---|---|---|---|---|---|---|"]
    names = sorted(set(measured) | {row["notebook"] for row in rows})
    by_name = {row["notebook"]: row for row in rows}
    total = 0.0
    for name in names:
        row = by_name.get(name)
        seen = f"{measured[name]:.2f}" if name in measured else "-"
        if row is None:
            total += measured.get(name, 0.0)
            lines.append(f"| {name} | - | - | - | - | - | {seen} |")
            continue
        timed = row["recorded_s"] or row["estimated_s"]
        total += row["projected_h"] if timed else measured.get(name, 0.0)    # nothing timed: its measured time
        flag = f" ({row['unknown']} of a kind not timed yet, not counted)" if row["unknown"] else ""
        finished = f"{row['finished']}" + (f" ({row['untimed']} without a recorded time)" if row["untimed"] else "")
        lines.append(f"| {name} | {row['jobs']} | {finished} | {row['recorded_s'] / 3600:.2f} | "
                     f"{row['estimated_s'] / 3600:.2f}{flag} | {row['projected_h']:.2f} | {seen} |")
    lines += ["", f"Whole run (projected where trained, measured otherwise): {total:.2f} hours."]
    if shares:
        lines += ["", "Time spent scoring (FID/KID of the evaluations, the one at iteration 0 included) in the "
                  "finished training runs of each notebook:", "",
                  "| notebook | evaluation hours | run hours | evaluation share |", "|---|---|---|---|"]
        lines += [f"| {name} | {spent / 3600:.2f} | {total / 3600:.2f} | {spent / total:.0%} |"
                  for name, (spent, total) in shares.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    checks.integer(args.workers, "--workers", 1)
    owned, ledger = first_runs(notebook_jobs(args.preset)), read_ledger()
    recorded = recorded_times(owned, ledger)
    rows = projection(owned, args.workers, recorded)
    text = report(args.preset, args.workers, rows, measured_hours(args.preset), evaluation_share(owned))
    RESULTS.mkdir(exist_ok=True)
    atomic_write(RESULTS / "reproduce_budget.md", lambda temporary: Path(temporary).write_text(text))
    ledger = updated_ledger(ledger, recorded, args.preset)
    if ledger:
        write_csv(LEDGER, [{"job": key, "wall_s": ledger[key]} for key in sorted(ledger)])
    print(text)


if __name__ == "__main__":
    main()
