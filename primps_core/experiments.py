"""Pretraining and transfer as cached, resumable pipeline stages (the runs behind notebooks 03-04).

``pretrain(source, preset, seed)`` trains a GAN on a synthetic variant or on natural patches;
``transfer(target, init, preset, seed)`` fine-tunes it (or a fresh GAN: ``init="scratch"``) on a
low-shot target and scores the EMA generator's samples against all the target's images with FID
and KID. Both are pipeline stages keyed by their full config, so a finished run is loaded, an
interrupted one resumes from its checkpoint, and the transfer reuses the pretraining run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import datasets, metrics, synthesizer, training
from .models import ModelConfig
from .pipeline import stage
from .presets import get_preset

SCRATCH = "scratch"
PRETRAIN_SOURCES = synthesizer.VARIANTS + (training.NATURAL_SOURCE,)


def train_config(source: str, preset: str, seed: int, *, iterations: int | None = None, freeze_d: int = 0,
                 transfer: bool = False) -> training.TrainConfig:
    """A training config at a preset's sizes."""
    sizes = get_preset(preset)
    model = ModelConfig(resolution=sizes.train_resolution, base_channels=sizes.base_channels)
    default = sizes.transfer_iterations if transfer else sizes.pretrain_iterations
    every = max(1, (iterations or default) // 10)
    return training.TrainConfig(source=source, model=model, iterations=iterations or default,
                                batch_size=sizes.batch_size, freeze_d=freeze_d, seed=seed,
                                log_every=every, sample_every=every * 5, checkpoint_every=every)


@stage("pretrain", version=1, resumable=True)
def pretrain_stage(config: training.TrainConfig, out_dir: Path) -> dict:
    started = time.perf_counter()
    trainer = training.train(config, out_dir)
    return {"iterations": trainer.iteration, "wall_s": time.perf_counter() - started}


def pretrain(source: str, preset: str, seed: int = 0, iterations: int | None = None):
    """The pretraining run of ``source`` (a synthesizer variant or natural-patches): a ``StageResult``."""
    if source not in PRETRAIN_SOURCES:
        raise ValueError(f"unknown pretraining source {source!r}; known: {', '.join(PRETRAIN_SOURCES)}")
    return pretrain_stage(train_config(source, preset, seed, iterations=iterations), preset=preset)


@dataclass(frozen=True)
class TransferConfig:
    train: training.TrainConfig
    init: training.TrainConfig | None      # the pretraining run's config; None: from scratch
    preset: str
    fid_samples: int


def sample_images(generator: torch.nn.Module, n: int, seed: int) -> np.ndarray:
    """``n`` images of ``generator`` from latents seeded by ``seed`` (uint8 NHWC)."""
    latents = torch.randn(n, generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return training.to_images(torch.cat([generator(chunk) for chunk in latents.split(256)]))


@stage("transfer", version=1, resumable=True)
def transfer_stage(config: TransferConfig, out_dir: Path) -> dict:
    started = time.perf_counter()
    init = None
    if config.init is not None:
        init = pretrain_stage(config.init, preset=config.preset).path / "checkpoint.pt"
    trainer = training.train(config.train, out_dir, init=init)
    real = datasets.load_images(config.train.source, config.train.model.resolution)
    fake = sample_images(trainer.G_ema, config.fid_samples, seed=config.train.seed + 1_000_000)
    scores = metrics.evaluate(real, fake, ["fid", "kid"], progress=False)
    return {"fid": scores["fid"], "kid_mean": scores["kid_mean"], "kid_std": scores["kid_std"],
            "iterations": trainer.iteration, "wall_s": time.perf_counter() - started}


def transfer(target: str, init: str, preset: str, seed: int = 0, freeze_d: int = 0,
             iterations: int | None = None, pretrain_iterations: int | None = None):
    """Fine-tune on ``target`` from the ``init`` pretraining source (or ``"scratch"``): a ``StageResult``."""
    if init != SCRATCH and init not in PRETRAIN_SOURCES:
        raise ValueError(f"unknown init {init!r}; expected scratch or one of {', '.join(PRETRAIN_SOURCES)}")
    if not (isinstance(target, str) and target in datasets.TARGETS) and not Path(target).exists():
        raise FileNotFoundError(f"target {target} is neither an embedded dataset ({', '.join(datasets.TARGETS)}) "
                                f"nor an existing path")
    target = target if target in datasets.TARGETS else str(Path(target).resolve())
    sizes = get_preset(preset)
    config = TransferConfig(
        train=train_config(target, preset, seed, iterations=iterations, freeze_d=freeze_d, transfer=True),
        init=None if init == SCRATCH else train_config(init, preset, seed, iterations=pretrain_iterations),
        preset=preset, fid_samples=sizes.fid_samples)
    return transfer_stage(config, preset=preset)
