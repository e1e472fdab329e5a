"""The decisive transfer experiment: the central comparison of ``figures/design.json``, run,
scored and decided (notebook 04; ``scripts/device_study.sh`` at the gpu-short preset).

Three arms: Primitives-PS pretraining, natural-image pretraining and scratch. The unit of
replication is the pretraining seed: unit ``u`` of a pretrained arm is the pretraining run with
seed ``u``, fine-tuned once per primary target with fine-tuning seed ``u``; unit ``u`` of scratch
is a fresh GAN with seed ``u``. The preset's ``decisive_units`` says how many units each arm has.

``transfer_plan`` and ``pretrain_plan`` list the runs; ``curve_rows`` turns finished runs into
rows (every evaluation of every run); ``claims`` applies the registered design to those rows: the
primary outcome (final KID), the gates and the verdict rule of ``eval.decision``, one row per
claim and target plus one per claim over all primary targets. ``run`` does all of it and writes
the CSVs (``viz.plots.decisive_figures`` draws its figures).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..data import sources
from ..eval import decision
from ..gan.training import sample_images
from ..paths import write_csv
from ..presets import get_preset
from . import design, runs, tables
from .pipeline import Context, StageResult

PRIMARY_TARGETS = ("landscapes", "galaxies")
PS, NATURAL, SCRATCH = "primitives-ps", sources.NATURAL, runs.SCRATCH
ARMS = (PS, NATURAL, SCRATCH)
CLAIM_COLUMNS = ("claim", "target", "treatment", "control", "kind", "units_treatment", "units_control",
                 "treatment_kid", "control_kid", "effect", "low", "high", "p", "p_adjusted", "margin",
                 "pretraining_gate", "convergence_gate", "verdict")
ALL_TARGETS = "all primary targets"


def units(preset: str) -> dict[str, int]:
    """Units of replication per arm at ``preset``."""
    return dict(zip(ARMS, get_preset(preset).decisive_units))


def transfer_plan(preset: str) -> list[tuple[dict, runs.Job]]:
    """Every (labels, job) of the comparison: one fine-tuning run per (target, arm, unit)."""
    counts = units(preset)
    return [({"target": target, "arm": arm, "unit": unit},
             runs.transfer_job(target, arm, preset, seed=unit, pretrain_seed=unit))
            for target in PRIMARY_TARGETS for arm in ARMS for unit in range(counts[arm])]


def pretrain_plan(preset: str) -> list[tuple[dict, runs.Job]]:
    """Every (labels, job) of the pretraining runs the pretrained arms start from."""
    counts = units(preset)
    return [({"arm": arm, "unit": unit}, runs.pretrain_job(arm, preset, seed=unit))
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


def pretraining_gate(pretrain_rows: list[dict], arms) -> bool:
    """Every pretraining run of ``arms`` has learned its source (``decision.pretraining_gate``)."""
    curves = [points for arm in arms for points in _curves(pretrain_rows, arm=arm).values()]
    return bool(curves) and all(decision.pretraining_gate([p["iteration"] for p in points],
                                                          [p["kid_mean"] for p in points]) for points in curves)


def convergence_gate(transfer_rows: list[dict], target: str) -> bool:
    """Scratch has plateaued on ``target``: ``decision.convergence_gate`` on its mean KID curve over units."""
    curves = list(_curves(transfer_rows, target=target, arm=SCRATCH).values())
    iterations = [p["iteration"] for p in curves[0]]
    if any([p["iteration"] for p in points] != iterations for points in curves):
        raise ValueError(f"scratch runs on {target} were not evaluated at the same iterations")
    mean = [sum(points[k]["kid_mean"] for points in curves) / len(curves) for k in range(len(iterations))]
    return decision.convergence_gate(iterations, mean)


def _registered(claim_id: int) -> dict:
    return next(claim for claim in design.current()["claims"] if claim["id"] == claim_id)


def _comparison(claim_id: int, kind: str, target: str, treatment: str, control: str, rows: list[dict], gates: dict,
                adjusted_p: float | None = None) -> dict:
    """One row of ``CLAIM_COLUMNS``: ``treatment`` against ``control`` on ``target`` by final KID
    over their units, decided by the registered test of ``kind`` under ``gates``."""
    treated, baseline = final_kids(rows, target, treatment), final_kids(rows, target, control)
    passed = all(gates.values())
    if kind == "superiority":
        result = decision.superiority_verdict(treated, baseline, passed, adjusted_p)
    else:
        margin = decision.MARGIN_FRACTION * sum(baseline) / len(baseline)
        result = decision.non_inferiority_verdict(treated, baseline, margin, passed)
    return {"claim": claim_id, "target": target, "treatment": treatment, "control": control, "kind": kind,
            "units_treatment": len(treated), "units_control": len(baseline),
            "treatment_kid": sum(treated) / len(treated), "control_kid": sum(baseline) / len(baseline),
            **result, **gates}


def _overall(claim_id: int, target: str, treatment: str, control: str, kind: str, rows: list[dict]) -> dict:
    """The row of a claim over its comparisons (``decision.overall_verdict``)."""
    return {"claim": claim_id, "target": target, "treatment": treatment, "control": control, "kind": kind,
            "pretraining_gate": all(row["pretraining_gate"] for row in rows),
            "convergence_gate": all(row["convergence_gate"] for row in rows),
            "verdict": decision.overall_verdict(row["verdict"] for row in rows)}


def _columns(rows: list[dict]) -> list[dict]:
    return [{key: row.get(key, "") for key in CLAIM_COLUMNS} for row in rows]


def claims(transfer_rows: list[dict], pretrain_rows: list[dict], targets=PRIMARY_TARGETS) -> list[dict]:
    """Claims 1 (Primitives-PS beats scratch) and 2 (it matches or beats natural-image pretraining)
    per target and over all of them (``CLAIM_COLUMNS``), by the registered design: superiority by
    the exact permutation test, Holm-adjusted over the targets; non-inferiority by the Welch
    interval against a margin of ``decision.MARGIN_FRACTION`` of the control's mean final KID; each
    verdict untested unless both gates pass."""
    out = []
    for claim_id, control in ((1, SCRATCH), (2, NATURAL)):
        kind = _registered(claim_id)["kind"]
        pretrained = pretraining_gate(pretrain_rows, [PS] + ([NATURAL] if control == NATURAL else []))
        adjusted = decision.holm([decision.permutation_test(final_kids(transfer_rows, target, PS),
                                                            final_kids(transfer_rows, target, control))
                                  for target in targets])
        rows = [_comparison(claim_id, kind, target, PS, control, transfer_rows,
                            {"pretraining_gate": pretrained, "convergence_gate": convergence_gate(transfer_rows, target)},
                            p_adjusted)
                for target, p_adjusted in zip(targets, adjusted)]
        out += rows + [_overall(claim_id, ALL_TARGETS, PS, control, kind, rows)]
    return _columns(out)


def ladder_claims(transfer_rows: list[dict], pretrain_rows: list[dict], ladder, target: str) -> list[dict]:
    """Claim 3 (each component helps) on ``target``: each rung of ``ladder`` against the rung before
    it by the exact permutation test at the registered level, unadjusted (the claim holds only if
    every rung holds, an intersection-union test), then the claim over all rungs. Gates: every
    rung's pretraining runs learned their source; scratch converged on ``target``."""
    gates = {"pretraining_gate": pretraining_gate(pretrain_rows, ladder),
             "convergence_gate": convergence_gate(transfer_rows, target)}
    rows = [_comparison(3, "superiority", target, rung, before, transfer_rows, gates)
            for before, rung in zip(ladder, ladder[1:])]
    return _columns(rows + [_overall(3, target, "each rung", "the rung before it", "superiority", rows)])


def update_claims(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` into the claims file at ``path``, replacing the rows of the claims they decide
    and keeping the others (notebook 04 decides claims 1-2, notebook 05 claim 3, in either order)."""
    decided = {int(row["claim"]) for row in rows}
    kept = [row for row in _read_claims(path) if int(row["claim"]) not in decided] if Path(path).exists() else []
    write_csv(path, sorted(kept + rows, key=lambda row: int(row["claim"])))


def claim_table(rows: list[dict]) -> tables.Table:
    """Claims rows (as ``claims`` returns them or read back from ``claims.csv``) formatted for
    reading: the comparison, the units, each side's mean final KID, the effect with its 95%
    interval, p (Holm-adjusted where the design adjusts), the gates and the verdict."""
    def present(value) -> bool:
        return value not in ("", None)

    def gate(value) -> str:
        return "passes" if str(value) == "True" else "fails"

    out = []
    for row in rows:
        compared = present(row.get("units_treatment"))
        out.append({"claim": int(row["claim"]), "target": row["target"],
                    "comparison": f"{row['treatment']} vs {row['control']}",
                    "units": f"{int(float(row['units_treatment']))} / {int(float(row['units_control']))}" if compared else "",
                    "KID": (f"{tables.number(row['treatment_kid'], 3)} vs {tables.number(row['control_kid'], 3)}"
                            if compared else ""),
                    "effect [95%]": tables.interval(row["effect"], row["low"], row["high"], 3) if compared else "",
                    "p": tables.p_value(row["p_adjusted"] if present(row.get("p_adjusted")) else row["p"])
                    if compared else "",
                    "margin": tables.number(row["margin"], 3) if present(row.get("margin")) else "",
                    "pretraining gate": gate(row["pretraining_gate"]),
                    "convergence gate": gate(row["convergence_gate"]), "verdict": row["verdict"]})
    return out


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """The claims table of ``claims.csv`` (notebook 04 writes claims 1-2, notebook 05 claim 3)."""
    return {"The claims, decided by the registered design (figures/design.json)":
            claim_table(_read_claims(Path(figures_dir) / FILES["claims"]))}


def _read_claims(path: Path) -> list[dict]:
    """The rows of a claims file as written (text, so kept rows are rewritten unchanged)."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


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
    pretrain = curve_rows([labels for labels, _ in planned], runs.run_jobs([job for _, job in planned], context=context))
    write_csv(out_dir / FILES["pretrain"], pretrain)
    transfer, finished = [], {}
    for target in PRIMARY_TARGETS:
        planned = [(labels, job) for labels, job in transfer_plan(preset) if labels["target"] == target]
        results = runs.run_jobs([job for _, job in planned], context=context)
        transfer += curve_rows([labels for labels, _ in planned], results)
        finished.update((job, result) for (_, job), result in zip(planned, results))
        write_csv(out_dir / FILES["transfer"], transfer)
    rows = claims(transfer, pretrain)
    update_claims(out_dir / FILES["claims"], rows)
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
