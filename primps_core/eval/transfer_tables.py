"""Tables of transfer runs: curves, mean +- std over seeds, paired wins, iterations to a threshold.

Every function works on plain rows (dicts with ``target, init, seed, iters, fid, kid_mean,
kid_std``): one row per evaluation of a run, as ``figures/transfer.csv`` stores them. A run's
final score is its row with the most iterations.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import scipy.stats

COLUMNS = ("target", "init", "seed", "iters", "fid", "kid_mean", "kid_std")


def curve_rows(runs) -> list[dict]:
    """Rows of ``runs``: (labels, result) pairs, ``labels`` a dict of target, init, seed (and any
    other setting), ``result`` a transfer stage's value with its ``curve``."""
    return [{**labels, "iters": point["iteration"], "fid": point["fid"], "kid_mean": point["kid_mean"],
             "kid_std": point["kid_std"]} for labels, result in runs for point in result["curve"]]


def final_rows(rows: list[dict]) -> list[dict]:
    """Each run's last evaluation (runs identified by everything but the scores and iteration)."""
    last: dict[tuple, dict] = {}
    for row in rows:
        key = _run_key(row)
        if key not in last or row["iters"] > last[key]["iters"]:
            last[key] = row
    return list(last.values())


def _sample_std(values) -> float:
    """Sample standard deviation (ddof=1); NaN for a single value."""
    values = np.asarray(values, float)
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def _run_key(row: dict) -> tuple:
    return tuple((k, v) for k, v in row.items() if k not in ("iters", "fid", "kid_mean", "kid_std"))


def summary(rows: list[dict], by=("target", "init")) -> list[dict]:
    """Final FID and KID per group: mean and sample std over seeds (ddof=1), and the seed count."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in final_rows(rows):
        groups[tuple(row[k] for k in by)].append(row)
    table = []
    for key, members in groups.items():
        fid, kid = [m["fid"] for m in members], [m["kid_mean"] for m in members]
        table.append({**dict(zip(by, key)), "seeds": len(members), "fid_mean": float(np.mean(fid)),
                      "fid_std": _sample_std(fid), "kid_mean": float(np.mean(kid)), "kid_std": _sample_std(kid)})
    return table


def paired_wins(rows: list[dict], baseline: str = "scratch", metric: str = "fid", by: str = "init") -> list[dict]:
    """Each init (or other ``by`` label) against ``baseline`` on the same (target, seed): wins
    (lower final score), pairs, the mean paired difference and its std, the two-sided sign-test
    p-value of the wins and the paired t-test p-value of the differences (NaN below 2 pairs).

    With 3 seeds per target the sign test cannot go below p = 0.25 on one target; the t-test
    uses the sizes of the differences too, so it is the one that can flag a consistent effect."""
    finals = {(r["target"], r["seed"], r[by]): r[metric] for r in final_rows(rows)}
    names = sorted({name for _, _, name in finals if name != baseline})
    table = []
    for name in names:
        pairs = [(value, finals[target, seed, baseline]) for (target, seed, other), value in finals.items()
                 if other == name and (target, seed, baseline) in finals]
        if not pairs:
            continue
        differences = np.array([value - base for value, base in pairs])
        wins = int((differences < 0).sum())
        t_test = scipy.stats.ttest_1samp(differences, 0.0).pvalue if len(pairs) > 1 else float("nan")
        table.append({by: name, "wins": wins, "pairs": len(pairs), "mean_difference": float(differences.mean()),
                      "std_difference": _sample_std(differences),
                      "sign_test_p": float(scipy.stats.binomtest(wins, len(pairs)).pvalue),
                      "t_test_p": float(t_test)})
    return table


def iterations_to_reach(iters, values, threshold: float) -> float | None:
    """The first iteration at which the curve (linear between evaluations) is at or below
    ``threshold``; None if it never gets there. Before the first evaluation nothing is known, so a
    curve already below at its first point returns that point's iteration."""
    iters, values = np.asarray(iters, float), np.asarray(values, float)
    order = np.argsort(iters)
    iters, values = iters[order], values[order]
    below = np.flatnonzero(values <= threshold)
    if not len(below):
        return None
    k = below[0]
    if k == 0:
        return float(iters[0])
    fraction = (values[k - 1] - threshold) / (values[k - 1] - values[k])
    return float(iters[k - 1] + fraction * (iters[k] - iters[k - 1]))


def mean_curves(rows: list[dict], by=("target", "init")) -> dict[tuple, dict[str, np.ndarray]]:
    """Per group, the seeds' mean and std of FID and KID at each evaluated iteration."""
    points: dict[tuple, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        points[tuple(row[k] for k in by)][row["iters"]].append(row)
    curves = {}
    for key, at in points.items():
        iters = sorted(at)
        curves[key] = {"iters": np.array(iters, float)}
        for metric in ("fid", "kid_mean"):
            values = [np.array([r[metric] for r in at[i]]) for i in iters]
            curves[key][metric] = np.array([v.mean() for v in values])
            curves[key][f"{metric}_std"] = np.array([_sample_std(v) for v in values])
    return curves


def speedup_table(rows: list[dict], baseline: str = "scratch", metric: str = "fid") -> list[dict]:
    """Per target and init: the iterations its mean curve needs to reach the baseline's final mean
    score, and that as a fraction of the baseline's iterations (None: never within the run)."""
    curves = mean_curves(rows)
    table = []
    for (target, init), curve in sorted(curves.items()):
        if (target, baseline) not in curves:
            continue
        base = curves[target, baseline]
        threshold, budget = float(base[metric][-1]), float(base["iters"][-1])
        reached = iterations_to_reach(curve["iters"], curve[metric], threshold)
        table.append({"target": target, "init": init, "threshold": threshold, "iters_to_reach": reached,
                      "fraction_of_baseline": None if reached is None else reached / budget})
    return table
