"""The one claims engine: every study of the project decides its claims here, the same way.

A study registers its design before any run is scored (``Registry``: dated versions, each saying
why, with a digest; written to ``figures/``), turns its finished runs into rows, and calls
``compare`` once per comparison. ``compare`` applies a registered rule under named gates and
returns one row of the one claims format (``COLUMNS``), whatever the study:

- tests on units (plain numbers, checked against scipy in the tests): ``permutation_test`` (two-
  sided, exact over every relabelling when they are few), ``welch_interval`` (95%, unequal
  variances), ``holm`` (step-down adjustment; ``adjusted_p`` over a claim's targets);
- gates (``Gate``): named predicates, each with the value it measured, its threshold and a stated
  tolerance: ``pretraining_gate`` (a run has learned its source: its last KID at or below its KID
  at a third of the run), ``convergence_gate`` (a baseline has plateaued), ``floor_gate`` (a score
  at or above a threshold, such as an accuracy above chance);
- rules (``RULES``): ``superiority`` (lower is better; exact permutation p, Holm-adjusted where the
  design says so), ``non-inferiority`` (the upper end of the 95% interval under a margin),
  ``interval`` (higher is better; the whole 95% interval above zero) and ``descriptive`` (a
  secondary outcome: its effect and interval, no verdict);
- verdicts: "holds", "does not hold", or "untested at this scale" when a gate failed, never
  "fails" for a comparison whose models have not learned; ``overall`` combines a claim's rows.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.stats

from ..paths import atomic_write, write_csv

HOLDS, DOES_NOT_HOLD, UNTESTED = "holds", "does not hold", "untested at this scale"
ALPHA = 0.05
EXACT_LIMIT = 200_000           # relabellings enumerated exactly up to this count, sampled beyond
PLATEAU_FRACTION = 0.1          # the last third may bring at most this share of the total gain


def _groups(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each group needs at least 2 units, got {len(a)} and {len(b)}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("the scores must be finite numbers")
    return a, b


def permutation_test(a, b, samples: int = 100_000, seed: int = 0) -> float:
    """Two-sided p-value of mean(a) - mean(b) under random relabelling of the pooled units: the
    share of relabellings (the observed one included) whose |difference| is at least the observed.
    Exact when there are at most ``EXACT_LIMIT`` relabellings (70 for 4 against 4), otherwise from
    ``samples`` seeded random ones."""
    a, b = _groups(a, b)
    pooled, n = np.concatenate([a, b]), len(a)
    observed = abs(a.mean() - b.mean())
    total = pooled.sum()
    tolerance = 1e-12 * max(1.0, np.abs(pooled).max())
    if math.comb(len(pooled), n) <= EXACT_LIMIT:
        sums = np.array([pooled[list(chosen)].sum() for chosen in itertools.combinations(range(len(pooled)), n)])
    else:
        generator = np.random.default_rng(seed)
        picks = np.argsort(generator.random((samples, len(pooled))), axis=1)[:, :n]
        sums = np.concatenate([[a.sum()], pooled[picks].sum(axis=1)])
    differences = np.abs(sums / n - (total - sums) / (len(pooled) - n))
    return float(np.mean(differences >= observed - tolerance))


def welch_interval(a, b, level: float = 0.95) -> tuple[float, float, float]:
    """mean(a) - mean(b) and its ``level`` confidence interval by Welch's t (unequal variances)."""
    a, b = _groups(a, b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    difference = float(a.mean() - b.mean())
    standard_error = math.sqrt(va + vb)
    if standard_error == 0:
        return difference, difference, difference
    freedom = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(scipy.stats.t.ppf(0.5 + level / 2, freedom)) * standard_error
    return difference, difference - half, difference + half


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given), capped at 1."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def adjusted_p(comparisons) -> list[float]:
    """The permutation p of each (treated, baseline) pair of ``comparisons``, Holm-adjusted over
    them (a claim tested on several targets)."""
    return holm([permutation_test(treated, baseline) for treated, baseline in comparisons])


def at_fraction(iterations, values, fraction: float) -> float:
    """The value at the evaluation nearest ``fraction`` of the last evaluation's iteration."""
    iterations, values = np.asarray(iterations, float), np.asarray(values, float)
    if len(iterations) != len(values) or len(values) < 2:
        raise ValueError("a curve needs at least 2 evaluations, iterations and values alike")
    return float(values[np.argmin(np.abs(iterations - fraction * iterations.max()))])


def pretraining_gate(iterations, kids, tolerance: float = 0.0) -> bool:
    """True when a pretraining run has learned its source: its KID against held-out source images
    at the last evaluation is at most ``tolerance`` above its KID at the evaluation nearest one
    third of the run."""
    return learned_gate("pretraining", [(iterations, kids)], tolerance).passes


def convergence_gate(iterations, mean_kids) -> bool:
    """True when the baseline has plateaued: on its mean curve over units, the improvement from the
    evaluation nearest two thirds of fine-tuning to the end is at most ``PLATEAU_FRACTION`` of the
    improvement from the first evaluation to the end (or the curve rose over the last third:
    overfitting counts as converged)."""
    return plateau_gate("convergence", iterations, mean_kids).passes


# ---------------------------------------------------------------------------------------------
# Gates: named predicates with the value they measured, a threshold and a stated tolerance.

@dataclass(frozen=True)
class Gate:
    """A named gate: ``passes`` when ``value`` is on the right side of ``threshold`` within
    ``tolerance`` (``at_most``: value <= threshold + tolerance; otherwise value >= threshold -
    tolerance). ``str(gate)`` is how the claims format writes it, e.g. ``pretraining: passes``."""

    name: str
    value: float
    threshold: float
    at_most: bool = False
    tolerance: float = 0.0

    @property
    def passes(self) -> bool:
        if self.at_most:
            return bool(self.value <= self.threshold + self.tolerance)
        return bool(self.value >= self.threshold - self.tolerance)

    def __str__(self) -> str:
        return f"{self.name}: {'passes' if self.passes else 'fails'}"


def floor_gate(name: str, value: float, threshold: float, tolerance: float = 0.0) -> Gate:
    """``value`` (higher is better: an accuracy, say) is at least ``threshold``."""
    return Gate(name, float(value), float(threshold), at_most=False, tolerance=tolerance)


def learned_gate(name: str, curves, tolerance: float = 0.0) -> Gate:
    """Every run of ``curves`` (pairs of iterations and KIDs) has learned its source
    (``pretraining_gate``): the value is the largest rise of a run's last KID over its KID at a
    third of the run, which must be at most ``tolerance``."""
    curves = list(curves)
    if not curves:
        raise ValueError(f"gate {name!r} needs at least one run")
    rises = [float(np.asarray(kids, float)[np.argmax(iterations)]) - at_fraction(iterations, kids, 1 / 3)
             for iterations, kids in curves]
    return Gate(name, max(rises), 0.0, at_most=True, tolerance=tolerance)


def plateau_gate(name: str, iterations, mean_kids, fraction: float = PLATEAU_FRACTION, tolerance: float = 0.0,
                 two_sided: bool = False) -> Gate:
    """``convergence_gate`` as a ``Gate``: the value is the improvement over the last third (from
    the evaluation nearest two thirds of the run to the end), the threshold ``fraction`` of the
    improvement from the first evaluation to the end, ``tolerance`` the noise allowed on top. One-sided
    (design versions 1-3), a rise over the last third passes: overfitting counts as converged.
    ``two_sided`` (a real plateau, design version 4): the value is the size of the change over the
    last third, so a curve still moving either way fails."""
    iterations, kids = np.asarray(iterations, float), np.asarray(mean_kids, float)
    end = float(kids[np.argmax(iterations)])
    first = float(kids[np.argmin(iterations)])
    late_gain = at_fraction(iterations, kids, 2 / 3) - end
    return Gate(name, abs(late_gain) if two_sided else late_gain, fraction * max(first - end, 0.0), at_most=True,
                tolerance=tolerance)


def gates_text(gates) -> str:
    """The claims format's ``gates`` cell: each named gate and whether it passes, ``; ``-separated."""
    return "; ".join(str(gate) for gate in gates)


def gate_states(text: str) -> dict[str, bool]:
    """A ``gates`` cell read back: {gate name: passes}."""
    states = {}
    for part in filter(None, (item.strip() for item in str(text).split(";"))):
        name, _, state = part.rpartition(":")
        states[name.strip()] = state.strip() == "passes"
    return states


# ---------------------------------------------------------------------------------------------
# Rules and the one claims format.

SUPERIORITY, NON_INFERIORITY, INTERVAL, DESCRIPTIVE = "superiority", "non-inferiority", "interval", "descriptive"
RULES = (SUPERIORITY, NON_INFERIORITY, INTERVAL, DESCRIPTIVE)
COLUMNS = ("claim", "where", "treatment", "control", "outcome", "rule", "units_treatment", "units_control",
           "treatment_mean", "control_mean", "effect", "low", "high", "p", "p_adjusted", "margin", "gates", "verdict")


def compare(claim, where: str, treatment: str, control: str, outcome: str, treated, baseline, rule: str,
            gates=(), *, adjusted_p: float | None = None, margin: float | None = None) -> dict:
    """One row of ``COLUMNS``: ``treated`` against ``baseline`` (one value of ``outcome`` per unit),
    effect = mean(treated) - mean(baseline) with its Welch 95% interval and the exact permutation p
    (reported under every rule, decisive only under the first two), decided by ``rule`` under
    ``gates`` (untested at this scale when one fails):

    - ``superiority``: lower is better; holds when the effect is negative and the permutation p
      (``adjusted_p`` where the design adjusts it) is under ``ALPHA``;
    - ``non-inferiority``: lower is better; holds when the interval's upper end is under ``margin``;
    - ``interval``: higher is better; holds when the whole interval is above zero;
    - ``descriptive``: no verdict (a secondary outcome)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    if rule == NON_INFERIORITY and margin is None:
        raise ValueError("a non-inferiority comparison needs its margin")
    gates = list(gates)
    treated, baseline = _groups(treated, baseline)
    effect, low, high = welch_interval(treated, baseline)
    p = permutation_test(treated, baseline)
    decisive_p = p if adjusted_p is None else adjusted_p
    passed = all(gate.passes for gate in gates)
    if rule == DESCRIPTIVE:
        verdict = ""
    elif not passed:
        verdict = UNTESTED
    elif rule == SUPERIORITY:
        verdict = HOLDS if effect < 0 and decisive_p < ALPHA else DOES_NOT_HOLD
    elif rule == NON_INFERIORITY:
        verdict = HOLDS if high < margin else DOES_NOT_HOLD
    else:
        verdict = HOLDS if low > 0 else DOES_NOT_HOLD
    return {"claim": claim, "where": where, "treatment": treatment, "control": control, "outcome": outcome,
            "rule": rule, "units_treatment": len(treated), "units_control": len(baseline),
            "treatment_mean": float(treated.mean()), "control_mean": float(baseline.mean()),
            "effect": effect, "low": low, "high": high, "p": p,
            "p_adjusted": "" if adjusted_p is None else adjusted_p, "margin": "" if margin is None else margin,
            "gates": gates_text(gates), "verdict": verdict}


def overall_verdict(verdicts) -> str:
    """A claim over its comparisons: untested if any is, holds if every one holds, otherwise does not hold."""
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("a claim needs at least one comparison")
    if UNTESTED in verdicts:
        return UNTESTED
    return HOLDS if all(v == HOLDS for v in verdicts) else DOES_NOT_HOLD


def overall(claim, where: str, treatment: str, control: str, rows: list[dict]) -> dict:
    """The row of a claim over its decided ``rows`` (same outcome and rule): each named gate passes
    only where it passed in every row; the verdict by ``overall_verdict``."""
    states: dict[str, bool] = {}
    for row in rows:
        for name, passes in gate_states(row["gates"]).items():
            states[name] = states.get(name, True) and passes
    return {**{key: "" for key in COLUMNS}, "claim": claim, "where": where, "treatment": treatment,
            "control": control, "outcome": rows[0]["outcome"], "rule": rows[0]["rule"],
            "gates": "; ".join(f"{name}: {'passes' if passes else 'fails'}" for name, passes in states.items()),
            "verdict": overall_verdict(row["verdict"] for row in rows)}


def read(path: Path) -> list[dict]:
    """The rows of a claims file, as text (so rows kept by ``update`` are rewritten unchanged)."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def update(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` into the claims file at ``path``, replacing the rows of the claims they decide
    and keeping the others (two notebooks may decide claims of one file, in either order); rows in
    the order of their claim ids (numbers by value), each claim's rows as given."""
    decided = {str(row["claim"]) for row in rows}
    kept = [row for row in read(path) if row["claim"] not in decided] if Path(path).exists() else []
    ordered = sorted(kept + rows, key=lambda row: (0, int(row["claim"])) if str(row["claim"]).isdigit()
                     else (1, str(row["claim"])))
    write_csv(path, [{key: row.get(key, "") for key in COLUMNS} for row in ordered])


# ---------------------------------------------------------------------------------------------
# Registered designs.

def digest(version: dict) -> str:
    """16 hex digits of the SHA-256 of a version's canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(version, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Registry:
    """A study's registered design: its versions in order (each a dict with at least ``version``,
    ``date`` and ``why``), written to ``figures/<file>`` before any run it governs is scored and
    changed only by appending a version. ``check(version)`` raises if the code applies other
    numbers than a version states."""

    file: str
    versions: tuple[dict, ...]
    check: Callable[[dict], None] | None = None

    def __post_init__(self):
        for number, version in enumerate(self.versions, 1):
            missing = [key for key in ("version", "date", "why") if key not in version]
            if missing or version["version"] != number:
                raise ValueError(f"design {self.file}: version {number} must be numbered {number} and say "
                                 f"{', '.join(missing) or 'its number'}")

    def current(self) -> dict:
        """The version in force: the last one."""
        return self.versions[-1]

    def document(self) -> dict:
        """Every version with its digest, and which one is in force."""
        if self.check is not None:
            self.check(self.current())
        return {"in_force": self.current()["version"],
                "versions": [{**version, "digest": digest(version)} for version in self.versions]}

    def write(self, directory: Path) -> Path:
        path = Path(directory) / self.file
        text = json.dumps(self.document(), indent=2) + "\n"
        atomic_write(path, lambda temporary: Path(temporary).write_text(text))
        return path
