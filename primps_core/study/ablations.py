"""The synthesizer ablation behind notebook 05: which parts of Primitives-PS help transfer.

A *setting* is a pretraining source with synthesizer options (or scratch): the runs of a setting
fine-tune that one pretraining run on a target, over seeds, exactly as notebook 04's transfers.
Two families:

- ``COMPONENTS``: the paper's ladder, ``ps-noise`` -> ``primitives`` -> ``primitives-s`` ->
  ``primitives-ps``, with scratch as the floor and natural patches as the reference, on
  ``COMPONENT_TARGETS``.
- ``KNOBS``: ``primitives-ps`` with one synthesizer option changed (alpha law, number of shapes,
  anti-aliasing, shape texture), on ``KNOB_TARGET``.

Notebook 04 already ran scratch, natural-patches and primitives-ps on every target; those runs
are reused as they are. The new runs are scored once, at the end: scoring never changes how a run
trains (its random streams are separate), so their final scores compare with notebook 04's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..eval import transfer_tables
from ..presets import get_preset
from . import runs, tables, transfer
from .pipeline import Context, StageResult
from .runs import SCRATCH, Job

COMPONENT_TARGETS = ("faces-100", "emoji-animals")
KNOB_TARGET = "faces-100"
ABLATION_EVALS = 1                 # new runs: one evaluation, at the end
NOTEBOOK_04_INITS = (SCRATCH, "natural-patches", "primitives-ps")
COLUMNS = ("setting", "target", "seed", "iters", "fid", "kid_mean", "kid_std")


@dataclass(frozen=True)
class Setting:
    """A named pretraining source: ``init`` (a source or scratch) with synthesizer ``options``."""
    name: str
    init: str
    options: tuple = ()

    def job(self, target: str, seed: int, preset: str) -> Job:
        """The transfer run of this setting on ``target`` with fine-tuning seed ``seed``."""
        shared = self.init in NOTEBOOK_04_INITS and not self.options
        return runs.transfer_job(target, self.init, preset, seed=seed, init_options=self.options,
                                        evals=None if shared else ABLATION_EVALS)


COMPONENTS = (
    Setting("scratch", SCRATCH),
    Setting("ps-noise", "ps-noise"),
    Setting("primitives", "primitives"),
    Setting("primitives-s", "primitives-s"),
    Setting("primitives-ps", "primitives-ps"),
    Setting("natural-patches", "natural-patches"),
)
KNOBS = (
    Setting("primitives-ps", "primitives-ps"),
    Setting("alpha law: natural", "primitives-ps", (("alpha_law", "natural"),)),
    Setting("10 shapes", "primitives-ps", (("n_shapes", 10),)),
    Setting("300 shapes", "primitives-ps", (("n_shapes", 300),)),
    Setting("anti-aliased", "primitives-ps", (("antialias", True),)),
    Setting("solid shapes", "primitives-ps", (("shape_texture", "solid"),)),
)
REFERENCES = ("scratch", "natural-patches")      # drawn as reference lines beside the knobs


def _present(expected: list[str], found: list[str]) -> list[str]:
    """The settings a results file holds: those of ``expected`` in its order, then any others (a file
    written before a setting was renamed keeps its rows readable)."""
    return [name for name in expected if name in found] + [name for name in found if name not in expected]


def plan(preset: str, seeds: int | None = None) -> list[tuple[dict, Job]]:
    """Every (labels, job) of the ablation at ``preset``: components on ``COMPONENT_TARGETS``, knobs
    and the two references on ``KNOB_TARGET``, each over the preset's transfer seeds."""
    seeds = seeds or get_preset(preset).transfer_seeds
    references = tuple(s for s in COMPONENTS if s.name in REFERENCES)
    families = [("components", COMPONENTS, COMPONENT_TARGETS), ("knobs", KNOBS + references, (KNOB_TARGET,))]
    return [({"family": name, "setting": setting.name, "target": target, "seed": seed},
             setting.job(target, seed, preset))
            for name, settings, targets in families for setting in settings
            for target in targets for seed in range(seeds)]


def rows(plan_: list[tuple[dict, Job]], results: list[StageResult]) -> list[dict]:
    """One row per run with ``COLUMNS`` (a run two families share appears once)."""
    unique = {}
    for (labels, _), result in zip(plan_, results):
        row = {"setting": labels["setting"], "target": labels["target"], "seed": labels["seed"],
               "iters": result.value["iterations"], **{key: result.value[key] for key in runs.SCORES}}
        unique[row["setting"], row["target"], row["seed"]] = row
    return list(unique.values())


def family(rows_: list[dict], name: str) -> list[dict]:
    """The rows of the ``components`` or ``knobs`` family (knobs: every setting on ``KNOB_TARGET`` but
    the components that are neither the knobs' baseline nor a reference, so a results file written
    before a knob was renamed keeps its rows)."""
    if name == "components":
        names = {s.name for s in COMPONENTS}
        return [row for row in rows_ if row["setting"] in names and row["target"] in COMPONENT_TARGETS]
    if name == "knobs":
        others = {s.name for s in COMPONENTS} - set(REFERENCES) - {KNOBS[0].name}
        return [row for row in rows_ if row["setting"] not in others and row["target"] == KNOB_TARGET]
    raise ValueError(f"unknown family {name!r}; expected components or knobs")


def pretraining_fid(preset: str, context: Context | None = None) -> dict[str, float]:
    """Each knob's pretraining run's final FID against held-out images of its own source."""
    return {setting.name: Job("pretrain", runs.pretrain_config(setting.init, preset, source_options=setting.options),
                              preset).run(context).value["fid"] for setting in KNOBS}


def pretraining_table(preset: str, context: Context | None = None) -> list[dict]:
    """Each knob's pretraining FID as rows of ``ablation_pretraining.csv``."""
    return [{"setting": name, "pretrain_fid": fid} for name, fid in pretraining_fid(preset, context).items()]


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 05's numbers, from ``ablation.csv`` and ``ablation_pretraining.csv``."""
    figures_dir = Path(figures_dir)
    rows = tables.csv_rows(figures_dir / "ablation.csv")
    for row in rows:
        row["seed"] = int(row["seed"])
    pretrained = {row["setting"]: row["pretrain_fid"] for row in tables.csv_rows(figures_dir / "ablation_pretraining.csv")}
    scores = {(row["target"], row["setting"]): row for row in transfer_tables.summary(rows, by=("target", "setting"))}
    components = family(rows, "components")
    paired = {row["setting"]: row for row in transfer.paired_table(components, SCRATCH, "setting")}
    component_rows = [{"setting": setting.name,
                       **{f"{target} FID": tables.plus_minus(scores[target, setting.name]["fid_mean"],
                                                             scores[target, setting.name]["fid_std"], 1)
                          for target in COMPONENT_TARGETS},
                       **{key: paired.get(setting.name, {}).get(key, "") for key in
                          ("wins by FID", "FID minus scratch", "t-test p", "wins by KID", "KID t-test p")}}
                      for setting in COMPONENTS]
    knobs = family(rows, "knobs")
    baseline = KNOBS[0].name
    paired = {row["setting"]: row for row in transfer.paired_table(knobs, baseline, "setting")}
    knob_rows = [{"setting": name, "FID": tables.plus_minus(scores[KNOB_TARGET, name]["fid_mean"],
                                                            scores[KNOB_TARGET, name]["fid_std"], 1),
                  "KID": tables.plus_minus(scores[KNOB_TARGET, name]["kid_mean"], scores[KNOB_TARGET, name]["kid_std"], 3),
                  **{key: paired.get(name, {}).get(key, "") for key in
                     ("wins by FID", f"FID minus {baseline}", "t-test p")},
                  "pretraining FID": tables.number(pretrained[name], 0) if name in pretrained else ""}
                 for name in _present([s.name for s in KNOBS] + list(REFERENCES),
                                      list(dict.fromkeys(str(row["setting"]) for row in knobs)))]
    return {f"Components on {' and '.join(COMPONENT_TARGETS)}: final FID (mean ± s.d. over seeds), paired with scratch":
            component_rows,
            f"Knobs of {baseline} on {KNOB_TARGET}, paired with the default": knob_rows}
