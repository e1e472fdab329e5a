"""The one claims engine (eval/claims.py) against independent formulas: tests, gates, rules and the
claims format; registered designs (eval.claims.Registry; study/design.py, figures/design.json)."""
import json

import numpy as np
import pytest
import scipy.stats

from primps_core.eval import claims as decision
from primps_core import paths
from primps_core.study import design


def absolute_difference(x, y, axis=-1):
    return np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis))


def test_exact_permutation_p_equals_scipys_exact_test():
    # two-sided as |mean difference| >= the observed one (scipy's "two-sided" doubles the smaller
    # tail instead, which differs when the groups have unequal sizes)
    generator = np.random.default_rng(3)
    for a, b in ((generator.normal(0, 1, 4), generator.normal(1, 1, 4)),
                 (generator.normal(0, 1, 4), generator.normal(0.3, 2, 2)),
                 ([0.1, 0.2, 0.3], [0.4, 0.5, 0.6])):
        expected = scipy.stats.permutation_test((a, b), absolute_difference, permutation_type="independent",
                                                n_resamples=np.inf, alternative="greater").pvalue
        assert decision.permutation_test(a, b) == pytest.approx(expected, abs=1e-12)


def test_permutation_known_answers():
    # 4 against 4 completely separated: 2 of the 70 relabellings are as extreme (p = 2/70)
    assert decision.permutation_test([1, 2, 3, 4], [5, 6, 7, 8]) == pytest.approx(2 / 70)
    assert decision.permutation_test([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    # many units: sampled relabellings agree with the exact p within sampling error
    generator = np.random.default_rng(0)
    a, b = generator.normal(0, 1, 12), generator.normal(0.8, 1, 12)
    exact = scipy.stats.permutation_test((a, b), absolute_difference, permutation_type="independent",
                                         n_resamples=200_000, alternative="greater", random_state=1).pvalue
    assert decision.permutation_test(a, b, samples=50_000) == pytest.approx(exact, abs=0.01)


def test_welch_interval_equals_scipys():
    a, b = [0.30, 0.28, 0.35, 0.31], [0.40, 0.37, 0.45]
    difference, low, high = decision.welch_interval(a, b)
    result = scipy.stats.ttest_ind(a, b, equal_var=False)
    interval = result.confidence_interval(0.95)
    assert difference == pytest.approx(np.mean(a) - np.mean(b))
    assert (low, high) == pytest.approx((interval.low, interval.high))


def test_holm_known_answer():
    assert decision.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert decision.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_pretraining_gate():
    iterations = [0, 100, 200, 300]
    assert decision.pretraining_gate(iterations, [0.9, 0.5, 0.4, 0.35])        # still learning at the end
    assert decision.pretraining_gate(iterations, [0.9, 0.5, 0.5, 0.5])         # flat since a third: learned
    assert not decision.pretraining_gate(iterations, [0.9, 0.5, 0.6, 0.7])     # got worse since a third


def test_convergence_gate():
    iterations = [0, 100, 200, 300]
    assert decision.convergence_gate(iterations, [0.9, 0.5, 0.41, 0.40])       # last third: 2% of the gain
    assert decision.convergence_gate(iterations, [0.9, 0.5, 0.40, 0.45])       # rising: overfitting
    assert not decision.convergence_gate(iterations, [0.9, 0.7, 0.6, 0.4])     # still falling fast


def passing(passes: bool = True) -> decision.Gate:
    return decision.floor_gate("learned", 0.6 if passes else 0.4, threshold=0.5)


def test_verdicts_follow_the_gates_and_the_tests():
    better, worse = [0.10, 0.11, 0.12, 0.10], [0.20, 0.21, 0.19, 0.22]

    def superiority(a, b, gate=True, **options):
        return decision.compare(1, "t", "a", "b", "kid", a, b, decision.SUPERIORITY, [passing(gate)], **options)
    assert superiority(better, worse)["verdict"] == decision.HOLDS
    assert superiority(worse, better)["verdict"] == decision.DOES_NOT_HOLD
    assert superiority(better, worse, gate=False)["verdict"] == decision.UNTESTED
    # Holm over two targets can take a lone 2/70 above the level
    assert superiority(better, worse, adjusted_p=0.057)["verdict"] == decision.DOES_NOT_HOLD
    close = decision.compare(2, "t", "a", "b", "kid", [0.20, 0.21, 0.20, 0.21], [0.20, 0.21], decision.NON_INFERIORITY,
                             [passing()], margin=0.05)
    assert close["verdict"] == decision.HOLDS and close["high"] < 0.05
    assert decision.compare(2, "t", "a", "b", "kid", worse, better[:2], decision.NON_INFERIORITY, [passing()],
                            margin=0.01)["verdict"] == decision.DOES_NOT_HOLD
    # interval: higher is better, the whole Welch interval above zero
    up = decision.compare(3, "t", "a", "b", "accuracy", worse, better, decision.INTERVAL, [passing()])
    assert up["verdict"] == decision.HOLDS and up["low"] > 0
    assert decision.compare(3, "t", "a", "b", "accuracy", better, worse, decision.INTERVAL,
                            [passing()])["verdict"] == decision.DOES_NOT_HOLD
    assert decision.compare(3, "t", "a", "b", "accuracy", worse, better, decision.INTERVAL,
                            [passing(), passing(False)])["verdict"] == decision.UNTESTED
    described = decision.compare(3, "t", "a", "b", "fid", worse, better, decision.DESCRIPTIVE)
    assert described["verdict"] == "" and described["p"] == pytest.approx(2 / 70)
    assert decision.overall_verdict([decision.HOLDS, decision.HOLDS]) == decision.HOLDS
    assert decision.overall_verdict([decision.HOLDS, decision.UNTESTED]) == decision.UNTESTED
    assert decision.overall_verdict([decision.HOLDS, decision.DOES_NOT_HOLD]) == decision.DOES_NOT_HOLD


def test_gates_state_their_values_thresholds_and_tolerances():
    iterations = [0, 100, 200, 300]
    rising = decision.learned_gate("pretraining", [(iterations, [0.9, 0.5, 0.4, 0.35]), (iterations, [0.9, 0.252, 0.27, 0.256])])
    assert rising.value == pytest.approx(0.004) and not rising.passes
    assert decision.learned_gate("pretraining", [(iterations, [0.9, 0.252, 0.27, 0.256])], tolerance=0.005).passes
    plateau = decision.plateau_gate("convergence", iterations, [0.9, 0.5, 0.41, 0.40])
    assert plateau.value == pytest.approx(0.01) and plateau.threshold == pytest.approx(0.05) and plateau.passes
    assert str(plateau) == "convergence: passes"
    assert decision.gate_states("pretraining: fails; convergence: passes") == {"pretraining": False, "convergence": True}
    assert decision.floor_gate("above chance", 0.19, 0.2, tolerance=0.02).passes


def test_the_claim_over_its_comparisons_and_the_one_claims_file(tmp_path):
    one = decision.compare(1, "x", "a", "b", "kid", [0.1, 0.11], [0.2, 0.21], decision.SUPERIORITY,
                           [decision.floor_gate("g", 1, 0), decision.floor_gate("h", 0, 1)])
    two = decision.compare(1, "y", "a", "b", "kid", [0.1, 0.11], [0.2, 0.21], decision.SUPERIORITY,
                           [decision.floor_gate("g", 0, 1), decision.floor_gate("h", 1, 0)])
    both = decision.overall(1, "all", "a", "b", [one, two])
    assert both["gates"] == "g: fails; h: fails" and both["verdict"] == decision.UNTESTED
    path = tmp_path / "claims.csv"
    decision.update(path, [{**one, "claim": 10}])
    decision.update(path, [one, two, both])
    decision.update(path, [{**one, "claim": 10, "where": "z"}])       # claim 10 replaced, kept after claim 1
    rows = decision.read(path)
    assert [(row["claim"], row["where"]) for row in rows] == [("1", "x"), ("1", "y"), ("1", "all"), ("10", "z")]
    assert list(rows[0]) == list(decision.COLUMNS) and float(rows[0]["effect"]) == one["effect"]


def test_bad_inputs_give_one_clear_error():
    with pytest.raises(ValueError, match="at least 2 units"):
        decision.permutation_test([0.1], [0.2, 0.3])
    with pytest.raises(ValueError, match="finite"):
        decision.welch_interval([0.1, np.nan], [0.2, 0.3])
    with pytest.raises(ValueError, match="at least 2 evaluations"):
        decision.pretraining_gate([100], [0.5])
    with pytest.raises(ValueError, match="at least one comparison"):
        decision.overall_verdict([])
    with pytest.raises(ValueError, match="unknown rule 'best'"):
        decision.compare(1, "t", "a", "b", "kid", [0.1, 0.2], [0.3, 0.4], "best")
    with pytest.raises(ValueError, match="needs its margin"):
        decision.compare(1, "t", "a", "b", "kid", [0.1, 0.2], [0.3, 0.4], decision.NON_INFERIORITY)
    with pytest.raises(ValueError, match="version 2 must be numbered 2"):
        decision.Registry("x.json", ({"version": 1, "date": "d", "why": "w"}, {"version": 3, "date": "d", "why": "w"}))


def test_the_committed_design_is_the_registered_one_and_version_1_never_changes():
    assert json.loads((paths.FIGURES_DIR / design.DESIGN.file).read_text()) == design.DESIGN.document()
    assert decision.digest(design.VERSIONS[0]) == "b46c89433a513978"                   # registered 2026-11-27


def test_the_two_sided_plateau_gate_fails_a_curve_still_moving_either_way_and_allows_the_noise():
    """Design version 4's convergence gate: the last third may move by 0.1 of the whole gain (from
    iteration 0) plus the tolerance, in either direction; version 3's one-sided gate passed any rise."""
    iterations = [0, 1000, 2000, 3000]
    gain_of = 0.5 - 0.1                                                      # the whole gain: 0.4, a tenth 0.04
    settled = decision.plateau_gate("c", iterations, [0.5, 0.2, 0.13, 0.10], tolerance=0.005, two_sided=True)
    assert settled.passes and settled.value == pytest.approx(0.03) and settled.threshold == pytest.approx(0.1 * gain_of)
    assert not decision.plateau_gate("c", iterations, [0.5, 0.2, 0.15, 0.10], tolerance=0.005, two_sided=True).passes
    assert decision.plateau_gate("c", iterations, [0.5, 0.2, 0.144, 0.10], tolerance=0.005, two_sided=True).passes
    rising = [0.5, 0.2, 0.05, 0.10]                                         # a rise of 0.05 over the last third
    assert decision.plateau_gate("c", iterations, rising).passes             # one-sided: a rise passes
    assert not decision.plateau_gate("c", iterations, rising, two_sided=True).passes
