"""The runs behind notebook 03: one GAN pretrained on each source, scored against its own source,
and every other pretraining run of the study.

Every pretraining source (the four synthesizer variants and natural patches) gets one run of the
preset's size (``plan``: ``runs.pretrain_job``), the decisive experiment's unit 0. Notebook 03
also trains the other units that notebooks 04 and 05 fine-tune (``study_plan``), so that each of
those notebooks fine-tunes only, and reports every run's pretraining gate (``gate_rows``).
``rows`` lists every evaluation of every run
(``pretrain_curves.csv``), ``table`` condenses the finished runs into the rows of
``pretrain.csv``, and ``source_and_samples`` gives the images notebook 03 shows side by side.
Notebook 03 registers no claims: the pretraining gate it reports belongs to the decisive
experiment's design (``study.design``), decided in notebooks 04-05.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import sources
from ..eval import claims
from ..gan.sampling import sample_images
from ..presets import get_preset
from . import decisive, runs, scheduler, tables
from .pipeline import Context, Job, StageResult

SOURCES = runs.PRETRAIN_SOURCES
COLUMNS = ("source", "iterations", "images", "wall_s", "eval_s", "images_per_s", "fid", "kid_mean", "kid_std")


DESIGN = None      # notebook 03 registers no claims


def plan(preset: str) -> list[tuple[dict, Job]]:
    """The pretraining run of every source at ``preset``, in ``SOURCES`` order."""
    return [({"source": source}, runs.pretrain_job(source, preset)) for source in SOURCES]


def study_plan(preset: str) -> list[tuple[dict, Job]]:
    """Every pretraining run notebooks 04 and 05 fine-tune, labelled by source and seed, each once
    (the ones of ``plan`` included), in the order they first appear."""
    from . import ablations
    found: dict[Job, dict] = {}
    for _, transfer in decisive.transfer_plan(preset) + ablations.plan(preset):
        for job in transfer.needs():
            train = job.config.train            # a pretraining run's, or a shipped copy's (shipped.RestoreConfig)
            options = ", ".join(f"{key}={value}" for key, value in train.source.options)
            found.setdefault(job, {"source": train.source.label + (f" ({options})" if options else ""), "seed": train.seed})
    return [(labels, job) for job, labels in found.items()]


def train(preset: str, context: Context | None = None) -> tuple[dict[str, StageResult], list[dict]]:
    """Train (or load) every source's run and every other pretraining run of the study, in
    parallel: (source -> result of ``plan``, ``gate_rows`` of every run)."""
    planned, study = plan(preset), study_plan(preset)
    extra = [(labels, job) for labels, job in study if job not in {job for _, job in planned}]
    results = scheduler.run_jobs([job for _, job in planned + extra], context=context)
    by_job = dict(zip([job for _, job in planned + extra], results))
    return ({labels["source"]: by_job[job] for labels, job in planned},
            gate_rows([labels for labels, _ in study], [by_job[job] for _, job in study]))


def gate_rows(labels: list[dict], results: list[StageResult]) -> list[dict]:
    """Per pretraining run: its source and seed, KID at iteration 0, at the evaluation nearest a
    third of the run and at the end, and the pretraining gate of the current design
    (``decisive.RULES``): the last KID at most the tolerance above the one at a third."""
    out = []
    for label, result in zip(labels, results):
        iterations = [p["iteration"] for p in result.value["curve"]]
        kids = [p["kid_mean"] for p in result.value["curve"]]
        out.append({**label, "kid_start": kids[0], "kid_third": claims.at_fraction(iterations, kids, 1 / 3),
                    "kid_end": kids[-1],
                    "gate": "passes" if claims.pretraining_gate(iterations, kids, decisive.RULES.pretraining_tolerance)
                    else "fails"})
    return out


def table(results: dict[str, StageResult], preset: str) -> list[dict]:
    """One row of ``COLUMNS`` per source: training length, time (evaluations apart), speed, final scores."""
    batch = get_preset(preset).batch_size
    return [{"source": source, "iterations": run.value["iterations"], "images": run.value["iterations"] * batch,
             "wall_s": run.value["wall_s"], "eval_s": sum(p["eval_s"] for p in run.value["curve"]),
             "images_per_s": run.value["images_per_s"], "fid": run.value["fid"], "kid_mean": run.value["kid_mean"],
             "kid_std": run.value["kid_std"]} for source, run in results.items()]


def source_and_samples(results: dict[str, StageResult], preset: str, n: int = 10) -> dict[str, np.ndarray]:
    """Per source, its first ``n`` training images and ``n`` samples of its EMA generator."""
    rows = {}
    for source, run in results.items():
        train = runs.pretrain_config(source, preset).train
        rows[f"{source}\n(data)"] = sources.image_stream(train.source, train.model.resolution, train.seed)(0, n)
        rows[f"{source}\n(GAN)"] = sample_images(runs.load_generator(run), n, seed=1)
    return rows


def rows(plan_: list[tuple[dict, Job]], results: list[StageResult]) -> list[dict]:
    """Every evaluation of every source's run: the rows of ``pretrain_curves.csv``."""
    return [{"source": labels["source"], "iteration": point["iteration"], "fid": point["fid"],
             "kid_mean": point["kid_mean"]} for (labels, _), run in zip(plan_, results) for point in run.value["curve"]]


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 03's numbers, from ``pretrain.csv`` and ``pretrain_curves.csv``, with the pretraining
    gate of ``figures/design.json`` on each run (its last KID at most the tolerance above its KID at
    one third), and from ``pretrain_gates.csv`` every pretraining run of the study with its gate."""
    figures_dir = Path(figures_dir)
    curves = tables.csv_rows(figures_dir / "pretrain_curves.csv")
    rows = []
    for run in tables.csv_rows(figures_dir / "pretrain.csv"):
        curve = sorted((point for point in curves if point["source"] == run["source"]), key=lambda p: p["iteration"])
        rows.append({"source": run["source"], "iterations x batch": f"{run['iterations']:.0f} ({run['images']:,.0f} images)",
                     "wall time (s)": tables.number(run["wall_s"], 0),
                     "of which scoring (s)": tables.number(run["eval_s"], 0),
                     "images/s (scoring included)": tables.number(run["images_per_s"], 0),
                     "FID at each evaluation": " → ".join(tables.number(p["fid"], 0) for p in curve),
                     "KID at each evaluation": " → ".join(tables.number(p["kid_mean"], 3) for p in curve),
                     "pretraining gate": "passes" if claims.pretraining_gate(
                         [p["iteration"] for p in curve], [p["kid_mean"] for p in curve],
                         decisive.RULES.pretraining_tolerance) else "fails"})
    found = {"Pretraining runs, scored against held-out images of their own source": rows}
    if (figures_dir / "pretrain_gates.csv").is_file():          # written since design 4
        found["Every pretraining run of notebooks 04-05: KID against its own source, and its gate"] = [
            {"source": row["source"], "seed": int(row["seed"]),
             "KID at 0 → a third → end": " → ".join(tables.number(row[key], 3) for key in ("kid_start", "kid_third",
                                                                                             "kid_end")),
             "pretraining gate": row["gate"]} for row in tables.csv_rows(figures_dir / "pretrain_gates.csv")]
    return found
