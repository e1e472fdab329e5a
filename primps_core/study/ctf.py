"""Notebook 08: many classes from fewer high-quality images, after CTF-GAN (Wu et al., IJCNN 2020).

The data side of the experiment. A preset trains on ``class_subset(count)``: classes spread evenly
over the 3,755 GB2312 level-1 characters (the table is ordered by pronunciation, so an even spread
is not biased towards any reading). Of those, ``removed_classes`` (a seeded 30%) lose their
high-quality (HQ) images; what the discriminator sees as real in each setting
(``training_set``):

- ``hq-100``: HQ images of every class (the reference, nothing removed);
- ``hq-70``: HQ images of the kept classes only (the removed classes get no real images);
- ``hq-70+lq``: plus the low-quality (LQ) images of the removed classes, used as they are;
- ``hq-70+lq-transfer``: plus the LQ images of the removed classes passed through the LQ -> HQ
  transfer (``gan.ctf.FeatureTransfer``), trained on the (LQ, HQ) pairs of the kept classes
  (``transfer_pairs``).

HQ images are ``data.glyphs.high_quality`` variants, LQ images ``data.glyphs.low_quality`` of
other HQ variants of the same classes (so an LQ image is never the degraded copy of an HQ image
the discriminator also sees).

Each setting trains the class-conditional GAN of ``gan.training`` (``classes`` > 0) with and
without SS-GAN's rotation loss, from scratch or from the study's Primitives-PS pretraining run
(notebooks 03-04; the CTF seed picks the pretraining seed, so seeds replicate the pretraining
too): ``run_stage``. A run is scored by a classifier trained on real HQ images of the class
subset (``reference_stage``): the accuracy with which it names the class each generated image was
asked for, over all classes and over the seed's removed classes; FID of as many generated as real
HQ test images, an equal number per class; intra-class FID on a fixed sample of classes.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import checks
from ..data import fashion, glyphs, sources
from ..data.images import square
from ..dp import classifier
from ..dp.diffusion import to_model_space
from ..eval import decision, metrics
from ..gan import ctf as ctf_model, training
from ..gan.models import ModelConfig
from ..presets import get_preset
from . import runs, tables
from .dp_synthesis import rgb
from .pipeline import Context, plain, stage

KEPT_FRACTION = 0.7
LQ_USES = ("none", "naive", "transfer")   # the removed classes' LQ images: unused, as they are, transferred
SETTINGS = {"hq-100": (1.0, "none"), "hq-70": (KEPT_FRACTION, "none"), "hq-70+lq": (KEPT_FRACTION, "naive"),
            "hq-70+lq-transfer": (KEPT_FRACTION, "transfer")}     # name: (HQ fraction of classes, LQ use)
_HQ_SEED, _LQ_SOURCE_SEED, _LQ_SEED, _REMOVED_SEED, _CLASSIFIER_SEED, _TEST_SEED = range(6)


PURPOSES = ("hq", "lq-source", "pairs", "classifier", "test", "fresh")   # what a draw of real images is for


class GlyphImages:
    """The rendered characters (``data.glyphs``): every draw is fresh HQ variants of the table's
    glyphs, seeded by (purpose, seed), so draws for different purposes or seeds never coincide."""
    name = "cjk-glyphs"
    _OFFSETS = {"hq": _HQ_SEED, "lq-source": _LQ_SOURCE_SEED, "pairs": _LQ_SOURCE_SEED + 5,
                "classifier": _CLASSIFIER_SEED, "test": _TEST_SEED, "fresh": _TEST_SEED + 100}

    def __init__(self):
        self.table = glyphs.load_glyphs()[0]

    def subset(self, count: int) -> np.ndarray:
        return class_subset(count)

    def draw(self, classes: np.ndarray, per_class: int, purpose: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``per_class`` images of each of ``classes`` for ``purpose``; labels are positions in ``classes``."""
        return glyphs.high_quality(self.table, classes, per_class, seed=self._OFFSETS[purpose] + 10 * seed)


class FashionImages:
    """Fashion-MNIST's embedded subset, padded to 32 px, as the second, small benchmark: each class's
    training images are dealt into four disjoint pools (HQ training images, LQ sources, transfer
    pairs, the scoring classifier) and its test images into two (the scored test images, and fresh
    real images scored as a reference); a draw is a seeded sample of its pool."""
    name = "fashion-mnist"
    _POOLS = {"hq": ("train", 0, 4), "lq-source": ("train", 1, 4), "pairs": ("train", 2, 4),
              "classifier": ("train", 3, 4), "test": ("test", 0, 2), "fresh": ("test", 1, 2)}

    def __init__(self):
        pad = (glyphs.SIZE - fashion.SIDE) // 2
        self.splits = {split: (np.pad(images, ((0, 0), (pad, pad), (pad, pad))), labels)
                       for split in fashion.SPLITS for images, labels in [fashion.load_fashion(split)]}

    def subset(self, count: int) -> np.ndarray:
        if count != len(fashion.CLASSES):
            raise ValueError(f"Fashion-MNIST has {len(fashion.CLASSES)} classes, got classes={count}")
        return np.arange(count)

    def draw(self, classes: np.ndarray, per_class: int, purpose: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        split, part, parts = self._POOLS[purpose]
        images, labels = self.splits[split]
        chosen = []
        for c in classes:
            pool = np.flatnonzero(labels == c)[part::parts]
            if per_class > len(pool):
                raise ValueError(f"Fashion-MNIST's {purpose} pool holds {len(pool)} images of class {c}, "
                                 f"{per_class} asked for")
            chosen.append(np.random.default_rng([seed, int(c), part]).permutation(pool)[:per_class])
        return images[np.concatenate(chosen)], np.repeat(np.arange(len(classes)), per_class)


DATASETS = {source.name: source for source in (GlyphImages, FashionImages)}
FASHION_TEST_PER_CLASS = 50        # the most generated images of a class the Fashion-MNIST scores ask for


@functools.cache
def image_source(name: str):
    """The real images of the dataset ``name`` (one of ``DATASETS``), loaded once per process."""
    checks.choice(name, "dataset", tuple(DATASETS))
    return DATASETS[name]()


def class_subset(count: int) -> np.ndarray:
    """``count`` class indices spread evenly over the 3,755 characters, first and last included."""
    total = len(glyphs.gb2312_level1())
    count = checks.integer(count, "classes", 2, total)
    return np.unique(np.round(np.linspace(0, total - 1, count)).astype(int))


def removed_classes(count: int, seed: int, kept_fraction: float = KEPT_FRACTION) -> np.ndarray:
    """Boolean mask over ``count`` classes: True for the classes whose HQ images are removed (a
    seeded ``1 - kept_fraction`` of them, at least one)."""
    if not 0 < kept_fraction < 1:
        raise ValueError(f"kept_fraction must be in (0, 1), got {kept_fraction!r}")
    removed = max(1, round((1 - kept_fraction) * count))
    mask = np.zeros(count, bool)
    mask[np.random.default_rng([_REMOVED_SEED, seed]).permutation(count)[:removed]] = True
    return mask


@dataclass(frozen=True)
class TrainingSet:
    """What one setting trains on: ``images``/``labels`` are the discriminator's real images
    (``transfer`` marks the LQ ones the transfer module must map first); ``removed`` the mask of
    classes without HQ images."""
    images: np.ndarray          # uint8 (N, S, S)
    labels: np.ndarray          # int (N,): positions in the class subset
    transfer: np.ndarray        # bool (N,)
    removed: np.ndarray         # bool (classes,)


def check_recipe(hq_fraction: float, lq: str) -> tuple[float, str]:
    """(HQ fraction, LQ use) checked: the fraction of classes keeping their HQ images in (0, 1], and
    an LQ use other than ``none`` only when some classes lost them."""
    checks.choice(lq, "lq", LQ_USES)
    if not 0 < hq_fraction <= 1:
        raise ValueError(f"hq_fraction must be in (0, 1], got {hq_fraction!r}")
    if lq != "none" and hq_fraction == 1:
        raise ValueError(f"lq={lq!r} uses the LQ images of the classes without HQ images: it needs hq_fraction < 1")
    return float(hq_fraction), lq


def training_set(hq_fraction: float, lq: str, source, classes: np.ndarray, per_class: int,
                 seed: int) -> TrainingSet:
    """The real images when a fraction ``hq_fraction`` of the class subset ``classes`` of ``source``
    (an ``image_source``) keeps its HQ images and the others' LQ images are used as ``lq`` says;
    ``per_class`` images per class (``SETTINGS`` names the study's four)."""
    hq_fraction, lq = check_recipe(hq_fraction, lq)
    high, labels = source.draw(classes, per_class, "hq", seed)
    removed = removed_classes(len(classes), seed, hq_fraction) if hq_fraction < 1 else np.zeros(len(classes), bool)
    keep = ~removed[labels]
    images, kept_labels = high[keep], labels[keep]
    transfer = np.zeros(len(images), bool)
    if lq != "none":
        low, low_labels = low_quality_images(source, classes[removed], per_class, seed)
        images = np.concatenate([images, low])
        kept_labels = np.concatenate([kept_labels, np.flatnonzero(removed)[low_labels]])
        transfer = np.concatenate([transfer, np.full(len(low), lq == "transfer")])
    return TrainingSet(images, kept_labels, transfer, removed)


def low_quality_images(source, classes: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """LQ images of ``classes``: degraded HQ variants drawn apart from the HQ training images."""
    originals, labels = source.draw(classes, per_class, "lq-source", seed)
    return glyphs.low_quality(originals, seed=_LQ_SEED + 10 * seed), labels


def transfer_pairs(source, classes: np.ndarray, removed: np.ndarray, per_class: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(LQ, HQ, labels) pairs of the kept classes for the transfer module: each HQ variant and its
    own degraded copy."""
    kept = np.flatnonzero(~removed)
    high, labels = source.draw(classes[kept], per_class, "pairs", seed)
    return glyphs.low_quality(high, seed=_LQ_SEED + 10 * seed + 5), high, kept[labels]


# ---------------------------------------------------------------------------------------------
# The runs: a reference (classifier and real-image floors), then one GAN per (setting, SS, init, seed).

SS_WEIGHT = 1.0                  # SS-GAN's beta for D (G's alpha is 0.2 of it: gan.training)
INITS = (runs.SCRATCH, "primitives-ps")
SS_LEVELS = ("off", "on")        # the self_supervision column of ctf.csv
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
    ``ctf_fashion_per_class`` images of each."""
    checks.choice(dataset, "dataset", tuple(DATASETS))
    sizes = get_preset(preset)
    model = ModelConfig(architecture=sizes.architecture, resolution=sizes.train_resolution,
                        base_channels=sizes.base_channels)
    glyph_scale = Scale(classes=sizes.ctf_classes, per_class=sizes.ctf_per_class, model=model,
                        iterations=sizes.ctf_iterations, batch_size=sizes.batch_size,
                        transfer_steps=sizes.ctf_transfer_steps, evals=sizes.ctf_evals,
                        fid_samples=sizes.ctf_fid_samples, intra_classes=sizes.ctf_intra_classes,
                        intra_samples=sizes.ctf_intra_samples)
    if dataset == GlyphImages.name:
        return glyph_scale
    classes = len(fashion.CLASSES)         # each class's test pool (FashionImages) holds half its test images
    return dataclasses.replace(glyph_scale, dataset=dataset, classes=classes, per_class=sizes.ctf_fashion_per_class,
                               fid_samples=min(sizes.ctf_fid_samples, FASHION_TEST_PER_CLASS * classes),
                               intra_classes=min(sizes.ctf_intra_classes, classes),
                               intra_samples=min(sizes.ctf_intra_samples, FASHION_TEST_PER_CLASS))


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


def _score_images(images: np.ndarray, labels: np.ndarray, model: classifier.SmallCNN, removed: np.ndarray,
                  real_features: np.ndarray, scale: Scale, context: Context) -> dict:
    """The scores of grey images with ``evaluation_labels``: accuracy over the FID part (all classes)
    and over its removed classes, FID at equal N, mean intra-class FID."""
    n = scale.fid_samples
    predicted = classifier.logits(model, images).argmax(1)
    correct = predicted[:n] == labels[:n]
    fake_features = metrics.features(rgb(images), progress=False, device=context.device, cache_dir=None)
    intra = [metrics.fid_from_features(real_features[n:][block], fake_features[n:][block])["fid"]
             for block in np.split(np.arange(len(labels) - n), len(intra_classes(scale)))]
    return {"accuracy": float(correct.mean()), "removed_accuracy": float(correct[removed[labels[:n]]].mean()),
            "fid": metrics.fid_from_features(real_features[:n], fake_features[:n])["fid"],
            "intra_fid": float(np.mean(intra))}


def load_classifier(result, scale: Scale) -> classifier.SmallCNN:
    model = classifier.SmallCNN(scale.classes, glyphs.SIZE)
    model.load_state_dict(torch.load(result.path / "classifier.pt", weights_only=True))
    return model.eval()


def _real_features(source, scale: Scale, context: Context) -> np.ndarray:
    return metrics.features(rgb(real_test_images(source, scale)), progress=False, device=context.device,
                            cache_dir=runs.feature_cache(context))


@stage("ctf_reference", version=1)
def reference_stage(config: ReferenceConfig, out_dir: Path, context: Context) -> dict:
    """The scoring classifier, trained on real HQ images of the class subset, and real images scored
    like a run's samples: fresh HQ variants (the ceiling) and LQ ones."""
    scale = config.scale
    source = image_source(scale.dataset)
    subset = source.subset(scale.classes)
    model = classifier.fit(*source.draw(subset, CLASSIFIER_PER_CLASS, "classifier", 0), scale.classes,
                           epochs=CLASSIFIER_EPOCHS, seed=0)
    torch.save(model.state_dict(), out_dir / "classifier.pt")
    labels = evaluation_labels(scale)
    real_features = _real_features(source, scale, context)
    fresh = real_test_images(source, scale, "fresh")
    removed = removed_classes(scale.classes, 0)
    return {"hq": _score_images(fresh, labels, model, removed, real_features, scale, context),
            "lq": _score_images(glyphs.low_quality(fresh, seed=_LQ_SEED + 100), labels, model, removed,
                                real_features, scale, context),
            "chance": 1 / scale.classes}


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
        module = ctf_model.FeatureTransfer(scale.classes, channels=1)
    optimizer = torch.optim.Adam(module.parameters(), lr=2e-3)
    train_index = torch.nonzero(~held_out)[:, 0]
    for step in range(scale.transfer_steps):
        batch = train_index[torch.randint(len(train_index), (TRANSFER_BATCH,),
                                          generator=training.generator_for(seed, step, 0))]
        optimizer.zero_grad(set_to_none=True)
        ctf_model.transfer_loss(module, x[batch], target[batch], y[batch]).backward()
        optimizer.step()
    with torch.no_grad():
        errors = {"transfer_l1_before": float((x[held_out] - target[held_out]).abs().mean()),
                  "transfer_l1_after": float(ctf_model.transfer_loss(module, x[held_out], target[held_out],
                                                                     y[held_out]))}
        mapped = module(to_model_space(low_images), torch.as_tensor(data.labels[data.transfer]))
    return training.to_images(mapped.expand(-1, 3, -1, -1))[..., 0], errors


TRAINING_SET = "train.npz"


def _write_training_set(source, config: RunConfig, out_dir: Path) -> dict:
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


def generate(generator: torch.nn.Module, labels: np.ndarray, seed: int) -> np.ndarray:
    """Grey glyph-sized images of ``generator`` for ``labels``, latents seeded by ``seed``."""
    z = torch.randn(len(labels), generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    y = torch.as_tensor(labels)
    with torch.no_grad():
        return grey(np.concatenate([training.to_images(generator(zs, ys)) for zs, ys in zip(z.split(256), y.split(256))]))


@stage("ctf_run", version=1, resumable=training.CHECKPOINT,
       needs=lambda config: [(reference_stage, config.reference)]
       + ([] if config.init is None else [(runs.pretrain_stage, config.init)]))
def run_stage(config: RunConfig, out_dir: Path, context: Context) -> dict:
    started = time.perf_counter()
    scale = config.scale
    source = image_source(scale.dataset)
    reference = reference_stage(config.reference, preset=config.preset, context=context)
    judge = load_classifier(reference, scale)
    notes = _write_training_set(source, config, out_dir)
    labels = evaluation_labels(scale)
    # the classes this seed removes (for hq-100: those a 70% run of the seed removes), scored apart
    removed = removed_classes(scale.classes, config.seed, min(config.hq_fraction, KEPT_FRACTION))
    accuracy_labels = labels[:scale.fid_samples]

    def accuracy(generator) -> dict:
        correct = classifier.logits(judge, generate(generator, accuracy_labels, config.seed + 1_000_000)).argmax(1) \
            == accuracy_labels
        return {"accuracy": float(correct.mean()), "removed_accuracy": float(correct[removed[accuracy_labels]].mean())}

    init = None
    if config.init is not None:
        init = runs.pretrain_stage(config.init, preset=config.preset, context=context).path / training.CHECKPOINT
    train = train_config(config, sources.resolve(out_dir / TRAINING_SET))
    trainer = training.train(train, out_dir, init=init, evaluate=accuracy, eval_every=train.checkpoint_every,
                             progress=context.progress, device=context.device)
    images = generate(trainer.G_ema, labels, config.seed + 1_000_000)
    save_class_grid(images, labels, scale, out_dir / "classes.png")
    np.savez_compressed(out_dir / "samples.npz", images=images, labels=labels)
    records = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    curve = [{key: r[key] for key in ("iteration", "accuracy", "removed_accuracy")} for r in records if "accuracy" in r]
    scores = _score_images(images, labels, judge, removed, _real_features(source, scale, context), scale, context)
    return {**scores, **notes, "curve": curve, "wall_s": time.perf_counter() - started}


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
    training.save_grid(rgb(np.concatenate(rows)), path, columns=GRID_SAMPLES)


# ---------------------------------------------------------------------------------------------
# The plan of a preset, the design registered before scoring, and the verdicts it gives.

COLUMNS = ("dataset", "setting", "self_supervision", "init", "seed", "accuracy", "removed_accuracy", "fid", "intra_fid",
           "transfer_l1_before", "transfer_l1_after", "images", "wall_s")


def run_config(hq_fraction: float, lq: str, self_supervision: bool, init: str, seed: int, preset: str,
               classes: int | None = None, dataset: str = GlyphImages.name) -> RunConfig:
    """One run at the preset's scale for ``dataset`` (``classes`` overrides the glyphs' class count);
    ``init`` is ``scratch`` or ``primitives-ps`` (its pretraining run of seed ``seed`` in notebooks 03-04)."""
    hq_fraction, lq = check_recipe(hq_fraction, lq)
    checks.choice(init, "init", INITS)
    the_scale = scale(preset, dataset)
    if classes is not None and dataset == GlyphImages.name:
        the_scale = dataclasses.replace(the_scale, classes=checks.integer(classes, "classes", 2,
                                                                          len(glyphs.gb2312_level1())))
    pretrain = None if init == runs.SCRATCH else runs.pretrain_config(init, preset, seed=seed,
                                                                      resolution=the_scale.model.resolution)
    return RunConfig(hq_fraction=hq_fraction, lq=lq, self_supervision=bool(self_supervision), init=pretrain,
                     seed=checks.integer(seed, "seed", 0), scale=the_scale, reference=ReferenceConfig(the_scale),
                     preset=preset)


FASHION_ARMS = (("off", runs.SCRATCH),)     # Fashion-MNIST, the small benchmark: the settings alone


def plan(preset: str, dataset: str = GlyphImages.name) -> list[tuple[dict, runs.Job]]:
    """Every (setting, self-supervision, init, seed) of the preset for ``dataset``, with its labels:
    the glyphs cross all four factors; Fashion-MNIST compares the settings alone (``FASHION_ARMS``)."""
    arms = [(ss, init) for init in INITS for ss in SS_LEVELS] if dataset == GlyphImages.name else FASHION_ARMS
    return [({"setting": setting, "self_supervision": ss, "init": init, "seed": seed},
             runs.Job(run_stage, run_config(*SETTINGS[setting], ss == "on", init, seed, preset, dataset=dataset),
                      preset))
            for ss, init in arms for setting in SETTINGS for seed in range(get_preset(preset).ctf_seeds)]


def run(preset: str, dataset: str = GlyphImages.name, context: Context | None = None, progress: bool = True) -> dict:
    """Compute (or load) the preset's runs for ``dataset``: ``rows`` (of ``figures/ctf.csv``, with
    the dataset), ``reference`` (real images scored alike), ``scale`` and ``runs`` ({(setting, ss,
    init, seed): StageResult})."""
    context = context or Context()
    jobs = plan(preset, dataset)
    results = runs.run_jobs([job for _, job in jobs], progress=progress, context=context)
    the_scale = scale(preset, dataset)
    reference = reference_stage(ReferenceConfig(the_scale), preset=preset, context=context)
    rows = [{**{key: result.value.get(key) for key in COLUMNS}, **labels, "dataset": dataset}
            for (labels, _), result in zip(jobs, results)]
    return {"rows": rows, "reference": reference.value, "scale": the_scale,
            "runs": {tuple(labels.values()): result for (labels, _), result in zip(jobs, results)}}


GATE_FRACTION = 0.25
SETTING_CLAIMS = (("hq-100", "hq-70", "removing 30% of the classes' HQ images costs quality"),
                  ("hq-70+lq", "hq-70", "the removed classes' LQ images, used as they are, help"),
                  ("hq-70+lq-transfer", "hq-70+lq", "the LQ -> HQ feature transfer beats using LQ images as they are"),
                  ("hq-70+lq-transfer", "hq-70", "the feature transfer recovers quality lost with the HQ images"))
CLAIM_COLUMNS = ("dataset", "claim", "factor", "treatment", "control", "where", "units", "treatment_accuracy",
                 "control_accuracy", "effect", "low", "high", "removed_effect", "removed_low", "removed_high",
                 "fid_effect", "fid_low", "fid_high", "gate", "verdict")
DESIGN = {
    "version": 1,
    "date": "2026-11-28",
    "claims": [text for _, _, text in SETTING_CLAIMS]
    + ["SS-GAN's self-supervised rotation loss helps (each setting and init)",
       "Primitives-PS pretraining helps (each setting, with and without self-supervision)"],
    "primary_outcome": "class accuracy: the fraction of generated images (an equal number per class) that a "
                       "classifier trained on real HQ images names as the class they were generated for",
    "secondary_outcomes": ["class accuracy on the seed's removed classes only (the classes without HQ images)",
                           "FID of as many generated as real HQ test images, an equal number per class",
                           "mean intra-class FID over a fixed sample of classes"],
    "unit": "a seed: the removed classes, the training images' variants and degradations, the GAN's initial weights "
            "and latents, and for Primitives-PS the pretraining run (seed-th of notebooks 03-04)",
    "test": "Welch's 95% interval of the difference of mean accuracy (treatment minus control)",
    "gate": f"the comparison's baseline, hq-100 with the same init and self-supervision, has learned the classes: "
            f"its mean accuracy is at least chance + {GATE_FRACTION} x (real HQ images' accuracy - chance)",
    "verdict": "untested at this scale if the gate fails; holds if the whole interval is above zero; does not hold "
               "otherwise",
}


def gates(rows: list[dict], reference: dict) -> dict[tuple[str, str], dict]:
    """Per (self-supervision, init): its hq-100 runs' mean accuracy, the threshold and whether it passes."""
    threshold = reference["chance"] + GATE_FRACTION * (reference["hq"]["accuracy"] - reference["chance"])
    result = {}
    for ss in SS_LEVELS:
        for init in INITS:
            found = [r["accuracy"] for r in rows if (r["setting"], r["self_supervision"], r["init"]) == ("hq-100", ss, init)]
            if found:
                result[ss, init] = {"accuracy": float(np.mean(found)), "threshold": threshold,
                                    "passes": float(np.mean(found)) >= threshold}
    return result


def _comparisons(rows: list[dict]):
    """(claim, factor, treatment rows, control rows, where, baseline key) of every comparison."""
    def select(setting, ss, init):
        return [r for r in rows if (r["setting"], r["self_supervision"], r["init"]) == (setting, ss, init)]
    for init in INITS:
        for ss in SS_LEVELS:
            for treatment, control, text in SETTING_CLAIMS:
                yield (text, "setting", treatment, control, f"{init}, SS {ss}",
                       select(treatment, ss, init), select(control, ss, init), [(ss, init)])
    for setting in SETTINGS:
        for init in INITS:
            yield (DESIGN["claims"][-2], "self-supervision", "SS on", "SS off", f"{setting}, {init}",
                   select(setting, "on", init), select(setting, "off", init), [("on", init), ("off", init)])
        for ss in SS_LEVELS:
            yield (DESIGN["claims"][-1], "init", "primitives-ps", "scratch", f"{setting}, SS {ss}",
                   select(setting, ss, "primitives-ps"), select(setting, ss, runs.SCRATCH),
                   [(ss, "primitives-ps"), (ss, runs.SCRATCH)])


def claims(rows: list[dict], reference: dict) -> list[dict]:
    """One row per comparison whose arms both ran, for the rows of one dataset (``reference`` its
    real images' scores): mean accuracies, the effects on accuracy, on the removed classes' accuracy
    and on FID with Welch 95% intervals, the gate and the verdict."""
    gate = gates(rows, reference)
    table = []
    for text, factor, treatment, control, where, a, b, baselines in _comparisons(rows):
        if not (a and b) or not all(key in gate for key in baselines):
            continue
        effects = {key: decision.welch_interval([r[key] for r in a], [r[key] for r in b])
                   for key in ("accuracy", "removed_accuracy", "fid")}
        passes = all(gate[key]["passes"] for key in baselines)
        table.append({"dataset": a[0].get("dataset", GlyphImages.name), "claim": text, "factor": factor, "treatment": treatment, "control": control, "where": where,
                      "units": f"{len(a)} / {len(b)}",
                      "treatment_accuracy": float(np.mean([r["accuracy"] for r in a])),
                      "control_accuracy": float(np.mean([r["accuracy"] for r in b])),
                      "effect": effects["accuracy"][0], "low": effects["accuracy"][1], "high": effects["accuracy"][2],
                      "removed_effect": effects["removed_accuracy"][0], "removed_low": effects["removed_accuracy"][1],
                      "removed_high": effects["removed_accuracy"][2],
                      "fid_effect": effects["fid"][0], "fid_low": effects["fid"][1], "fid_high": effects["fid"][2],
                      "gate": "passes" if passes else "fails",
                      "verdict": decision.interval_verdict(effects["accuracy"][1], effects["accuracy"][2], passes)})
    return table


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 08's numbers from ``ctf.csv`` and ``ctf_claims.csv``: each (dataset, setting, SS,
    init) over its seeds, then the claims with their intervals, gates and verdicts."""
    rows = tables.csv_rows(Path(figures_dir) / "ctf.csv")
    claim_rows = tables.csv_rows(Path(figures_dir) / "ctf_claims.csv")
    summary = []
    arms = ("dataset", "setting", "self_supervision", "init")
    for dataset, setting, ss, init in dict.fromkeys(tuple(r[key] for key in arms) for r in rows):
        chosen = [r for r in rows if tuple(r[key] for key in arms) == (dataset, setting, ss, init)]

        def spread(key: str, digits: int = 3) -> str:
            values = [r[key] for r in chosen]
            return tables.plus_minus(np.mean(values), np.std(values, ddof=1) if len(values) > 1 else None, digits)
        summary.append({"dataset": dataset, "setting": setting, "SS": ss, "init": init, "seeds": len(chosen),
                        "accuracy": spread("accuracy"), "removed classes' accuracy": spread("removed_accuracy"),
                        "FID": spread("fid", 1), "intra-class FID": spread("intra_fid", 1)})
    verdicts = [{"dataset": r["dataset"], "claim": r["claim"], "where": r["where"], "units": r["units"],
                 "accuracy": f"{tables.number(r['treatment_accuracy'], 3)} vs {tables.number(r['control_accuracy'], 3)}",
                 "effect on accuracy [95%]": tables.interval(r["effect"], r["low"], r["high"], 3),
                 "on removed classes [95%]": tables.interval(r["removed_effect"], r["removed_low"], r["removed_high"], 3),
                 "effect on FID [95%]": tables.interval(r["fid_effect"], r["fid_low"], r["fid_high"], 1),
                 "gate": r["gate"], "verdict": r["verdict"]} for r in claim_rows]
    return {"Each setting, self-supervision and init, mean ± s.d. over seeds": summary,
            "The claims: accuracy of treatment vs control, effects with Welch 95% intervals": verdicts}


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
