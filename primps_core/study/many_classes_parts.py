"""The parts of notebook 08's stages (``study.many_classes``): what every run of a preset shares
(``Scale``), the configs of the two stages, the images a run is scored on and how it scores them,
the LQ -> HQ transfer, the setting's training set on disk, and generation.

A run is scored by a classifier trained on real HQ images of the class subset: the accuracy with
which it names the class each generated image was asked for, over all classes and over the seed's
removed classes; FID of as many generated as real HQ test images, an equal number per class;
intra-class FID on a fixed sample of classes (``score_images``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import checks
from ..data import fashion, glyphs, sources
from ..data.class_sources import (DATASETS, FASHION_TEST_PER_CLASS, KEPT_FRACTION, GlyphImages, TrainingSet,
                                  check_recipe, image_source, training_set, transfer_pairs)
from ..data.images import square, grey_to_rgb
from ..dp.diffusion import to_model_space
from ..eval import classifier, metrics
from ..gan import ctf as ctf_gan, sampling, training
from ..gan.models import ModelConfig
from ..presets import get_preset
from . import runs
from .pipeline import Context, plain

SETTINGS = {"hq-100": (1.0, "none"), "hq-70": (KEPT_FRACTION, "none"), "hq-70+lq": (KEPT_FRACTION, "naive"),
            "hq-70+lq-transfer": (KEPT_FRACTION, "transfer")}     # name: (HQ fraction of classes, LQ use)
SS_WEIGHT = 1.0                  # SS-GAN's beta for D (G's alpha is 0.2 of it: gan.training)
INITS = (runs.SCRATCH, "primitives-ps")
SS_LEVELS = ("off", "on")        # the self_supervision column of many_classes.csv
CLASSIFIER_PER_CLASS = 30        # real HQ images per class the scoring classifier trains on
CLASSIFIER_EPOCHS = 8
TRANSFER_BATCH = 64


@dataclass(frozen=True)
class Scale:
    """What every run of a preset shares: the class subset, images per class, the model and how
    long it trains, and how it is scored."""
    classes: int                 # size of the class subset (class_subset)
    per_class: int               # HQ (or LQ) training images per class
    model: ModelConfig
    iterations: int
    batch_size: int
    transfer_steps: int          # steps of the LQ -> HQ transfer module
    evals: int                   # accuracy evaluations during training, evenly spaced
    fid_samples: int             # generated and real images of the FID at equal N
    intra_classes: int           # classes of the intra-class FID (fixed, spread over the subset)
    intra_samples: int           # images per class of the intra-class FID
    dataset: str = GlyphImages.name    # one of DATASETS

    def record(self) -> dict:
        """The fields as stage hashes hold them; ``dataset`` only when it is not the glyphs, so the
        glyph runs made before Fashion-MNIST joined keep their keys."""
        record = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if record["dataset"] == GlyphImages.name:
            del record["dataset"]
        return record


@dataclass(frozen=True)
class ReferenceConfig:
    scale: Scale


@dataclass(frozen=True)
class RunConfig:
    hq_fraction: float                 # fraction of the classes that keep their HQ images
    lq: str                            # LQ_USES: what the other classes' LQ images are used as
    self_supervision: bool
    init: runs.PretrainConfig | None   # the Primitives-PS pretraining run; None: from scratch
    seed: int
    scale: Scale
    reference: ReferenceConfig
    preset: str


def scale(preset: str, dataset: str = GlyphImages.name) -> Scale:
    """The preset's notebook-08 sizes for ``dataset``; the model is the preset's GAN, so Primitives-PS
    pretraining runs of notebooks 03-04 initialise it. Fashion-MNIST has its ten classes and
    ``many_classes_fashion_per_class`` images of each."""
    checks.choice(dataset, "dataset", tuple(DATASETS))
    sizes = get_preset(preset)
    model = ModelConfig(architecture=sizes.architecture, resolution=sizes.train_resolution,
                        base_channels=sizes.base_channels)
    glyph_scale = Scale(classes=sizes.many_classes_classes, per_class=sizes.many_classes_per_class, model=model,
                        iterations=sizes.many_classes_iterations, batch_size=sizes.batch_size,
                        transfer_steps=sizes.many_classes_transfer_steps, evals=sizes.many_classes_evals,
                        fid_samples=sizes.many_classes_fid_samples, intra_classes=sizes.many_classes_intra_classes,
                        intra_samples=sizes.many_classes_intra_samples)
    if dataset == GlyphImages.name:
        return glyph_scale
    classes = len(fashion.CLASSES)         # each class's test pool (FashionImages) holds half its test images
    return dataclasses.replace(glyph_scale, dataset=dataset, classes=classes, per_class=sizes.many_classes_fashion_per_class,
                               fid_samples=min(sizes.many_classes_fid_samples, FASHION_TEST_PER_CLASS * classes),
                               intra_classes=min(sizes.many_classes_intra_classes, classes),
                               intra_samples=min(sizes.many_classes_intra_samples, FASHION_TEST_PER_CLASS))


def run_config(hq_fraction: float, lq: str, self_supervision: bool, init: str, seed: int, preset: str,
               classes: int | None = None, dataset: str = GlyphImages.name,
               pretrain_seed: int | None = None) -> RunConfig:
    """One run at the preset's scale for ``dataset`` (``classes`` overrides the glyphs' class count);
    ``init`` is ``scratch`` or ``primitives-ps``, its pretraining run that of seed ``pretrain_seed``
    (default: ``seed``, as notebook 08 pairs them)."""
    hq_fraction, lq = check_recipe(hq_fraction, lq)
    checks.choice(init, "init", INITS)
    the_scale = scale(preset, dataset)
    if classes is not None and dataset == GlyphImages.name:
        the_scale = dataclasses.replace(the_scale, classes=checks.integer(classes, "classes", 2,
                                                                          len(glyphs.gb2312_level1())))
    pretrain_seed = seed if pretrain_seed is None else checks.integer(pretrain_seed, "pretrain seed", 0)
    pretrain = None if init == runs.SCRATCH else runs.pretrain_config(init, preset, seed=pretrain_seed,
                                                                      resolution=the_scale.model.resolution)
    return RunConfig(hq_fraction=hq_fraction, lq=lq, self_supervision=bool(self_supervision), init=pretrain,
                     seed=checks.integer(seed, "seed", 0), scale=the_scale, reference=ReferenceConfig(the_scale),
                     preset=preset)


# ---------------------------------------------------------------------------------------------
# The images a run is scored on, and how.

def intra_classes(scale: Scale) -> np.ndarray:
    """Positions (in the class subset) of the intra-class FID's classes: spread evenly."""
    return np.unique(np.round(np.linspace(0, scale.classes - 1, scale.intra_classes)).astype(int))


def evaluation_labels(scale: Scale) -> np.ndarray:
    """The classes of the generated images a run is scored on: the FID's ``fid_samples`` spread
    equally over the classes (the first ones get one more when it does not divide), then
    ``intra_samples`` of each intra-class class."""
    balanced = np.arange(scale.fid_samples) % scale.classes
    return np.concatenate([np.sort(balanced), np.repeat(intra_classes(scale), scale.intra_samples)])


def real_test_images(source, scale: Scale, purpose: str = "test") -> np.ndarray:
    """Real HQ images with ``evaluation_labels``' classes, drawn apart from every training image."""
    labels = evaluation_labels(scale)
    per_class = int(np.bincount(labels, minlength=scale.classes).max())
    images, image_labels = source.draw(source.subset(scale.classes), per_class, purpose, 0)
    return images[_take_by_label(image_labels, labels)]


def _take_by_label(available: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Indices into ``available`` (labels) giving the labels ``wanted`` in order, each index used once."""
    pools = {label: list(np.flatnonzero(available == label)) for label in np.unique(wanted)}
    return np.array([pools[label].pop(0) for label in wanted], dtype=int)


def grey(images: np.ndarray) -> np.ndarray:
    """uint8 RGB (N, S, S, 3) -> grey (N, S, S) at the glyphs' side (the mean of the channels)."""
    if images.shape[1] != glyphs.SIZE:
        images = np.stack([square(image, glyphs.SIZE) for image in images])
    return np.rint(images.astype(np.float32).mean(-1)).astype(np.uint8)


def score_images(images: np.ndarray, labels: np.ndarray, model: classifier.SmallCNN, removed: np.ndarray,
                 real_features: np.ndarray, scale: Scale, context: Context) -> dict:
    """The scores of grey images with ``evaluation_labels``: accuracy over the FID part (all classes)
    and over its removed classes, FID at equal N, mean intra-class FID."""
    n = scale.fid_samples
    predicted = classifier.logits(model, images).argmax(1)
    correct = predicted[:n] == labels[:n]
    fake_features = metrics.features(grey_to_rgb(images), progress=False, device=context.device, cache_dir=None)
    intra = [metrics.fid_from_features(real_features[n:][block], fake_features[n:][block])["fid"]
             for block in np.split(np.arange(len(labels) - n), len(intra_classes(scale)))]
    return {"accuracy": float(correct.mean()), "removed_accuracy": float(correct[removed[labels[:n]]].mean()),
            "fid": metrics.fid_from_features(real_features[:n], fake_features[:n])["fid"],
            "intra_fid": float(np.mean(intra))}


def load_classifier(result, scale: Scale) -> classifier.SmallCNN:
    model = classifier.SmallCNN(scale.classes, glyphs.SIZE)
    model.load_state_dict(torch.load(result.path / "classifier.pt", weights_only=True))
    return model.eval()


def real_features(source, scale: Scale, context: Context) -> np.ndarray:
    """Inception features of the real HQ test images, cached beside the runs."""
    return metrics.features(grey_to_rgb(real_test_images(source, scale)), progress=False, device=context.device,
                            cache_dir=runs.feature_cache(context))


# ---------------------------------------------------------------------------------------------
# A run's training set: the setting's real images, the LQ ones transferred where it says so.

def train_transfer(source, subset: np.ndarray, data: TrainingSet, scale: Scale, seed: int,
                   low_images: np.ndarray) -> tuple[np.ndarray, dict]:
    """Train the LQ -> HQ transfer on the kept classes' (LQ, HQ) pairs, then map ``low_images``
    (the removed classes' LQ images, labelled ``data.labels[data.transfer]``). Returns the mapped
    images and the L1 error of held-out pairs before and after training."""
    low, high, labels = transfer_pairs(source, subset, data.removed, scale.per_class, seed)
    x, target, y = to_model_space(low), to_model_space(high), torch.as_tensor(labels)
    held_out = torch.arange(len(x)) % 10 == 0
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = ctf_gan.FeatureTransfer(scale.classes, channels=1)
    optimizer = torch.optim.Adam(module.parameters(), lr=2e-3)
    train_index = torch.nonzero(~held_out)[:, 0]
    for step in range(scale.transfer_steps):
        batch = train_index[torch.randint(len(train_index), (TRANSFER_BATCH,),
                                          generator=training.generator_for(seed, step, 0))]
        optimizer.zero_grad(set_to_none=True)
        ctf_gan.transfer_loss(module, x[batch], target[batch], y[batch]).backward()
        optimizer.step()
    with torch.no_grad():
        errors = {"transfer_l1_before": float((x[held_out] - target[held_out]).abs().mean()),
                  "transfer_l1_after": float(ctf_gan.transfer_loss(module, x[held_out], target[held_out],
                                                                   y[held_out]))}
        mapped = module(to_model_space(low_images), torch.as_tensor(data.labels[data.transfer]))
    return sampling.to_images(mapped.expand(-1, 3, -1, -1))[..., 0], errors


TRAINING_SET = "train.npz"


def write_training_set(source, config: RunConfig, out_dir: Path) -> dict:
    """The setting's real images (after the transfer, where it applies) as ``train.npz`` in the run
    folder, written once (a resumed run reads the same file); the transfer's errors beside it."""
    path, notes = out_dir / TRAINING_SET, out_dir / "transfer.json"
    if path.is_file():
        return json.loads(notes.read_text())
    scale = config.scale
    subset = source.subset(scale.classes)
    data = training_set(config.hq_fraction, config.lq, source, subset, scale.per_class, config.seed)
    images, errors = data.images.copy(), {}
    if data.transfer.any():
        images[data.transfer], errors = train_transfer(source, subset, data, scale, config.seed, images[data.transfer])
    errors.update(images=len(images), removed_classes=int(data.removed.sum()))
    notes.write_text(json.dumps(errors))
    np.savez(path, images=images, labels=data.labels)
    return errors


def train_config(config: RunConfig, source) -> training.TrainConfig:
    scale = config.scale
    every = runs.evaluation_interval(scale.iterations, scale.evals)
    return training.TrainConfig(source=source, model=scale.model, iterations=scale.iterations,
                                batch_size=scale.batch_size,
                                r1_gamma=training.r1_heuristic(scale.model.resolution, scale.batch_size),
                                seed=config.seed, log_every=max(1, every // 2), sample_every=every,
                                checkpoint_every=every, classes=scale.classes,
                                self_supervision=SS_WEIGHT if config.self_supervision else 0.0)


# ---------------------------------------------------------------------------------------------
# Generated images.

def generate(generator: torch.nn.Module, labels: np.ndarray, seed: int) -> np.ndarray:
    """Grey glyph-sized images of ``generator`` for ``labels``, latents seeded by ``seed``."""
    z = torch.randn(len(labels), generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    y = torch.as_tensor(labels)
    with torch.no_grad():
        return grey(np.concatenate([sampling.to_images(generator(zs, ys)) for zs, ys in zip(z.split(256), y.split(256))]))


def load_generator(result, config: RunConfig) -> torch.nn.Module:
    """The EMA generator of a finished run."""
    state = training.load_checkpoint(result.path / training.CHECKPOINT)
    generator = training.generator_network(train_config(config, sources.resolve(result.path / TRAINING_SET)))
    generator.load_state_dict(state["G_ema"])
    return generator.eval()


GRID_CLASSES, GRID_SAMPLES = 10, 4


def save_class_grid(images: np.ndarray, labels: np.ndarray, scale: Scale, path: Path) -> None:
    """A class-by-sample grid: one row per intra-class FID class (up to ``GRID_CLASSES``), its first
    ``GRID_SAMPLES`` generated images."""
    rows = [images[scale.fid_samples:][labels[scale.fid_samples:] == c][:GRID_SAMPLES]
            for c in intra_classes(scale)[:GRID_CLASSES]]
    sampling.save_grid(grey_to_rgb(np.concatenate(rows)), path, columns=GRID_SAMPLES)


def samples(result, scale: Scale, per_class: int = 1) -> np.ndarray:
    """The first ``per_class`` generated images of each intra-class FID class of a finished run, class by class."""
    with np.load(result.path / "samples.npz") as archive:
        images, labels = archive["images"][scale.fid_samples:], archive["labels"][scale.fid_samples:]
    return np.concatenate([images[labels == c][:per_class] for c in intra_classes(scale)])


def real_samples(scale: Scale, per_class: int = 1) -> np.ndarray:
    """Real HQ test images of the intra-class FID classes, ``per_class`` each, class by class."""
    images, labels = real_test_images(image_source(scale.dataset), scale), evaluation_labels(scale)
    return np.concatenate([images[scale.fid_samples:][labels[scale.fid_samples:] == c][:per_class]
                           for c in intra_classes(scale)])
