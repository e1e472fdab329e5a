"""How the decisive experiment turns runs into verdicts: tests, intervals, gates and the verdict rule.

Everything here is fixed before any run is scored (``study.design`` records it in
``figures/design.json``) and works on plain numbers, so it can be checked against independent
formulas:

- ``permutation_test``: two-sided test of a difference of means between two groups of units
  (pretraining seeds), exact over every relabelling when they are few;
- ``welch_interval``: the 95% interval of that difference (Welch's t, unequal variances);
- ``holm``: Holm's step-down adjustment of the p-values of one claim over its targets;
- ``pretraining_gate``: a pretraining run has learned its source (its KID against held-out source
  images at the end is at or below its KID at one third of the run);
- ``convergence_gate``: the scratch baseline has plateaued (its mean curve gained at most a tenth
  of its total improvement over the last third of fine-tuning, or it got worse there);
- ``superiority_verdict`` / ``non_inferiority_verdict``: "holds", "does not hold" or "untested at
  this scale" (a gate failed); never "fails" for a comparison whose models have not learned.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.stats

HOLDS, DOES_NOT_HOLD, UNTESTED = "holds", "does not hold", "untested at this scale"
ALPHA = 0.05
EXACT_LIMIT = 200_000           # relabellings enumerated exactly up to this count, sampled beyond
PLATEAU_FRACTION = 0.1          # the last third may bring at most this share of the total gain
MARGIN_FRACTION = 0.1           # non-inferiority margin: this share of the control's mean outcome


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


def _at_fraction(iterations, values, fraction: float) -> float:
    """The value at the evaluation nearest ``fraction`` of the last evaluation's iteration."""
    iterations, values = np.asarray(iterations, float), np.asarray(values, float)
    if len(iterations) != len(values) or len(values) < 2:
        raise ValueError("a curve needs at least 2 evaluations, iterations and values alike")
    return float(values[np.argmin(np.abs(iterations - fraction * iterations.max()))])


def pretraining_gate(iterations, kids) -> bool:
    """True when a pretraining run has learned its source: its KID against held-out source images
    at the last evaluation is at or below its KID at the evaluation nearest one third of the run."""
    return float(np.asarray(kids, float)[np.argmax(iterations)]) <= _at_fraction(iterations, kids, 1 / 3)


def convergence_gate(iterations, mean_kids) -> bool:
    """True when the baseline has plateaued: on its mean curve over units, the improvement from the
    evaluation nearest two thirds of fine-tuning to the end is at most ``PLATEAU_FRACTION`` of the
    improvement from the first evaluation to the end (or the curve rose over the last third:
    overfitting counts as converged)."""
    iterations, kids = np.asarray(iterations, float), np.asarray(mean_kids, float)
    end = float(kids[np.argmax(iterations)])
    first = float(kids[np.argmin(iterations)])
    late_gain = _at_fraction(iterations, kids, 2 / 3) - end
    return late_gain <= 0 or late_gain <= PLATEAU_FRACTION * max(first - end, 0.0)


def superiority_verdict(treatment, control, gates_pass: bool, adjusted_p: float | None = None) -> dict:
    """Does ``treatment`` (lower is better) beat ``control``? Effect, interval, p and the verdict:
    holds when the gates pass, the mean difference is negative and the (adjusted) permutation p is
    under ALPHA; untested when a gate failed; otherwise does not hold."""
    difference, low, high = welch_interval(treatment, control)
    p = permutation_test(treatment, control)
    decisive = p if adjusted_p is None else adjusted_p
    verdict = UNTESTED if not gates_pass else HOLDS if difference < 0 and decisive < ALPHA else DOES_NOT_HOLD
    return {"effect": difference, "low": low, "high": high, "p": p, "p_adjusted": decisive, "verdict": verdict}


def non_inferiority_verdict(treatment, control, margin: float, gates_pass: bool) -> dict:
    """Does ``treatment`` match or beat ``control`` (lower is better) within ``margin``? Holds when
    the gates pass and the upper end of the 95% interval of treatment - control is under the margin."""
    difference, low, high = welch_interval(treatment, control)
    p = permutation_test(treatment, control)
    verdict = UNTESTED if not gates_pass else HOLDS if high < margin else DOES_NOT_HOLD
    return {"effect": difference, "low": low, "high": high, "p": p, "margin": margin, "verdict": verdict}


def interval_verdict(low: float, high: float, gates_pass: bool) -> str:
    """A superiority claim judged by the 95% interval of (treatment - control), higher better:
    "holds" when the whole interval is above zero, "does not hold" otherwise (an interval below
    zero is the reverse finding, read from the interval), "untested at this scale" when a gate failed."""
    if not gates_pass:
        return UNTESTED
    return HOLDS if low > 0 else DOES_NOT_HOLD


def overall_verdict(verdicts) -> str:
    """A claim over its primary targets: untested if any target is, holds if every target holds,
    otherwise does not hold."""
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("a claim needs at least one target")
    if UNTESTED in verdicts:
        return UNTESTED
    return HOLDS if all(v == HOLDS for v in verdicts) else DOES_NOT_HOLD
