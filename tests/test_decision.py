"""The decision rules of the decisive experiment (eval/decision.py) against independent formulas,
and the pre-registered design (study/design.py, figures/design.json)."""
import json

import numpy as np
import pytest
import scipy.stats

from primps_core.eval import decision
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


def test_verdicts_follow_the_gates_and_the_tests():
    better, worse = [0.10, 0.11, 0.12, 0.10], [0.20, 0.21, 0.19, 0.22]
    assert decision.superiority_verdict(better, worse, gates_pass=True)["verdict"] == decision.HOLDS
    assert decision.superiority_verdict(worse, better, gates_pass=True)["verdict"] == decision.DOES_NOT_HOLD
    assert decision.superiority_verdict(better, worse, gates_pass=False)["verdict"] == decision.UNTESTED
    # Holm over two targets can take a lone 2/70 above the level
    assert decision.superiority_verdict(better, worse, True, adjusted_p=0.057)["verdict"] == decision.DOES_NOT_HOLD
    close = decision.non_inferiority_verdict([0.20, 0.21, 0.20, 0.21], [0.20, 0.21], margin=0.05, gates_pass=True)
    assert close["verdict"] == decision.HOLDS and close["high"] < 0.05
    assert decision.non_inferiority_verdict(worse, better[:2], margin=0.01, gates_pass=True)["verdict"] == decision.DOES_NOT_HOLD
    assert decision.overall_verdict([decision.HOLDS, decision.HOLDS]) == decision.HOLDS
    assert decision.overall_verdict([decision.HOLDS, decision.UNTESTED]) == decision.UNTESTED
    assert decision.overall_verdict([decision.HOLDS, decision.DOES_NOT_HOLD]) == decision.DOES_NOT_HOLD


def test_bad_inputs_give_one_clear_error():
    with pytest.raises(ValueError, match="at least 2 units"):
        decision.permutation_test([0.1], [0.2, 0.3])
    with pytest.raises(ValueError, match="finite"):
        decision.welch_interval([0.1, np.nan], [0.2, 0.3])
    with pytest.raises(ValueError, match="at least 2 evaluations"):
        decision.pretraining_gate([100], [0.5])
    with pytest.raises(ValueError, match="at least one target"):
        decision.overall_verdict([])


def test_the_committed_design_is_the_registered_one_and_version_1_never_changes():
    assert json.loads(design.PATH.read_text()) == design.document()
    assert design.digest(design.VERSIONS[0]) == "b46c89433a513978"                   # registered 2026-11-27
