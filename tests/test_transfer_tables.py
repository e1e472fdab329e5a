"""Transfer tables on hand-made runs with known answers."""
import numpy as np
import pytest
import scipy.stats

from primps_core.eval import transfer_tables as tr


def run(target, init, seed, fids):
    """One run's rows: evaluations at iterations 10, 20, ... with the given FIDs (KID = FID / 1000)."""
    return [{"target": target, "init": init, "seed": seed, "iters": 10 * (k + 1), "fid": f,
             "kid_mean": f / 1000, "kid_std": 0.01} for k, f in enumerate(fids)]


@pytest.fixture
def rows():
    out = []
    for seed, (scratch, pretrained) in enumerate([(100, 80), (110, 70), (90, 95)]):
        out += run("a", "scratch", seed, [300, 200, scratch])
        out += run("a", "pps", seed, [150, 120, pretrained])
    return out


def test_curve_rows_flatten_stage_results():
    result = {"curve": [{"iteration": 5, "fid": 3.0, "kid_mean": 0.1, "kid_std": 0.01, "eval_s": 1.0},
                        {"iteration": 10, "fid": 2.0, "kid_mean": 0.05, "kid_std": 0.01, "eval_s": 1.0}]}
    rows = tr.curve_rows([({"target": "t", "init": "scratch", "seed": 0}, result)])
    assert [tuple(r[c] for c in tr.COLUMNS) for r in rows] == [("t", "scratch", 0, 5, 3.0, 0.1, 0.01),
                                                              ("t", "scratch", 0, 10, 2.0, 0.05, 0.01)]


def test_summary_is_mean_and_sample_std_of_final_scores(rows):
    table = {r["init"]: r for r in tr.summary(rows)}
    assert table["scratch"]["fid_mean"] == pytest.approx(100.0) and table["scratch"]["seeds"] == 3
    assert table["scratch"]["fid_std"] == pytest.approx(10.0)                    # std of 100, 110, 90 (ddof=1)
    assert table["pps"]["fid_mean"] == pytest.approx(np.mean([80, 70, 95]))
    assert table["pps"]["kid_std"] == pytest.approx(np.std([0.080, 0.070, 0.095], ddof=1))


def test_paired_wins_count_same_seed_pairs_and_sign_test(rows):
    (result,) = tr.paired_wins(rows)
    assert result["init"] == "pps" and result["wins"] == 2 and result["pairs"] == 3
    assert result["mean_difference"] == pytest.approx(np.mean([-20, -40, 5]))
    assert result["sign_test_p"] == pytest.approx(1.0)                           # 2 of 3 is no evidence
    many = [r for seed in range(8) for r in run("b", "scratch", seed, [100]) + run("b", "x", seed, [50])]
    assert tr.paired_wins(many)[0]["sign_test_p"] == pytest.approx(2 / 2**8)     # two-sided, 8 of 8


def test_paired_t_test_matches_the_closed_form_and_groups_by_any_label(rows):
    (result,) = tr.paired_wins(rows)
    d = np.array([-20.0, -40.0, 5.0])
    t = d.mean() / (d.std(ddof=1) / np.sqrt(3))
    assert result["t_test_p"] == pytest.approx(2 * scipy.stats.t.sf(abs(t), df=2))
    relabelled = [{**{k: v for k, v in r.items() if k != "init"}, "setting": r["init"]} for r in rows]
    assert tr.paired_wins(relabelled, by="setting") == [{**{k: v for k, v in result.items() if k != "init"},
                                                         "setting": "pps"}]


def test_iterations_to_reach_interpolates_between_evaluations():
    assert tr.iterations_to_reach([10, 20, 30], [300, 200, 100], 150) == pytest.approx(25.0)
    assert tr.iterations_to_reach([10, 20, 30], [300, 200, 100], 100) == pytest.approx(30.0)
    assert tr.iterations_to_reach([10, 20, 30], [300, 200, 100], 99) is None
    assert tr.iterations_to_reach([30, 10, 20], [100, 90, 95], 120) == pytest.approx(10.0)   # unsorted input


def test_speedup_table_uses_mean_curves(rows):
    table = {r["init"]: r for r in tr.speedup_table(rows)}
    assert table["scratch"]["iters_to_reach"] == pytest.approx(30.0)           # reaches its own final mean
    # pps mean curve: 150, 120, 81.67; scratch's final mean 100 is crossed between 20 and 30
    assert table["pps"]["iters_to_reach"] == pytest.approx(20 + 10 * (120 - 100) / (120 - 245 / 3))
    assert table["pps"]["fraction_of_baseline"] == pytest.approx(table["pps"]["iters_to_reach"] / 30)
