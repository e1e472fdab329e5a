"""Notebook 06, membership inference: who can be recognised as training data, and from what.

Three experiments, each a model, its members (what it trained on), non-members (held out from the
same distribution) and a reference model (trained the same way on a third, disjoint part: the
calibrated attack subtracts how easily any such model reproduces a query):

- ``photos``: the natural-patches pretraining runs. Members: crops of its pretraining
  photos; non-members: crops of the held-out photos; reference: a natural-patches run on the
  ``reference`` photos (``data.photos.photo_split``).
- ``synthetic``: the primitives-ps pretraining runs, attacked on the same photos. It never saw a
  photo, so no attack can tell those members from non-members: that is what "privacy-free"
  pretraining buys. Also attacked on its own synthetic training images against fresh ones.
- ``transfer``: fine-tuning on the ``members`` half of a low-shot target
  (``data.photos.membership_split``) from scratch, natural-patches and primitives-ps; non-members:
  the target's held-out quarter; reference: the same init fine-tuned on the other quarter.

Every model is replicated ``UNITS`` times, as the decisive experiment's arms: unit ``u`` is
pretraining run ``u`` (notebooks 03-04 train them) and, for the fine-tuned models, fine-tuning
seed ``u``. The photo reference model is one run: it calibrates the queries, it is not attacked.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import sources
from ..data.photos import membership_split, natural_patches
from ..eval import membership
from ..presets import get_preset
from . import decisive, runs, scheduler, tables
from .pipeline import Context, Job
from .runs import SCRATCH

TARGET = decisive.PRIMARY_TARGETS[0]      # a colour photo target
INITS = (SCRATCH, "natural-patches", "primitives-ps")
QUERY_START = 2 * 10**9          # crops and synthetic images no run trained or was scored on
SEED = 0                         # the attacks' samples and the photo crops
UNITS = 2                        # pretraining seeds per model (unit u: pretraining run u, fine-tuned with seed u)
QUERIES = 500                    # photo crops (and synthetic images) per side
SAMPLES = 10_000                 # generated images the black-box attacks search
ATTACKS = ("gan-leaks", "gan-leaks calibrated", "monte-carlo", "logan")
COLUMNS = ("experiment", "init", "unit", "attack", "auc", "auc_lo", "auc_hi", "tpr_at_1fpr", "tpr_at_10fpr")
FILE = "membership_inference.csv"
DESIGN = None      # withdrawn at design version 3 of figures/design.json: no registered claims until it is re-registered


def photo_reference_job(preset: str) -> Job:
    """The natural-patches run on the reference photos, trained exactly like notebook 03's."""
    return runs.pretrain_job("natural-patches", preset, source_options=(("split", "reference"),))


def transfer_jobs(preset: str, part: str, unit: int) -> dict[str, Job]:
    """Per init, unit ``unit``'s fine-tuning run on ``part`` (members or reference) of ``TARGET``
    (from pretraining run ``unit``, fine-tuning seed ``unit``), scored once."""
    return {init: runs.transfer_job(TARGET, init, preset, seed=runs.unit_seed(unit), pretrain_seed=runs.unit_seed(unit),
                                    target_options=(("part", part),), evals=1)
            for init in INITS}


def plan(preset: str) -> list[tuple[dict, Job]]:
    """Every run the study trains, with its labels (the pretraining runs it attacks come from
    notebooks 03-04)."""
    return [({"model": "photo reference"}, photo_reference_job(preset)),
            *(({"model": "fine-tuned", "part": part, "init": init, "unit": unit}, job) for unit in range(UNITS)
              for part in ("members", "reference") for init, job in transfer_jobs(preset, part, unit).items())]


def photo_queries(preset: str, n: int) -> dict[str, np.ndarray]:
    """``n`` fresh crops of the member (pretrain) photos and ``n`` of the held-out photos."""
    resolution = get_preset(preset).train_resolution
    return {name: natural_patches(n, resolution=resolution, seed=SEED, start=QUERY_START, split=split)
            for name, split in (("members", "pretrain"), ("nonmembers", "heldout"))}


def target_queries(preset: str) -> dict[str, np.ndarray]:
    """``TARGET``'s member and non-member images at the preset's resolution."""
    images = sources.load_images(TARGET, get_preset(preset).train_resolution)
    parts = membership_split(len(images))
    return {name: images[parts[name]] for name in ("members", "nonmembers")}


def synthetic_queries(preset: str, source: str = "primitives-ps", n: int = QUERIES, unit: int = 0) -> dict[str, np.ndarray]:
    """``n`` of the synthetic images ``source``'s pretraining run ``unit`` trained on, and ``n`` it never saw."""
    train = runs.pretrain_config(source, preset, seed=runs.unit_seed(unit)).train
    images = sources.image_stream(train.source, train.model.resolution, train.seed)
    return {"members": images(0, n), "nonmembers": images(QUERY_START, n)}


def attack(generator, discriminator, queries: dict[str, np.ndarray], reference=None,
           n_samples: int = SAMPLES) -> dict[str, membership.AttackScores]:
    """Every attack on one model: the black-box ones on one set of its samples, the calibrated one
    when a ``reference`` generator is given, LOGAN when a discriminator is."""
    members, nonmembers = queries["members"], queries["nonmembers"]
    samples = membership.as_samples(generator, n_samples, seed=SEED)
    scores = {"gan-leaks": membership.gan_leaks(samples, members, nonmembers)}
    if reference is not None:
        reference_samples = membership.as_samples(reference, n_samples, seed=SEED)
        scores["gan-leaks calibrated"] = membership.gan_leaks_calibrated(samples, reference_samples, members, nonmembers)
    scores["monte-carlo"] = membership.monte_carlo(samples, members, nonmembers)
    if discriminator is not None:
        scores["logan"] = membership.logan(discriminator, members, nonmembers)
    return scores


def rows(attacked: dict[tuple[str, str, int], dict[str, membership.AttackScores]]) -> list[dict]:
    """One row per (query set, model, unit, attack) of ``attack_models``' result, with ``COLUMNS``
    (plus the set sizes): AUC with its bootstrap interval, TPR at 1% and 10% FPR."""
    return [{"experiment": experiment, "init": init, "unit": unit, "attack": name,
             **{key: round(value, 4) for key, value in membership.summary(result).items()}}
            for (experiment, init, unit), scores in attacked.items() for name, result in scores.items()]


def attack_models(preset: str, context: Context | None = None) -> dict[tuple[str, str, int], dict[str, membership.AttackScores]]:
    """Train (or load) every model of the study and attack it on its queries.

    Keys are (query set, model's init, unit): photos and synthetic images against the pretraining
    runs, ``TARGET``'s members against each fine-tuned model; values map attack names to scores."""
    scheduler.run_jobs([job for _, job in plan(preset)], context=context)
    generator, discriminator = runs.load_generator, runs.load_discriminator
    photo_reference = generator(photo_reference_job(preset).run(context))
    photos, shots = photo_queries(preset, QUERIES), target_queries(preset)
    found = {}
    for unit in range(UNITS):
        natural, synthetic = (runs.pretrain(source, preset, seed=runs.unit_seed(unit), context=context)
                              for source in ("natural-patches", "primitives-ps"))
        found["photos", "natural-patches", unit] = attack(generator(natural), discriminator(natural), photos,
                                                          photo_reference)
        found["photos", "primitives-ps", unit] = attack(generator(synthetic), discriminator(synthetic), photos,
                                                        photo_reference)
        found["synthetic", "primitives-ps", unit] = attack(generator(synthetic), discriminator(synthetic),
                                                           synthetic_queries(preset, unit=unit))
        references = transfer_jobs(preset, "reference", unit)
        for init, job in transfer_jobs(preset, "members", unit).items():
            run = job.run(context)
            found[TARGET, init, unit] = attack(generator(run), discriminator(run), shots,
                                               generator(references[init].run(context)))
    return found


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 06's numbers, from ``FILE``: AUC with its 95% bootstrap interval and TPR at 1% and
    10% FPR, per (queries, model) and attack."""
    rows = tables.csv_rows(Path(figures_dir) / FILE)
    order = list(dict.fromkeys((row["experiment"], row["init"]) for row in rows))
    models = sorted({(row["experiment"], row["init"], int(row["unit"])) for row in rows},
                    key=lambda model: (order.index(model[:2]), model[2]))
    found = {(row["experiment"], row["init"], int(row["unit"]), row["attack"]): row for row in rows}

    def cells(model, form) -> dict:
        return {attack: form(found[(*model, attack)]) if (*model, attack) in found else "" for attack in ATTACKS}
    auc = [{"members vs non-members": model[0], "model": model[1], "unit": model[2],
            **cells(model, lambda r: f"{r['auc']:.2f} [{r['auc_lo']:.2f}, {r['auc_hi']:.2f}]")} for model in models]
    tpr = [{"members vs non-members": model[0], "model": model[1], "unit": model[2],
            **cells(model, lambda r: f"{r['tpr_at_1fpr']:.0%} / {r['tpr_at_10fpr']:.0%}")} for model in models]
    return {"Membership AUC, 95% bootstrap interval over the queries": auc,
            "True-positive rate at 1% / 10% false positives": tpr}
