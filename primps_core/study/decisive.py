"""The decisive transfer experiment: the central comparison of ``figures/design.json``, run,
scored and decided (notebook 04; ``scripts/device_study.sh`` at the gpu-short preset).

Three arms: Primitives-PS pretraining, natural-image pretraining and scratch. The unit of
replication is the pretraining seed: unit ``u`` of a pretrained arm is the pretraining run with
seed ``runs.unit_seed(u)``, fine-tuned once per primary target with that fine-tuning seed; unit
``u`` of scratch is a fresh GAN with that seed. The preset's ``decisive_units`` says how many units each arm has.

``transfer_plan`` and ``pretrain_plan`` list the runs; ``curve_rows`` turns finished runs into
rows (every evaluation of every run); ``claims`` applies the registered design to those rows: the
primary outcome (final KID), the gates and the verdict rule of the claims engine
(``eval.claims``), one row per claim and target plus one per claim over all primary targets.
``run`` does all of it and writes the CSVs (``viz.plots.decisive_figures`` draws its figures).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import sources
from ..eval import claims as engine
from ..gan.sampling import sample_images
from ..paths import write_csv
from ..presets import get_preset
from . import design, runs, scheduler, tables
from .pipeline import Context, Job, StageResult

PRIMARY_TARGETS = ("landscapes", "galaxies")
PS, NATURAL, SCRATCH = "primitives-ps", sources.NATURAL, runs.SCRATCH
ARMS = (PS, NATURAL, SCRATCH)
ALL_TARGETS = "all primary targets"
OUTCOME = "final KID"
MARGIN_FRACTION = 0.1           # claim 2's non-inferiority margin: this share of the control's mean outcome


@dataclass(frozen=True)
class GateRules:
    """How a design version's gates read the curves (``figures/design.json``)."""
    pretraining_tolerance: float = 0.0   # a run's last KID may be this much above its KID at a third of the run
    convergence_tolerance: float = 0.0   # the change of scratch's mean KID over the last third allowed beyond the fraction
    two_sided: bool = False              # a curve still moving either way over the last third has not plateaued


# Versions 1-3: no tolerance, a rise over the last third passes. Version 4: tolerances from the noise of
# one evaluation (pilot d), a real plateau.
GATE_RULES = {1: GateRules(), 2: GateRules(), 3: GateRules(), 4: GateRules(0.01, 0.005, True)}
RULES = GATE_RULES[design.DESIGN.current()["version"]]
DESIGN = design.DESIGN


def units(preset: str) -> dict[str, int]:
    """Units of replication per arm at ``preset``."""
    return dict(zip(ARMS, get_preset(preset).decisive_units))


def transfer_plan(preset: str) -> list[tuple[dict, Job]]:
    """Every (labels, job) of the comparison: one fine-tuning run per (target, arm, unit)."""
    counts = units(preset)
    return [({"target": target, "arm": arm, "unit": unit},
             runs.transfer_job(target, arm, preset, seed=runs.unit_seed(unit), pretrain_seed=runs.unit_seed(unit)))
            for target in PRIMARY_TARGETS for arm in ARMS for unit in range(counts[arm])]


def pretrain_plan(preset: str) -> list[tuple[dict, Job]]:
    """Every (labels, job) of the pretraining runs the pretrained arms start from."""
    counts = units(preset)
    return [({"arm": arm, "unit": unit}, runs.pretrain_job(arm, preset, seed=runs.unit_seed(unit)))
            for arm in (PS, NATURAL) for unit in range(counts[arm])]


def curve_rows(labels: list[dict], results: list[StageResult]) -> list[dict]:
    """Every evaluation of every run: its labels, iteration, FID and KID (mean and std over subsets)."""
    return [{**label, "iteration": point["iteration"], "fid": point["fid"], "kid_mean": point["kid_mean"],
             "kid_std": point["kid_std"]}
            for label, result in zip(labels, results) for point in result.value["curve"]]


def _curves(rows: list[dict], **match) -> dict[int, list[dict]]:
    """The rows matching ``match``, grouped by unit and sorted by iteration."""
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        if all(row[key] == value for key, value in match.items()):
            grouped.setdefault(int(row["unit"]), []).append(row)
    return {unit: sorted(points, key=lambda p: p["iteration"]) for unit, points in sorted(grouped.items())}


def final_kids(rows: list[dict], target: str, arm: str) -> list[float]:
    """The primary outcome of each unit of ``arm`` on ``target``: KID at its last evaluation."""
    return [points[-1]["kid_mean"] for points in _curves(rows, target=target, arm=arm).values()]


def pretraining_gate(pretrain_rows: list[dict], arms, rules: GateRules = RULES) -> engine.Gate:
    """Every pretraining run of ``arms`` has learned its source (``engine.learned_gate``)."""
    curves = [([p["iteration"] for p in points], [p["kid_mean"] for p in points])
              for arm in arms for points in _curves(pretrain_rows, arm=arm).values()]
    return engine.learned_gate("pretraining", curves, tolerance=rules.pretraining_tolerance)


def convergence_gate(transfer_rows: list[dict], target: str, rules: GateRules = RULES) -> engine.Gate:
    """Scratch has plateaued on ``target``: ``engine.plateau_gate`` by ``rules`` (the current
    design's: two-sided, with its tolerance) on its mean KID curve over units."""
    curves = list(_curves(transfer_rows, target=target, arm=SCRATCH).values())
    iterations = [p["iteration"] for p in curves[0]]
    if any([p["iteration"] for p in points] != iterations for points in curves):
        raise ValueError(f"scratch runs on {target} were not evaluated at the same iterations")
    mean = [sum(points[k]["kid_mean"] for points in curves) / len(curves) for k in range(len(iterations))]
    return engine.plateau_gate("convergence", iterations, mean, tolerance=rules.convergence_tolerance,
                               two_sided=rules.two_sided)


def _registered(claim_id: int) -> dict:
    return next(claim for claim in DESIGN.current()["claims"] if claim["id"] == claim_id)


def _comparison(claim_id: int, kind: str, target: str, treatment: str, control: str, rows: list[dict], gates: list,
                adjusted_p: float | None = None) -> dict:
    """``treatment`` against ``control`` on ``target`` by final KID over their units, decided by
    the registered rule of ``kind`` under ``gates`` (claim 2's margin: ``MARGIN_FRACTION`` of the
    control's mean)."""
    treated, baseline = final_kids(rows, target, treatment), final_kids(rows, target, control)
    margin = MARGIN_FRACTION * sum(baseline) / len(baseline) if kind == engine.NON_INFERIORITY else None
    return engine.compare(claim_id, target, treatment, control, OUTCOME, treated, baseline, kind, gates,
                          adjusted_p=adjusted_p, margin=margin)


def claims(transfer_rows: list[dict], pretrain_rows: list[dict], targets=PRIMARY_TARGETS,
           rules: GateRules = RULES) -> list[dict]:
    """Claims 1 (Primitives-PS beats scratch) and 2 (it matches or beats natural-image pretraining)
    per target and over all of them, in the claims format (``engine.COLUMNS``), by the registered
    design: superiority by the exact permutation test, Holm-adjusted over the targets;
    non-inferiority by the Welch interval against a margin of ``MARGIN_FRACTION`` of the control's
    mean final KID; each verdict untested unless both gates pass (read by ``rules``: the current
    design version's, or an earlier one's to recompute its results)."""
    out = []
    for claim_id, control in ((1, SCRATCH), (2, NATURAL)):
        kind = _registered(claim_id)["kind"]
        pretrained = pretraining_gate(pretrain_rows, [PS] + ([NATURAL] if control == NATURAL else []), rules)
        adjusted = engine.adjusted_p([(final_kids(transfer_rows, target, PS), final_kids(transfer_rows, target, control))
                                      for target in targets])
        rows = [_comparison(claim_id, kind, target, PS, control, transfer_rows,
                            [pretrained, convergence_gate(transfer_rows, target, rules)],
                            p_adjusted if kind == engine.SUPERIORITY else None)
                for target, p_adjusted in zip(targets, adjusted)]
        out += rows + [engine.overall(claim_id, ALL_TARGETS, PS, control, rows)]
    return out


def ladder_claims(transfer_rows: list[dict], pretrain_rows: list[dict], ladder, target: str) -> list[dict]:
    """Claim 3 (each component helps) on ``target``: each rung of ``ladder`` against the rung before
    it by the exact permutation test at the registered level, unadjusted (the claim holds only if
    every rung holds, an intersection-union test), then the claim over all rungs. Gates: every
    rung's pretraining runs learned their source; scratch converged on ``target``."""
    gates = [pretraining_gate(pretrain_rows, ladder), convergence_gate(transfer_rows, target)]
    rows = [_comparison(3, engine.SUPERIORITY, target, rung, before, transfer_rows, gates)
            for before, rung in zip(ladder, ladder[1:])]
    return rows + [engine.overall(3, target, "each rung", "the rung before it", rows)]


def claim_table(rows: list[dict]) -> tables.Table:
    """Claims rows (as ``claims`` returns them or read back from ``claims.csv``) formatted for
    reading: the comparison, the units, each side's mean final KID, the effect with its 95%
    interval, p (Holm-adjusted where the design adjusts), the gates and the verdict."""
    def present(value) -> bool:
        return value not in ("", None)

    out = []
    for row in rows:
        compared = present(row.get("units_treatment"))
        gates = engine.gate_states(row["gates"])
        out.append({"claim": int(row["claim"]), "target": row["where"],
                    "comparison": f"{row['treatment']} vs {row['control']}",
                    "units": f"{int(float(row['units_treatment']))} / {int(float(row['units_control']))}" if compared else "",
                    "KID": (f"{tables.number(row['treatment_mean'], 3)} vs {tables.number(row['control_mean'], 3)}"
                            if compared else ""),
                    "effect [95%]": tables.interval(row["effect"], row["low"], row["high"], 3) if compared else "",
                    "p": tables.p_value(row["p_adjusted"] if present(row.get("p_adjusted")) else row["p"])
                    if compared else "",
                    "margin": tables.number(row["margin"], 3) if present(row.get("margin")) else "",
                    **{f"{name} gate": "passes" if passes else "fails" for name, passes in gates.items()},
                    "verdict": row["verdict"]})
    return out


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """The claims table of ``claims.csv`` (notebook 04 writes claims 1-2, notebook 05 claim 3)."""
    return {"The claims, decided by the registered design (figures/design.json)":
            claim_table(engine.read(Path(figures_dir) / FILES["claims"]))}


# ---------------------------------------------------------------------------------------------
# Running it end to end (notebook 04 and scripts/device_study.sh).

FILES = {"pretrain": "decisive_pretrain_curves.csv", "transfer": "decisive_transfer_curves.csv",
         "claims": "claims.csv", "curves": "04_decisive_curves", "samples": "04_decisive_samples"}


def run(preset: str, out_dir: Path, context: Context | None = None) -> dict:
    """Train (or load) every run of the comparison, writing its rows to ``out_dir`` as they come:
    the pretraining curves first, the transfer curves after each target, the claims at the end.
    Returns the rows ({"pretrain", "transfer", "claims"}) and ``samples``' images for the figures
    (``viz.plots.decisive_figures``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = pretrain_plan(preset)
    pretrain = curve_rows([labels for labels, _ in planned], scheduler.run_jobs([job for _, job in planned], context=context))
    write_csv(out_dir / FILES["pretrain"], pretrain)
    transfer, finished = [], {}
    for target in PRIMARY_TARGETS:
        planned = [(labels, job) for labels, job in transfer_plan(preset) if labels["target"] == target]
        results = scheduler.run_jobs([job for _, job in planned], context=context)
        transfer += curve_rows([labels for labels, _ in planned], results)
        finished.update((job, result) for (_, job), result in zip(planned, results))
        write_csv(out_dir / FILES["transfer"], transfer)
    rows = claims(transfer, pretrain)
    engine.update(out_dir / FILES["claims"], rows)
    return {"pretrain": pretrain, "transfer": transfer, "claims": rows, "samples": samples(preset, finished)}


def arm_curves(rows: list[dict], **match) -> dict[str, list[tuple[list, list]]]:
    """Per arm, each unit's (iterations, KIDs) among the rows matching ``match``."""
    return {arm: [([p["iteration"] for p in points], [p["kid_mean"] for p in points])
                  for points in _curves(rows, arm=arm, **match).values()] for arm in ARMS}


def samples(preset: str, finished: dict, n: int = 8) -> dict[str, np.ndarray]:
    """Per primary target: real images, then unit 0's final samples of each arm."""
    rows = {}
    resolution = get_preset(preset).train_resolution
    for target in PRIMARY_TARGETS:
        rows[f"{target}\n(real)"] = sources.load_images(target, resolution)[:n]
        for labels, job in transfer_plan(preset):
            if labels["target"] == target and labels["unit"] == 0:
                rows[f"{target}\n{labels['arm']}"] = sample_images(runs.load_generator(finished[job]), n, seed=1)
    return rows
