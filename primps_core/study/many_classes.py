"""Notebook 08, many classes: many classes from fewer high-quality images, after CTF-GAN (Wu et al.,
IJCNN 2020).

The study's verbs, as every study module offers them: ``plan(preset)`` (the jobs, with their
labels), the stages they run (``many_classes_reference_stage``, ``many_classes_run_stage``),
``rows`` (the tidy table of ``figures/many_classes.csv``), the registered design ``DESIGN``
(``figures/many_classes_design.json``) and ``claims`` (``figures/many_classes_claims.csv``,
decided by the one claims engine ``eval.claims``); ``run`` does the first three for a notebook and
``key_tables`` reads the figures back.

The data (``data.class_sources``): a preset trains on a subset of classes of the rendered
characters (or Fashion-MNIST's ten, the small second benchmark). Of those, a seeded 30% lose their
high-quality (HQ) images; what the discriminator sees as real in each setting (``SETTINGS``):

- ``hq-100``: HQ images of every class (the reference, nothing removed);
- ``hq-70``: HQ images of the kept classes only (the removed classes get no real images);
- ``hq-70+lq``: plus the low-quality (LQ) images of the removed classes, used as they are;
- ``hq-70+lq-transfer``: plus the LQ images of the removed classes passed through the LQ -> HQ
  transfer (``gan.ctf.FeatureTransfer``), trained on the (LQ, HQ) pairs of the kept classes.

Each setting trains the class-conditional GAN of ``gan.training`` (``classes`` > 0) with and
without SS-GAN's rotation loss, from scratch or from the study's Primitives-PS pretraining run
(notebooks 03-04; the run's seed picks the pretraining seed, so seeds replicate the pretraining
too). A run is scored by a classifier trained on real HQ images of the class subset
(``many_classes_reference_stage``, which also scores real HQ and LQ images alike): class accuracy
over all classes and over the seed's removed classes, FID and intra-class FID
(``many_classes_parts.score_images``).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from ..data import glyphs, sources
from ..data.class_sources import DATASETS, KEPT_FRACTION, LQ_SEED, GlyphImages, image_source, removed_classes
from ..eval import claims as engine
from ..eval import classifier
from ..gan import training
from ..presets import get_preset
from . import runs, scheduler, tables
from .many_classes_parts import (CLASSIFIER_EPOCHS, CLASSIFIER_PER_CLASS, INITS, SETTINGS, SS_LEVELS, TRAINING_SET,
                                 ReferenceConfig, RunConfig, evaluation_labels, generate, load_classifier,
                                 real_features, real_test_images, run_config, save_class_grid, scale, score_images,
                                 train_config, write_training_set)
from .pipeline import Context, Job, stage


@stage("many_classes_reference", version=1)
def many_classes_reference_stage(config: ReferenceConfig, out_dir: Path, context: Context) -> dict:
    """The scoring classifier, trained on real HQ images of the class subset, and real images scored
    like a run's samples: fresh HQ variants (the ceiling) and LQ ones."""
    the_scale = config.scale
    source = image_source(the_scale.dataset)
    subset = source.subset(the_scale.classes)
    model = classifier.fit(*source.draw(subset, CLASSIFIER_PER_CLASS, "classifier", 0), the_scale.classes,
                           epochs=CLASSIFIER_EPOCHS, seed=0)
    torch.save(model.state_dict(), out_dir / "classifier.pt")
    labels = evaluation_labels(the_scale)
    features = real_features(source, the_scale, context)
    fresh = real_test_images(source, the_scale, "fresh")
    removed = removed_classes(the_scale.classes, 0)
    return {"hq": score_images(fresh, labels, model, removed, features, the_scale, context),
            "lq": score_images(glyphs.low_quality(fresh, seed=LQ_SEED + 100), labels, model, removed, features,
                               the_scale, context),
            "chance": 1 / the_scale.classes}


@stage("many_classes_run", version=1, resumable=training.CHECKPOINT,
       needs=lambda config: [(many_classes_reference_stage, config.reference)]
       + ([] if config.init is None else [(runs.pretrain_stage, config.init)]))
def many_classes_run_stage(config: RunConfig, out_dir: Path, context: Context) -> dict:
    """One GAN of (setting, self-supervision, init, seed): trained with its class accuracy evaluated
    along the way, then scored (``score_images``); its samples and a class grid in the run folder."""
    started = time.perf_counter()
    the_scale = config.scale
    source = image_source(the_scale.dataset)
    reference = many_classes_reference_stage(config.reference, preset=config.preset, context=context)
    judge = load_classifier(reference, the_scale)
    notes = write_training_set(source, config, out_dir)
    labels = evaluation_labels(the_scale)
    # the classes this seed removes (for hq-100: those a 70% run of the seed removes), scored apart
    removed = removed_classes(the_scale.classes, config.seed, min(config.hq_fraction, KEPT_FRACTION))
    accuracy_labels = labels[:the_scale.fid_samples]

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
    save_class_grid(images, labels, the_scale, out_dir / "classes.png")
    np.savez_compressed(out_dir / "samples.npz", images=images, labels=labels)
    records = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    curve = [{key: r[key] for key in ("iteration", "accuracy", "removed_accuracy")} for r in records if "accuracy" in r]
    scores = score_images(images, labels, judge, removed, real_features(source, the_scale, context), the_scale, context)
    return {**scores, **notes, "curve": curve, "wall_s": time.perf_counter() - started}


# ---------------------------------------------------------------------------------------------
# The plan of a preset, its rows, and the real images scored alike.

COLUMNS = ("dataset", "setting", "self_supervision", "init", "seed", "accuracy", "removed_accuracy", "fid", "intra_fid",
           "transfer_l1_before", "transfer_l1_after", "images", "wall_s")
REFERENCE_COLUMNS = ("dataset", "images", "accuracy", "removed_accuracy", "fid", "intra_fid", "chance")
REAL_IMAGES = {"hq": "real HQ", "lq": "real LQ"}
FASHION_ARMS = (("off", runs.SCRATCH),)     # Fashion-MNIST, the small benchmark: the settings alone


def plan(preset: str, dataset: str | None = None) -> list[tuple[dict, Job]]:
    """Every (dataset, setting, self-supervision, init, seed) of the preset (of ``dataset`` alone
    when given), with its labels: the glyphs cross all four factors; Fashion-MNIST compares the
    settings alone (``FASHION_ARMS``)."""
    if dataset is None:
        return [job for name in DATASETS for job in plan(preset, name)]
    arms = [(ss, init) for init in INITS for ss in SS_LEVELS] if dataset == GlyphImages.name else FASHION_ARMS
    return [({"dataset": dataset, "setting": setting, "self_supervision": ss, "init": init, "seed": seed},
             Job(many_classes_run_stage,
                      run_config(*SETTINGS[setting], ss == "on", init, seed, preset, dataset=dataset), preset))
            for ss, init in arms for setting in SETTINGS for seed in range(get_preset(preset).many_classes_seeds)]


def rows(jobs: list[tuple[dict, Job]], results) -> list[dict]:
    """The tidy table (``COLUMNS``): one row per finished job, its labels and scores."""
    return [{key: labels[key] if key in labels else result.value.get(key) for key in COLUMNS}
            for (labels, _), result in zip(jobs, results)]


def reference_rows(dataset: str, value: dict) -> list[dict]:
    """A reference stage's value as rows of ``REFERENCE_COLUMNS``: real HQ and real LQ images."""
    return [{"dataset": dataset, "images": name, **{key: value[kind][key] for key in REFERENCE_COLUMNS[2:-1]},
             "chance": value["chance"]} for kind, name in REAL_IMAGES.items()]


def run(preset: str, dataset: str | None = None, context: Context | None = None, progress: bool = True) -> dict:
    """Compute (or load) the preset's runs (of ``dataset`` alone when given): ``rows``,
    ``references`` (real images scored alike, ``REFERENCE_COLUMNS``), ``scales`` ({dataset: Scale})
    and ``runs`` ({(dataset, setting, ss, init, seed): StageResult})."""
    context = context or Context()
    jobs = plan(preset, dataset)
    results = scheduler.run_jobs([job for _, job in jobs], progress=progress, context=context)
    scales = {name: scale(preset, name) for name in dict.fromkeys(labels["dataset"] for labels, _ in jobs)}
    references = [row for name, the_scale in scales.items() for row in reference_rows(
        name, many_classes_reference_stage(ReferenceConfig(the_scale), preset=preset, context=context).value)]
    return {"rows": rows(jobs, results), "references": references, "scales": scales,
            "runs": {tuple(labels.values()): result for (labels, _), result in zip(jobs, results)}}


# ---------------------------------------------------------------------------------------------
# The design registered before scoring, and the claims it decides.

GATE_FRACTION = 0.25
SETTING_CLAIMS = (("hq-100", "hq-70", "removing 30% of the classes' HQ images costs quality"),
                  ("hq-70+lq", "hq-70", "the removed classes' LQ images, used as they are, help"),
                  ("hq-70+lq-transfer", "hq-70+lq", "the LQ -> HQ feature transfer beats using LQ images as they are"),
                  ("hq-70+lq-transfer", "hq-70", "the feature transfer recovers quality lost with the HQ images"))
CLAIMS = tuple(text for _, _, text in SETTING_CLAIMS) + (
    "SS-GAN's self-supervised rotation loss helps (each setting and init)",
    "Primitives-PS pretraining helps (each setting, with and without self-supervision)")   # claim k: CLAIMS[k - 1]
SS_CLAIM, INIT_CLAIM = 5, 6
OUTCOME = "accuracy"
SECONDARY = ("removed_accuracy", "fid")          # decided descriptively: effect and interval, no verdict
VERSION_1 = {
    "version": 1,
    "date": "2026-11-28",
    "why": "the first design: CTF-GAN's and SS-GAN's claims and this study's Primitives-PS question, decided on "
           "class accuracy before any run of the cpu preset was scored",
    "claims": list(CLAIMS),
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


def _check(version: dict) -> None:
    """The design in force states the claims and the gate fraction the code applies."""
    if version["claims"] != list(CLAIMS) or f"chance + {GATE_FRACTION} x" not in version["gate"]:
        raise ValueError(f"many_classes.DESIGN version {version['version']} states other claims or another gate "
                         f"than the code applies (gate fraction {GATE_FRACTION})")


DESIGN = engine.Registry("many_classes_design.json", versions=(VERSION_1,), check=_check)


def _reference(references: list[dict], dataset: str) -> tuple[float, float]:
    """(chance, real HQ images' accuracy) of ``dataset`` in reference rows."""
    found = [r for r in references if r["dataset"] == dataset and r["images"] == REAL_IMAGES["hq"]]
    if len(found) != 1:
        raise ValueError(f"the references hold {len(found)} real-HQ rows of {dataset}, 1 expected")
    return float(found[0]["chance"]), float(found[0]["accuracy"])


def gate_name(ss: str, init: str) -> str:
    return f"hq-100 learns ({init}, SS {ss})"


def gates(rows: list[dict], references: list[dict]) -> dict[tuple[str, str, str], engine.Gate]:
    """Per (dataset, self-supervision, init) with hq-100 runs: the gate that they have learned the
    classes (mean accuracy at least chance + ``GATE_FRACTION`` x (real HQ accuracy - chance))."""
    result = {}
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        chance, ceiling = _reference(references, dataset)
        threshold = chance + GATE_FRACTION * (ceiling - chance)
        for ss in SS_LEVELS:
            for init in INITS:
                found = [r["accuracy"] for r in rows if (r["dataset"], r["setting"], r["self_supervision"], r["init"])
                         == (dataset, "hq-100", ss, init)]
                if found:
                    result[dataset, ss, init] = engine.floor_gate(gate_name(ss, init), float(np.mean(found)), threshold)
    return result


def _comparisons(rows: list[dict]):
    """(claim, treatment, control, where, treatment rows, control rows, baseline keys) of every
    comparison of one dataset's rows, in the registered order."""
    def select(setting, ss, init):
        return [r for r in rows if (r["setting"], r["self_supervision"], r["init"]) == (setting, ss, init)]
    for init in INITS:
        for ss in SS_LEVELS:
            for claim, (treatment, control, _) in enumerate(SETTING_CLAIMS, 1):
                yield (claim, treatment, control, f"{init}, SS {ss}", select(treatment, ss, init),
                       select(control, ss, init), [(ss, init)])
    for setting in SETTINGS:
        for init in INITS:
            yield (SS_CLAIM, "SS on", "SS off", f"{setting}, {init}", select(setting, "on", init),
                   select(setting, "off", init), [("on", init), ("off", init)])
        for ss in SS_LEVELS:
            yield (INIT_CLAIM, "primitives-ps", runs.SCRATCH, f"{setting}, SS {ss}", select(setting, ss, "primitives-ps"),
                   select(setting, ss, runs.SCRATCH), [(ss, "primitives-ps"), (ss, runs.SCRATCH)])


def claims(rows: list[dict], references: list[dict]) -> list[dict]:
    """Every comparison whose arms both ran, dataset by dataset, as rows of ``eval.claims.COLUMNS``
    (``references``: ``REFERENCE_COLUMNS`` rows of each dataset): class accuracy decided by the
    interval rule under the hq-100 gates of its arms, then the effects on the removed classes'
    accuracy and on FID as descriptive rows under the same gates."""
    gate = gates(rows, references)
    table = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        chosen = [r for r in rows if r["dataset"] == dataset]
        for claim, treatment, control, where, a, b, baselines in _comparisons(chosen):
            if not (a and b) or not all((dataset, *key) in gate for key in baselines):
                continue
            named = [gate[dataset, *key] for key in baselines]
            for outcome in (OUTCOME, *SECONDARY):
                table.append(engine.compare(claim, f"{dataset}: {where}", treatment, control, outcome,
                                            [r[outcome] for r in a], [r[outcome] for r in b],
                                            engine.INTERVAL if outcome == OUTCOME else engine.DESCRIPTIVE, named))
    return table


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 08's numbers from ``many_classes.csv``, ``many_classes_reference.csv`` and
    ``many_classes_claims.csv``: each (dataset, setting, SS, init) over its seeds, the real images
    scored alike with each dataset's gate threshold, then the claims with their intervals, gates and
    verdicts."""
    figures_dir = Path(figures_dir)
    rows = tables.csv_rows(figures_dir / "many_classes.csv")
    references = tables.csv_rows(figures_dir / "many_classes_reference.csv")
    claim_rows = tables.csv_rows(figures_dir / "many_classes_claims.csv")
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
    real = []
    for r in references:
        chance, ceiling = _reference(references, r["dataset"])
        real.append({"dataset": r["dataset"], "images": r["images"], "accuracy": tables.number(r["accuracy"], 3),
                     "removed classes' accuracy": tables.number(r["removed_accuracy"], 3),
                     "FID": tables.number(r["fid"], 1), "intra-class FID": tables.number(r["intra_fid"], 1),
                     "chance": tables.number(chance, 3),
                     "gate threshold": tables.number(chance + GATE_FRACTION * (ceiling - chance), 3)
                     if r["images"] == REAL_IMAGES["hq"] else ""})
    by_comparison: dict[tuple, dict] = {}
    for r in claim_rows:
        by_comparison.setdefault((r["claim"], r["where"], r["treatment"], r["control"]), {})[r["outcome"]] = r
    verdicts = []
    for (claim, where, treatment, control), found in by_comparison.items():
        primary = found[OUTCOME]
        verdicts.append({
            "claim": f"{int(claim)}. {CLAIMS[int(claim) - 1]}", "where": where,
            "treatment vs control": f"{treatment} vs {control}",
            "units": f"{int(primary['units_treatment'])} / {int(primary['units_control'])}",
            "accuracy": f"{tables.number(primary['treatment_mean'], 3)} vs {tables.number(primary['control_mean'], 3)}",
            "effect on accuracy [95%]": tables.interval(primary["effect"], primary["low"], primary["high"], 3),
            **{heading: tables.interval(found[outcome]["effect"], found[outcome]["low"], found[outcome]["high"], digits)
               for heading, outcome, digits in (("on removed classes [95%]", "removed_accuracy", 3),
                                                ("effect on FID [95%]", "fid", 1)) if outcome in found},
            "gates": primary["gates"], "verdict": primary["verdict"]})
    return {"Each setting, self-supervision and init, mean ± s.d. over seeds": summary,
            "Real test images scored like the runs, and each dataset's gate threshold": real,
            "The claims: accuracy of treatment vs control, effects with Welch 95% intervals": verdicts}
