"""Notebook 07's stages and their configs (the study itself is ``study.dp_synthesis``).

PrivImage (Li et al. 2024) pretrains a small diffusion model on public images chosen by a DP
semantic query of the sensitive data, then fine-tunes it with DP-SGD. Primitives-PS needs no
public data at all. The study compares pretraining sources at equal compute (``SOURCES``): none;
Primitives-PS; natural photo patches (public data); and PrivImage's selection from each of those
two pools. Every pretraining run is non-private and shares its stage across privacy levels and
seeds; a whole pool trains the null label (the fine-tuning run gives the classes fresh
embeddings), a selection trains each sensitive label on the images of the classes it chose
(PrivImage's conditional pretraining); every fine-tuning run trains on the sensitive training set with
DP-SGD at a target epsilon (or none: ``math.inf``, the non-private baseline of the gate) and is
scored by

- FID and KID of its samples (an equal number per class) against as many real test images;
- downstream accuracy: a classifier trained on its labelled samples, tested on the real test set;
- membership inference: GAN-Leaks' nearest-sample distance (``eval.membership``) of training
  images against test images, AUC with a bootstrap interval.

The stages, each named after its registry name: ``dp_query_stage`` (PrivImage's DP histogram,
charged to the runs that use it), ``dp_pretrain_stage``, ``dp_run_stage`` (the diffusion model),
``dp_gan_run_stage`` (the study's GAN, a second family) and ``dp_reference_stage`` (real training
images scored the same way: the ceiling at this sample size). ``run_config`` and
``gan_run_config`` build a run's config at a preset's sizes, checking its privacy budget first.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.fashion import CLASSES, load_fashion
from ..data.images import grey_to_rgb
from ..dp import diffusion, dpgan, privacy, semantic, training
from ..eval import classifier, membership, metrics
from ..gan import training as gan_training
from ..gan.models import ModelConfig
from ..gan.sampling import save_grid
from ..paths import atomic_write
from ..presets import get_preset
from . import runs
from .pipeline import Context, stage

NONE = "none"
SELECTED = "-selected"
POOLS = semantic.POOLS
SOURCES = (NONE, "primitives-ps", "natural-patches", "primitives-ps" + SELECTED, "natural-patches" + SELECTED)
NON_PRIVATE = math.inf
MODEL_FILE = "model.pt"
MODEL = "diffusion"                    # the generator family of the diffusion grid
GAN = "gan"                            # the second family: dp.dpgan's GAN
GAN_SOURCES = (NONE, "primitives-ps")  # the GAN grid: does privacy-free pretraining help a DP-GAN?


def pool_of(source: str) -> str | None:
    """The pool a source pretrains on (None for no pretraining)."""
    return None if source == NONE else source.removesuffix(SELECTED)


@dataclass(frozen=True)
class QueryConfig:
    pool: str
    pool_size: int
    pool_seed: int
    sigma: float = semantic.QUERY_SIGMA
    k: int = semantic.TOP_K
    per_label: int = semantic.PER_LABEL
    classifier_epochs: int = 3
    seed: int = 0


@dataclass(frozen=True)
class PretrainConfig:
    pool: str
    pool_size: int
    pool_seed: int
    query: QueryConfig | None          # PrivImage's selection from the pool; None: the whole pool
    unet: diffusion.UNetConfig
    steps: int
    batch_size: int
    lr: float
    seed: int
    preset: str                        # where its query stage is cached


@dataclass(frozen=True)
class RunConfig:
    pretrain: PretrainConfig | None
    privacy: privacy.PrivacyConfig
    unet: diffusion.UNetConfig
    lr: float
    seed: int
    samples: int                       # generated images (an equal number per class): the classifier's and the attack's
    fid_samples: int                   # the first of them (an equal number per class) that FID/KID score against as many test images
    sample_steps: int
    classifier_epochs: int
    mia_queries: int                   # training members and test non-members queried by the attack
    preset: str                        # where its pretraining stage is cached


@dataclass(frozen=True)
class ReferenceConfig:
    samples: int
    fid_samples: int
    classifier_epochs: int
    mia_queries: int
    seed: int = 0


def _sensitive() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return load_fashion("train") + load_fashion("test")


def balanced_labels(n: int) -> np.ndarray:
    """``n`` class labels, an equal number of each class in class order (``n`` a multiple of 10)."""
    if n % len(CLASSES):
        raise ValueError(f"the number of samples must be a multiple of {len(CLASSES)}, got {n}")
    return np.repeat(np.arange(len(CLASSES)), n // len(CLASSES))


def balanced_subset(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first ``n / 10`` items of each class."""
    per_class = len(balanced_labels(n)) // len(CLASSES)
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(len(CLASSES))])


@stage("dp_query", version=1)
def dp_query_stage(config: QueryConfig, out_dir: Path, context: Context) -> dict:
    images, labels, semantic_classes = semantic.pool(config.pool, config.pool_size, config.pool_seed)
    train_images, train_labels = load_fashion("train")
    result = semantic.query(images, labels, semantic_classes, train_images, train_labels, len(CLASSES),
                            sigma=config.sigma, k=config.k, per_label=config.per_label,
                            epochs=config.classifier_epochs, seed=config.seed)
    return {"selected": list(result.selected), "chosen": result.chosen.tolist(), "semantic_classes": semantic_classes,
            "noisy_counts": np.round(result.noisy_counts, 2).tolist(), "mechanism": list(result.mechanism)}


def _save_model(model: torch.nn.Module, path: Path) -> None:
    atomic_write(path, lambda temporary: torch.save(model.state_dict(), temporary))


def _load_model(config: diffusion.UNetConfig, path: Path) -> diffusion.UNet:
    model = diffusion.UNet(config)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


def _fresh_model(config: diffusion.UNetConfig, seed: int) -> diffusion.UNet:
    torch.manual_seed(seed)
    return diffusion.UNet(config)


@stage("dp_pretrain", version=1, needs=lambda config: [] if config.query is None else [(dp_query_stage, config.query)])
def dp_pretrain_stage(config: PretrainConfig, out_dir: Path, context: Context) -> dict:
    started = time.perf_counter()
    images, semantic_labels, _ = semantic.pool(config.pool, config.pool_size, config.pool_seed)
    labels = np.full(len(images), config.unet.classes)                 # the null label: unlabelled
    selected = None
    if config.query is not None:                                       # PrivImage: conditional on the labels' choices
        query = dp_query_stage(config.query, preset=config.preset, context=context).value
        index, labels = semantic.labelled_subset(semantic_labels, np.array(query["chosen"]))
        images, selected = images[index], query["selected"]
    x, y = diffusion.to_model_space(images), torch.as_tensor(labels, dtype=torch.long)

    def draw(index, generator):
        return diffusion.rows(x[index], y[index], generator)

    budget = privacy.PrivacyConfig(epsilon=NON_PRIVATE, batch_size=min(config.batch_size, len(x)), steps=config.steps)
    model = _fresh_model(config.unet, config.seed)
    average, record = training.train(model, draw, diffusion.noised_losses, len(x), budget, lr=config.lr,
                                     seed=config.seed, progress=context.progress, label=f"pretrain {config.pool}")
    _save_model(average, out_dir / MODEL_FILE)
    save_grid(grey_to_rgb(diffusion.sample(average, [config.unet.classes] * 32, steps=25, seed=0)), out_dir / "samples.png")
    return {"images": len(x), "selected": selected, "final_loss": float(np.mean(record.losses[-20:])),
            "train_s": record.wall_s, "wall_s": time.perf_counter() - started}


def _score(samples: np.ndarray, labels: np.ndarray, config, context: Context, train_images, test_images,
           test_labels) -> dict:
    """FID/KID of the first ``config.fid_samples`` samples (an equal number per class) against as many
    balanced test images, downstream accuracy of a classifier trained on all of them, GAN-Leaks AUC."""
    scored = samples[balanced_subset(labels, config.fid_samples)]
    reference = test_images[balanced_subset(test_labels, config.fid_samples)]
    scores = metrics.evaluate(grey_to_rgb(reference), grey_to_rgb(scored), ["fid", "kid"], progress=False, device=context.device,
                              cache_dir=runs.feature_cache(context))
    accuracy = classifier.downstream_accuracy(samples, labels, test_images, test_labels, len(CLASSES),
                                              epochs=config.classifier_epochs, seed=config.seed)
    q = config.mia_queries
    attack = membership.summary(membership.gan_leaks(grey_to_rgb(samples), grey_to_rgb(train_images[:q]), grey_to_rgb(test_images[-q:])),
                                n_boot=200, seed=config.seed)
    return {"fid": scores["fid"], "kid_mean": scores["kid_mean"], "kid_std": scores["kid_std"], "accuracy": accuracy,
            "mia_auc": attack["auc"], "mia_auc_lo": attack["auc_lo"], "mia_auc_hi": attack["auc_hi"]}


@stage("dp_run", version=1, needs=lambda config: [] if config.pretrain is None else [(dp_pretrain_stage, config.pretrain)])
def dp_run_stage(config: RunConfig, out_dir: Path, context: Context) -> dict:
    started = time.perf_counter()
    train_images, train_labels, test_images, test_labels = _sensitive()
    model, prior, pretrain_images = _fresh_model(config.unet, config.seed), (), 0
    if config.pretrain is not None:
        pretrained = dp_pretrain_stage(config.pretrain, preset=config.preset, context=context)
        model = _load_model(config.unet, pretrained.path / MODEL_FILE)
        pretrain_images = pretrained.value["images"]
        if config.pretrain.query is None:                  # pretrained unlabelled: the classes start fresh
            diffusion.reset_class_embeddings(model, config.seed)
        elif config.privacy.private:                       # the query read the sensitive data: charge it
            query = dp_query_stage(config.pretrain.query, preset=config.preset, context=context)
            prior = (tuple(query.value["mechanism"]),)
    x, y = diffusion.to_model_space(train_images), torch.as_tensor(train_labels)

    def draw(index, generator):
        return diffusion.rows(x[index], y[index], generator)

    average, record = training.train(model, draw, diffusion.noised_losses, len(x), config.privacy, lr=config.lr,
                                     seed=config.seed, prior=prior,
                                     progress=context.progress, label=f"dp-sgd eps={config.privacy.epsilon}")
    labels = balanced_labels(config.samples)
    samples = diffusion.sample(average, labels, steps=config.sample_steps, seed=config.seed)
    per_class = samples.reshape(len(CLASSES), -1, *samples.shape[1:])[:, :8].transpose(1, 0, 2, 3).reshape(-1, *samples.shape[1:])
    save_grid(grey_to_rgb(per_class), out_dir / "samples.png", columns=len(CLASSES))
    np.savez_compressed(out_dir / "samples.npz", images=samples, labels=labels)
    scores = _score(samples, labels, config, context, train_images, test_images, test_labels)
    return {"epsilon_spent": record.epsilon, "noise_multiplier": record.noise_multiplier,
            "mechanisms": [list(m) for m in record.mechanisms], "pretrain_images": pretrain_images,
            "final_loss": float(np.mean(record.losses[-20:])), "examples_seen": record.examples_seen,
            **scores, "train_s": record.wall_s, "wall_s": time.perf_counter() - started}


@dataclass(frozen=True)
class GANRunConfig:
    pretrain: runs.PretrainConfig | None   # the study's own GAN pretraining run of the source (notebooks 03-04)
    privacy: privacy.PrivacyConfig
    gan: dpgan.GANConfig
    seed: int
    samples: int
    fid_samples: int
    classifier_epochs: int
    mia_queries: int
    preset: str


def _pretrained_gan(config: GANRunConfig, context: Context):
    """The conditional pair, from the source's pretraining run (G and D each from its own copy, as the
    study's transfers; the class embeddings start fresh) or fresh."""
    generator, discriminator = dpgan.build(config.gan, config.seed)
    if config.pretrain is not None:
        state = gan_training.load_checkpoint(runs.pretrain_stage(config.pretrain, preset=config.preset,
                                                                 context=context).path / gan_training.CHECKPOINT)
        generator.load_state_dict(state["G"], strict=False)
        discriminator.load_state_dict(state["D"], strict=False)
    return generator, discriminator


@stage("dp_gan_run", version=1,
       needs=lambda config: [] if config.pretrain is None else [(runs.pretrain_stage, config.pretrain)])
def dp_gan_run_stage(config: GANRunConfig, out_dir: Path, context: Context) -> dict:
    started = time.perf_counter()
    train_images, train_labels, test_images, test_labels = _sensitive()
    generator, discriminator = _pretrained_gan(config, context)
    average, record = dpgan.train_dp_gan(generator, discriminator, train_images, train_labels, config.privacy, config.gan,
                                         seed=config.seed, progress=context.progress)
    labels = balanced_labels(config.samples)
    samples = dpgan.sample(average, labels, seed=config.seed)
    np.savez_compressed(out_dir / "samples.npz", images=samples, labels=labels)
    scores = _score(samples, labels, config, context, train_images, test_images, test_labels)
    return {"epsilon_spent": record.epsilon, "noise_multiplier": record.noise_multiplier,
            "mechanisms": [list(m) for m in record.mechanisms],
            "pretrain_images": 0 if config.pretrain is None else config.pretrain.train.iterations * config.pretrain.train.batch_size,
            "final_loss": float(np.mean(record.losses[-20:])), "examples_seen": record.examples_seen,
            **scores, "train_s": record.wall_s, "wall_s": time.perf_counter() - started}


@stage("dp_reference", version=1)
def dp_reference_stage(config: ReferenceConfig, out_dir: Path, context: Context) -> dict:
    """Real training images scored like a generator's samples: the ceiling at this sample size."""
    train_images, train_labels, test_images, test_labels = _sensitive()
    index = balanced_subset(train_labels, config.samples)
    return _score(train_images[index], train_labels[index], config, context, train_images, test_images, test_labels)


# ---------------------------------------------------------------------------------------------
# The configs of a preset's runs.

def unet_config(preset: str) -> diffusion.UNetConfig:
    return diffusion.UNetConfig(channels=get_preset(preset).dp_channels, classes=len(CLASSES))


def query_config(pool: str, preset: str) -> QueryConfig:
    sizes = get_preset(preset)
    return QueryConfig(pool=pool, pool_size=sizes.dp_pool_size, pool_seed=0, classifier_epochs=sizes.dp_classifier_epochs)


def pretrain_config(source: str, preset: str) -> PretrainConfig | None:
    if source == NONE:
        return None
    sizes = get_preset(preset)
    pool = pool_of(source)
    return PretrainConfig(pool=pool, pool_size=sizes.dp_pool_size, pool_seed=0,
                          query=query_config(pool, preset) if source.endswith(SELECTED) else None,
                          unet=unet_config(preset), steps=sizes.dp_pretrain_steps, batch_size=sizes.dp_batch_size,
                          lr=sizes.dp_lr, seed=0, preset=preset)


def fid_samples(preset: str) -> int:
    """How many of a run's ``dp_samples`` FID and KID score (``dp_fid_samples``; FID's cost on CPU is
    about 0.1 s an image, the classifier's and the attack's hardly depend on the count)."""
    sizes = get_preset(preset)
    if not 0 < sizes.dp_fid_samples <= sizes.dp_samples:
        raise ValueError(f"preset {preset!r}: dp_fid_samples must be in 1..dp_samples ({sizes.dp_samples}), "
                         f"got {sizes.dp_fid_samples}")
    return sizes.dp_fid_samples


def run_config(source: str, epsilon: float, seed: int, preset: str, *, delta: float | None = None,
               max_grad_norm: float = 1.0, steps: int | None = None, batch_size: int | None = None) -> RunConfig:
    """A DP fine-tuning run at the preset's sizes (``delta``, ``steps`` and ``batch_size`` override
    them); the budget is checked against the sensitive training set here, before anything runs."""
    sizes = get_preset(preset)
    budget = privacy.PrivacyConfig(epsilon=epsilon, delta=sizes.dp_delta if delta is None else delta,
                                   max_grad_norm=max_grad_norm, batch_size=batch_size or sizes.dp_batch_size,
                                   steps=steps or sizes.dp_steps)
    budget.check_dataset(len(load_fashion("train")[1]))
    return RunConfig(pretrain=pretrain_config(source, preset), privacy=budget, unet=unet_config(preset), lr=sizes.dp_lr,
                     seed=seed, samples=sizes.dp_samples, fid_samples=fid_samples(preset), sample_steps=sizes.dp_sample_steps,
                     classifier_epochs=sizes.dp_classifier_epochs, mia_queries=sizes.dp_mia_queries, preset=preset)


def gan_run_config(source: str, epsilon: float, seed: int, preset: str) -> GANRunConfig:
    """A DP-GAN run: the study's GAN at the preset's pretraining sizes, started from the source's
    pretraining run of notebooks 03-04 (seed 0)."""
    sizes = get_preset(preset)
    budget = privacy.PrivacyConfig(epsilon=epsilon, delta=sizes.dp_delta, batch_size=sizes.dp_batch_size,
                                   steps=sizes.dp_gan_steps)
    budget.check_dataset(len(load_fashion("train")[1]))
    model = ModelConfig(architecture=sizes.architecture, resolution=dpgan.SIDE + 2 * dpgan.PAD,
                        base_channels=sizes.base_channels, mbstd_group=1)
    pretrain = None if source == NONE else runs.pretrain_config(source, preset, resolution=model.resolution)
    return GANRunConfig(pretrain=pretrain, privacy=budget, gan=dpgan.GANConfig(model, classes=len(CLASSES)), seed=seed,
                        samples=sizes.dp_samples, fid_samples=fid_samples(preset), classifier_epochs=sizes.dp_classifier_epochs,
                        mia_queries=sizes.dp_mia_queries, preset=preset)


def sources(preset: str) -> tuple[str, ...]:
    """The diffusion grid's pretraining sources at a preset (``dp_sources``: all of ``SOURCES`` or some,
    in ``SOURCES`` order); an unknown one is refused by name."""
    chosen = get_preset(preset).dp_sources
    unknown = [source for source in chosen if source not in SOURCES]
    if unknown or not chosen:
        raise ValueError(f"preset {preset!r}: unknown DP pretraining source(s) {unknown or '(none given)'}; "
                         f"expected some of {', '.join(SOURCES)}")
    return tuple(source for source in SOURCES if source in chosen)
