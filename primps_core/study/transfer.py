"""The runs behind notebook 04: every target fine-tuned from scratch, natural patches and
Primitives-PS, over the preset's fine-tuning seeds (``plan``), and their scores as the rows of
``transfer.csv`` (``rows``; the tables over them are ``eval.transfer_tables``)."""
from __future__ import annotations

import numpy as np

from ..data import sources
from ..eval import transfer_tables
from ..gan.training import sample_images
from ..presets import get_preset
from . import runs
from .pipeline import Context, StageResult

TARGETS = sources.TARGETS
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
