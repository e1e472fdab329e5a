"""Pretraining and transfer as cached, resumable pipeline stages (the runs behind notebooks 03-04).

``pretrain(source, preset, seed)`` trains a GAN on a synthetic variant or on natural patches and
scores it at intervals against held-out images of its own source (``sources.held_out_images``:
for natural patches, crops of photos no run trains on); ``transfer(target, init,
preset, seed)`` fine-tunes it (or a fresh GAN: ``init="scratch"``) on a low-shot target and scores
the EMA generator at intervals against all the target's images with FID and KID. Both are
pipeline stages keyed by their full config, so a finished run is loaded, an interrupted one
resumes from its checkpoint, and every transfer from a source reuses that source's one
pretraining run (seed ``PRETRAIN_SEED``: the fine-tuning seeds vary the transfer, as in the paper,
where one pretrained model is fine-tuned).

A ``Job`` is one such stage run; ``scheduler.run_jobs`` runs many of them at once (in worker
processes, or on a Dask cluster), each as soon as the jobs it needs have finished.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import checks, synth
from ..data import sources
from ..data.sources import DataRef
from ..eval import metrics
from ..gan import sampling, training
from ..gan.models import Discriminator, Generator, ModelConfig
from ..presets import get_preset
from . import shipped
from .pipeline import Context, Job, StageResult, stage

SCRATCH = "scratch"
PRETRAIN_SOURCES = synth.VARIANTS + (sources.NATURAL,)
PRETRAIN_SEED = 10         # design 4's first unit seed (figures/design.json): a source's default pretraining run is
                           # unit 0 of the decisive experiment, the run notebook 03 shows
SCORES = ("fid", "kid_mean", "kid_std")


def unit_seed(unit: int) -> int:
    """The seed of the study's unit ``unit`` (its pretraining run, its fine-tuning, or a scratch
    run's initial weights): design 4 registered new seeds, ``PRETRAIN_SEED + unit``, so that no
    run of it repeats one scored under an earlier design."""
    return PRETRAIN_SEED + checks.integer(unit, "unit", 0)


def train_config(source: DataRef, preset: str, seed: int, *, evals: int, iterations: int | None = None,
                 freeze_d: int = 0, transfer: bool = False, resolution: int | None = None) -> training.TrainConfig:
    """A training config at a preset's sizes (``resolution`` overrides its training resolution),
    R1 weighted by StyleGAN2-ADA's heuristic, channels-last tensors (the same maths up to float
    reordering, 1.14x the images/s at the cpu preset: ``benchmarks/results/train_equivalence.md``,
    ``train_speed.md``). A run scored ``evals`` times saves its checkpoint and sample grid at each
    evaluation only (``evaluation_interval``), and logs its losses ten times."""
    sizes = get_preset(preset)
    resolution = sizes.train_resolution if resolution is None else resolution
    model = ModelConfig(architecture=sizes.architecture, resolution=resolution, base_channels=sizes.base_channels)
    default = sizes.transfer_iterations if transfer else sizes.pretrain_iterations
    iterations = checks.integer(default if iterations is None else iterations, "iterations", 1)
    every = evaluation_interval(iterations, checks.integer(evals, "evals", 1))
    return training.TrainConfig(source=source, model=model, iterations=iterations, batch_size=sizes.batch_size,
                                r1_gamma=training.r1_heuristic(resolution, sizes.batch_size),
                                freeze_d=freeze_d, seed=seed, log_every=max(1, iterations // 10), sample_every=every,
                                checkpoint_every=every, channels_last=True)


@dataclass(frozen=True)
class PretrainConfig:
    train: training.TrainConfig
    evals: int                 # FID/KID evaluations after the one at iteration 0, evenly spaced (the last at the end)
    fid_samples: int           # generated and held-out source images per evaluation


@dataclass(frozen=True)
class TransferConfig:
    train: training.TrainConfig
    init: PretrainConfig | None    # the pretraining run; None: from scratch
    preset: str
    evals: int
    fid_samples: int
    init_shipped: str = ""         # the SHA-256 of the shipped copy of ``init`` it starts from (``shipped``); "": trained here


def _init_needed(config: TransferConfig) -> list:
    """The stage a transfer starts from: the pretraining run, or its shipped copy."""
    if config.init is None:
        return []
    if config.init_shipped:
        return [(shipped.shipped_pretrain_stage, shipped.RestoreConfig(config.init, config.init_shipped))]
    return [(pretrain_stage, config.init)]


def feature_cache(context: Context) -> Path:
    """Where the Inception features of scored image sets are cached: beside the runs."""
    return context.root / "cache" / "features"


def _scorer(real: np.ndarray, n: int, seed: int, context: Context):
    """``score(G) -> {fid, kid_mean, kid_std, eval_s}`` of ``n`` samples of G against ``real``."""
    def score(generator: torch.nn.Module) -> dict:
        started = time.perf_counter()
        result = metrics.evaluate(real, sampling.sample_images(generator, n, seed), ["fid", "kid"], progress=False,
                                  device=context.device, cache_dir=feature_cache(context))
        return {**{key: result[key] for key in SCORES}, "eval_s": time.perf_counter() - started}
    return score


def evaluation_interval(iterations: int, evals: int) -> int:
    """Iterations between evaluations so that a run of ``iterations`` is scored at most ``evals``
    times, evenly, the last at its end: ``ceil(iterations / evals)`` (1,000 in 3: at 334, 668 and
    1,000; the floor would add a fourth at 999, one iteration before the end)."""
    return max(1, -(-iterations // evals))


def _train_and_score(config: training.TrainConfig, evals: int, real: np.ndarray, fid_samples: int,
                     out_dir: Path, context: Context, init=None) -> dict | None:
    """Train with an evaluation of the initial generator (iteration 0) and ``evals`` evenly spaced
    ones after it; the result holds the curve and the final scores.

    Under torch.distributed only rank 0 writes the log, so the other ranks return None (the
    pipeline hands them rank 0's result)."""
    started = time.perf_counter()
    score = _scorer(real, fid_samples, config.seed + 1_000_000, context)
    trainer = training.train(config, out_dir, init=init, evaluate=score, eval_every=evaluation_interval(config.iterations, evals),
                             evaluate_start=True, progress=context.progress, device=context.device)
    if trainer.rank != 0:
        return None
    records = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    curve = [{"iteration": r["iteration"], **{key: r[key] for key in SCORES + ("eval_s",)}}
             for r in records if "fid" in r]
    rates = [r["images_per_s"] for r in records if "images_per_s" in r]
    return {**{key: curve[-1][key] for key in SCORES}, "iterations": trainer.iteration, "curve": curve,
            "images_per_s": float(np.mean(rates)), "wall_s": time.perf_counter() - started}


# version 3: natural patches are scored against crops of the held-out photos (new crops of the training
# photos before); the training is unchanged. Version 4: the curve starts with the initial generator's
# scores at iteration 0
@stage("pretrain", version=4, resumable=training.CHECKPOINT)
def pretrain_stage(config: PretrainConfig, out_dir: Path, context: Context) -> dict:
    train = config.train
    reference = sources.held_out_images(train.source, train.model.resolution, train.seed, config.fid_samples)
    return _train_and_score(train, config.evals, reference, config.fid_samples, out_dir, context)


# version 3: the trainable G starts from the pretrained G (it started from G_ema before). Version 4: the
# curve starts with the initial generator's scores at iteration 0
@stage("transfer", version=4, resumable=training.CHECKPOINT,
       needs=_init_needed)
def transfer_stage(config: TransferConfig, out_dir: Path, context: Context) -> dict:
    init = None
    for needed, init_config in _init_needed(config):
        init = needed(init_config, preset=config.preset, context=context).path / training.CHECKPOINT
    real = sources.load_images(config.train.source, config.train.model.resolution)
    return _train_and_score(config.train, config.evals, real, config.fid_samples, out_dir, context, init=init)


def pretrain_config(source: str, preset: str, seed: int = PRETRAIN_SEED, iterations: int | None = None,
                    source_options: tuple = (), evals: int | None = None,
                    resolution: int | None = None) -> PretrainConfig:
    """The config of the pretraining run of ``source`` (a variant or natural-patches, with its
    ``source_options``); a clear error for an unknown source.

    ``evals`` (default: the preset's) changes only when the run is scored, never how it trains."""
    checks.choice(source.name if isinstance(source, DataRef) else source, "pretraining source", PRETRAIN_SOURCES)
    sizes = get_preset(preset)
    evals = checks.integer(sizes.pretrain_evals if evals is None else evals, "evals", 1)
    train = train_config(sources.resolve(source, source_options), preset, seed, evals=evals, iterations=iterations,
                         resolution=resolution)
    return PretrainConfig(train, evals=evals, fid_samples=sizes.fid_samples)


def transfer_config(target: str, init: str, preset: str, seed: int = 0, freeze_d: int = 0,
                    iterations: int | None = None, pretrain_iterations: int | None = None,
                    init_options: tuple = (), evals: int | None = None, target_options: tuple = (),
                    pretrain_seed: int = PRETRAIN_SEED, resolution: int | None = None,
                    from_shipped: bool | None = None) -> TransferConfig:
    """The config of a transfer run; clear errors for an unknown init or a missing target.

    ``seed`` is the fine-tuning seed (for scratch, also the initial weights'); ``pretrain_seed``
    picks the pretraining run of the init (the decisive experiment's unit of replication).

    ``init_options`` are the pretraining source's options (a synthesizer ablation), ``target_options``
    the target's (``("part", "members")``: fine-tune on the privacy study's members only). The
    pretraining run an init names is always scored at the preset's evaluations, so ablations
    share it with notebook 03. ``evals`` as in ``pretrain_config``.

    ``from_shipped``: start from the shipped copy of the pretraining run (``study.shipped``; an
    error if there is none); None: where the process was asked to (``shipped.wanted``) and a copy
    is shipped."""
    checks.choice(init, "init", (SCRATCH,) + PRETRAIN_SOURCES)
    target = sources.resolve(target, target_options)
    if not target.finite:
        raise ValueError(f"target must be an image set (an embedded dataset or files), got the {target.kind} "
                         f"source {target.name}")
    sizes = get_preset(preset)
    source = None if init == SCRATCH else pretrain_config(init, preset, pretrain_seed, iterations=pretrain_iterations,
                                                           source_options=init_options, resolution=resolution)
    evals = checks.integer(sizes.transfer_evals if evals is None else evals, "evals", 1)
    return TransferConfig(train=train_config(target, preset, seed, evals=evals, iterations=iterations,
                                             freeze_d=freeze_d, transfer=True, resolution=resolution),
                          init=source, preset=preset, evals=evals, fid_samples=sizes.fid_samples,
                          init_shipped="" if source is None else shipped_copy(source, preset, from_shipped))


def shipped_copy(config: PretrainConfig, preset: str, required: bool | None = None) -> str:
    """The SHA-256 of the shipped copy of pretraining run ``config`` to start from, or "": with
    ``required`` the copy must exist (one clear error otherwise); with None it is used where the
    process was asked to start from shipped runs and one exists."""
    folder = pretrain_stage.path_for(config, preset).name
    if required:
        return shipped.lookup(folder, preset)[1]["sha256"]
    found = shipped.find(folder, preset) if required is None and shipped.wanted() else None
    return "" if found is None else found[1]["sha256"]


def pretrain(source: str, preset: str, seed: int = PRETRAIN_SEED, iterations: int | None = None,
             context: Context | None = None, resolution: int | None = None) -> StageResult:
    """The pretraining run of ``source`` (a synthesizer variant or natural-patches): a ``StageResult``.
    ``resolution`` (default: the preset's) is the side of the images it trains on."""
    return pretrain_stage(pretrain_config(source, preset, seed, iterations, resolution=resolution), preset=preset,
                          context=context)


def transfer(target, init: str, preset: str, seed: int = 0, freeze_d: int = 0, iterations: int | None = None,
             pretrain_iterations: int | None = None, context: Context | None = None,
             resolution: int | None = None, pretrain_seed: int = PRETRAIN_SEED) -> StageResult:
    """Fine-tune on ``target`` (a name or ``DataRef``) from the ``init`` pretraining source (or
    ``"scratch"``; its run of seed ``pretrain_seed``): a ``StageResult``. ``resolution`` (default:
    the preset's) is the side the target's images are resized to, and the pretraining run's."""
    return run_transfer(transfer_config(target, init, preset, seed, freeze_d, iterations, pretrain_iterations,
                                        resolution=resolution, pretrain_seed=pretrain_seed), context)


def run_transfer(config: TransferConfig, context: Context | None = None) -> StageResult:
    """The transfer run of ``config``. The target's images are read first, so an unreadable set is
    one clear error before any pretraining or training starts."""
    sources.load_images(config.train.source, config.train.model.resolution)
    return transfer_stage(config, preset=config.preset, context=context)


# ---------------------------------------------------------------------------------------------
# Jobs of this module's stages (``pipeline.Job``), to schedule many at once (``scheduler.run_jobs``).

def pretrain_job(source: str, preset: str, **options) -> Job:
    """The pretraining run's job, or the restoring of its shipped copy where the process was asked
    to start from shipped runs and one exists (``shipped_copy``)."""
    config = pretrain_config(source, preset, **options)
    digest = shipped_copy(config, preset)
    return Job(shipped.shipped_pretrain_stage, shipped.RestoreConfig(config, digest), preset) if digest else \
        Job(pretrain_stage, config, preset)


def transfer_job(target: str, init: str, preset: str, **options) -> Job:
    return Job(transfer_stage, transfer_config(target, init, preset, **options), preset)


# ---------------------------------------------------------------------------------------------
# Reading finished runs.

def read_log(result: StageResult) -> list[dict]:
    """The records of a run's ``log.jsonl`` (losses and images/s per interval, scores when evaluated)."""
    return [json.loads(line) for line in (result.path / "log.jsonl").read_text().splitlines() if line]


def load_generator(result: StageResult | Path) -> torch.nn.Module:
    """The EMA generator of a finished pretraining or transfer run (its result, or its folder: a
    stage folder under ``runs/`` or a copy made by ``transfer --out``)."""
    return _load_network(result, Generator, "G_ema")


def load_discriminator(result: StageResult | Path) -> torch.nn.Module:
    """The discriminator of a finished pretraining or transfer run (what a white-box attack reads)."""
    return _load_network(result, Discriminator, "D")


def unfinished(result: StageResult | Path) -> str | None:
    """None for a finished run; for a run stopped before its end (a ``.partial`` folder, or a
    checkpoint short of its iterations), a note saying where it stopped."""
    state = _checkpoint(result)
    done, total = state["iteration"], state["config"]["iterations"]
    if done >= total:
        return None
    return f"{_folder(result)} is an unfinished run: its checkpoint is at iteration {done:,} of {total:,}"


def _folder(result: StageResult | Path) -> Path:
    return Path(result.path if isinstance(result, StageResult) else result)


def _checkpoint(result: StageResult | Path) -> dict:
    folder = _folder(result)
    if not (folder / training.CHECKPOINT).is_file():
        raise FileNotFoundError(f"{folder} is not a training run folder: it holds no {training.CHECKPOINT}")
    return training.load_checkpoint(folder / training.CHECKPOINT)


def _load_network(result: StageResult | Path, network: type, key: str) -> torch.nn.Module:
    state = _checkpoint(result)
    model = network(ModelConfig(**state["config"]["model"]))
    model.load_state_dict(state[key])
    return model.eval().requires_grad_(False)
