"""The runs behind notebook 03: one GAN pretrained on each source, scored against its own source.

Every pretraining source (the four synthesizer variants and natural patches) gets one run of the
preset's size (``runs.pretrain_job``); ``table`` condenses the finished runs into the rows of
``pretrain.csv`` and ``source_and_samples`` gives the images notebook 03 shows side by side.
"""
from __future__ import annotations

import numpy as np

from ..data import sources
from ..gan.training import sample_images
from ..presets import get_preset
from . import runs
from .pipeline import Context, StageResult

SOURCES = runs.PRETRAIN_SOURCES
COLUMNS = ("source", "iterations", "images", "wall_s", "eval_s", "images_per_s", "fid", "kid_mean", "kid_std")


def jobs(preset: str) -> list[runs.Job]:
    """The pretraining run of every source at ``preset``, in ``SOURCES`` order."""
    return [runs.pretrain_job(source, preset) for source in SOURCES]


def train(preset: str, context: Context | None = None) -> dict[str, StageResult]:
    """Train (or load) every source's run: source -> result."""
    return dict(zip(SOURCES, runs.run_jobs(jobs(preset), context=context)))


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
