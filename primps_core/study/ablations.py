"""The synthesizer ablation behind notebook 05: which parts of Primitives-PS help transfer.

A *setting* is a pretraining source with synthesizer options (or scratch). Its *units* are
replicated as in the decisive experiment (``study.decisive``): unit ``u`` is the setting's
pretraining run with seed ``u``, fine-tuned on ``TARGET`` with fine-tuning seed ``u``. Two
families, both on ``TARGET`` (a colour photo target of the decisive experiment):

- ``COMPONENTS``: the paper's ladder, ``ps-noise`` -> ``primitives`` -> ``primitives-s`` ->
  ``primitives-ps``, with scratch as the floor and natural patches as the reference. Claim 3 of
  ``figures/design.json`` (each rung beats the one before it) is decided on it
  (``decisive.ladder_claims``).
- ``KNOBS``: ``primitives-ps`` with one synthesizer option changed (alpha law, number of shapes,
  anti-aliasing, shape texture): descriptive, with the preset's ``knob_units`` each.

The decisive experiment's arms (scratch, natural patches, primitives-ps) are its runs, reused as
they are, with their units. The new runs are scored once, at the end: scoring never changes how a
run trains (its random streams are separate), so their final scores compare with the shared ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..eval import claims as engine
from ..presets import get_preset
from . import decisive, runs, tables
from .pipeline import Context, Job, StageResult
from .runs import SCRATCH

TARGET = decisive.PRIMARY_TARGETS[0]
ABLATION_EVALS = 1                 # new runs: one evaluation, at the end
COLUMNS = ("setting", "target", "unit", "iters", "fid", "kid_mean", "kid_std")


@dataclass(frozen=True)
class Setting:
    """A named pretraining source: ``init`` (a source or scratch) with synthesizer ``options``."""
    name: str
    init: str
    options: tuple = ()

    @property
    def decisive(self) -> bool:
        """An arm of the decisive experiment: its runs and units are that experiment's."""
        return self.init in decisive.ARMS and not self.options

    def units(self, preset: str, family: str) -> int:
        """Units of this setting in ``family`` at ``preset``."""
        if self.decisive:
            return decisive.units(preset)[self.init]
        sizes = get_preset(preset)
        return sizes.ladder_units if family == "components" else sizes.knob_units

    def job(self, unit: int, preset: str) -> Job:
        """Unit ``unit``'s transfer run on ``TARGET`` (the decisive experiment's own for its arms)."""
        return runs.transfer_job(TARGET, self.init, preset, seed=runs.unit_seed(unit), pretrain_seed=runs.unit_seed(unit),
                                 init_options=self.options,
                                 evals=None if self.decisive else ABLATION_EVALS)

    def pretrain_job(self, unit: int, preset: str) -> Job:
        """Unit ``unit``'s pretraining run (scored at the preset's evaluations, as every pretraining run)."""
        return Job(runs.pretrain_stage, self.job(unit, preset).config.init, preset)


COMPONENTS = (
    Setting("scratch", SCRATCH),
    Setting("ps-noise", "ps-noise"),
    Setting("primitives", "primitives"),
    Setting("primitives-s", "primitives-s"),
    Setting("primitives-ps", "primitives-ps"),
    Setting("natural-patches", "natural-patches"),
)
DESIGN = decisive.DESIGN             # claim 3 of figures/design.json
LADDER = ("ps-noise", "primitives", "primitives-s", "primitives-ps")    # claim 3's rungs, in order
KNOBS = (                          # the default, then the knobs; a preset runs its first ``knobs`` of them
    Setting("primitives-ps", "primitives-ps"),
    Setting("alpha law: natural", "primitives-ps", (("alpha_law", "natural"),)),
    Setting("solid shapes", "primitives-ps", (("shape_texture", "solid"),)),
    Setting("10 shapes", "primitives-ps", (("n_shapes", 10),)),
    Setting("300 shapes", "primitives-ps", (("n_shapes", 300),)),
    Setting("anti-aliased", "primitives-ps", (("antialias", True),)),
)
REFERENCES = ("scratch", "natural-patches")      # drawn as reference lines beside the knobs
FAMILIES = {"components": COMPONENTS, "knobs": KNOBS + tuple(s for s in COMPONENTS if s.name in REFERENCES)}


def settings(family: str, preset: str) -> tuple[Setting, ...]:
    """The settings of ``family`` that ``preset`` runs (every component; the default, its first
    ``knobs`` knobs and the references)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    skipped = KNOBS[1 + get_preset(preset).knobs:] if family == "knobs" else ()
    return tuple(s for s in FAMILIES[family] if s not in skipped)


def plan(preset: str) -> list[tuple[dict, Job]]:
    """Every (labels, job) of the ablation at ``preset``: each setting of each family, over its units."""
    return [({"family": name, "setting": setting.name, "target": TARGET, "unit": unit}, setting.job(unit, preset))
            for name in FAMILIES for setting in settings(name, preset)
            for unit in range(setting.units(preset, name))]


def rows(plan_: list[tuple[dict, Job]], results: list[StageResult]) -> list[dict]:
    """Every evaluation of every run (``COLUMNS``; a run two families share appears once)."""
    unique = {}
    for (labels, _), result in zip(plan_, results):
        for point in result.value["curve"]:
            row = {"setting": labels["setting"], "target": labels["target"], "unit": labels["unit"],
                   "iters": point["iteration"], **{key: point[key] for key in runs.SCORES}}
            unique[row["setting"], row["unit"], row["iters"]] = row
    return list(unique.values())


def final(rows_: list[dict]) -> list[dict]:
    """Each run's last evaluation."""
    last = {}
    for row in rows_:
        key = row["setting"], row["unit"]
        if key not in last or row["iters"] > last[key]["iters"]:
            last[key] = row
    return list(last.values())


def family(rows_: list[dict], name: str) -> list[dict]:
    """The final rows of the settings of ``name`` (components or knobs)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; expected one of {', '.join(FAMILIES)}")
    names = {s.name for s in FAMILIES[name]}
    return [row for row in final(rows_) if row["setting"] in names]


def ladder_pretrain_rows(preset: str, context: Context | None = None) -> list[dict]:
    """Every evaluation of every pretraining run of the ladder's rungs (labelled ``arm``, ``unit``),
    for claim 3's pretraining gate."""
    planned = [({"arm": s.name, "unit": unit}, s.pretrain_job(unit, preset))
               for s in COMPONENTS if s.name in LADDER for unit in range(s.units(preset, "components"))]
    return decisive.curve_rows([labels for labels, _ in planned], [job.run(context) for _, job in planned])


def claims(rows_: list[dict], pretrain_rows: list[dict]) -> list[dict]:
    """Claim 3's rows of ``figures/claims.csv`` from the ablation's rows (scratch's curve gives the
    convergence gate) and the ladder's pretraining curves, decided through the claims engine
    (``decisive.ladder_claims``)."""
    curves = [{"target": r["target"], "arm": r["setting"], "unit": r["unit"], "iteration": r["iters"],
               "kid_mean": r["kid_mean"]} for r in rows_]
    return decisive.ladder_claims(curves, pretrain_rows, LADDER, TARGET)


def comparisons(rows_: list[dict], baseline: str, names) -> list[dict]:
    """Each setting of ``names`` against ``baseline`` by final KID over units: the difference of
    means with its 95% Welch interval and the exact permutation p (descriptive: no claim rests on it)."""
    finals = final(rows_)
    kids = {name: [r["kid_mean"] for r in finals if r["setting"] == name] for name in [baseline, *names]}
    out = []
    for name in names:
        row = engine.compare("", TARGET, name, baseline, "final KID", kids[name], kids[baseline], engine.DESCRIPTIVE)
        out.append({"setting": name, "units": len(kids[name]), "kid_difference": row["effect"], "low": row["low"],
                    "high": row["high"], "p": row["p"]})
    return out


def pretraining_table(preset: str, context: Context | None = None) -> list[dict]:
    """Rows of ``ablation_pretraining.csv``: each pretraining run of a setting (unit by unit), its final
    FID and KID against held-out images of its own source (how well it learned its synthetic data)."""
    run = {s.name: s for family in FAMILIES for s in settings(family, preset) if s.init != SCRATCH}
    out = []
    for name, setting in run.items():
        units = max(setting.units(preset, family) for family in FAMILIES if setting in settings(family, preset))
        for unit in range(units):
            value = setting.pretrain_job(unit, preset).run(context).value
            out.append({"setting": name, "unit": unit, "pretrain_fid": value["fid"], "pretrain_kid": value["kid_mean"]})
    return out


def _mean_sd(values, digits: int) -> str:
    values = [float(v) for v in values]
    return tables.plus_minus(sum(values) / len(values), float(np.std(values, ddof=1)) if len(values) > 1 else
                             float("nan"), digits)


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 05's numbers, from ``ablation.csv`` and ``ablation_pretraining.csv``."""
    figures_dir = Path(figures_dir)
    rows = tables.csv_rows(figures_dir / "ablation.csv")
    pretrained = tables.csv_rows(figures_dir / "ablation_pretraining.csv")

    def table(name: str, baseline_of) -> tables.Table:
        finals, out = family(rows, name), []
        for setting in [s.name for s in FAMILIES[name] if any(r["setting"] == s.name for r in finals)]:
            own = [r for r in finals if r["setting"] == setting]
            source = [r["pretrain_fid"] for r in pretrained if r["setting"] == setting]
            row = {"setting": setting, "units": len(own), "final FID": _mean_sd([r["fid"] for r in own], 1),
                   "final KID": _mean_sd([r["kid_mean"] for r in own], 3)}
            baseline = baseline_of(setting)
            if baseline:
                (compared,) = comparisons(rows, baseline, [setting])
                row.update({"against": baseline, "KID difference [95%]": tables.interval(
                    compared["kid_difference"], compared["low"], compared["high"], 3), "p": tables.p_value(compared["p"])})
            row["pretraining FID"] = _mean_sd(source, 0) if source else ""
            out.append(row)
        return out

    def previous_rung(setting: str) -> str | None:
        return LADDER[LADDER.index(setting) - 1] if setting in LADDER[1:] else None

    def default(setting: str) -> str | None:
        return KNOBS[0].name if setting not in (KNOBS[0].name, *REFERENCES) else None

    return {f"Components on {TARGET}: final FID and KID (mean ± s.d. over units); each rung against the one "
            "before it (claim 3)": table("components", previous_rung),
            f"Knobs of {KNOBS[0].name} on {TARGET}, against the default (descriptive)": table("knobs", default)}
