"""The decisive experiment's plan and its claims, from curve rows with known answers; the
prepared accelerator script, end to end at smoke size on the CPU."""
import os
import subprocess
import sys

import numpy as np
import pytest

from primps_core import paths
from primps_core.data import sources
from primps_core.eval import claims as decision, metrics
from primps_core.study import ablations, decisive, readme, runs, tables


def test_plan_replicates_over_pretraining_seeds():
    plan = decisive.transfer_plan("cpu")
    counts = decisive.units("cpu")
    assert len(plan) == len(decisive.PRIMARY_TARGETS) * sum(counts.values())
    assert (counts[decisive.PS], counts[decisive.NATURAL], counts[decisive.SCRATCH]) == (5, 3, 5)   # design v2
    for labels, job in plan:
        init = job.config.init
        assert (init is None) == (labels["arm"] == runs.SCRATCH)
        assert job.config.train.seed == runs.unit_seed(labels["unit"]) == 10 + labels["unit"]      # design v4's seeds
        assert job.config.train.r1_gamma == pytest.approx(0.0002 * 32**2 / 32)     # StyleGAN2-ADA's heuristic
        if init is not None:                                    # unit u starts from pretraining run u
            assert init.train.seed == runs.unit_seed(labels["unit"]) and init.train.source.name == labels["arm"]
    pretraining = {job.config for _, job in decisive.pretrain_plan("cpu")}
    assert {job.config.init for _, job in plan if job.config.init is not None} == pretraining
    assert len(pretraining) == counts[decisive.PS] + counts[decisive.NATURAL]


def curve(labels: dict, kids: list[float]) -> list[dict]:
    return [{**labels, "iteration": 10 * (k + 1), "fid": 100 * kid, "kid_mean": kid, "kid_std": 0.0}
            for k, kid in enumerate(kids)]


def experiment(ps_final=0.10, natural_final=0.105, scratch_tail=(0.20, 0.20), learned=True):
    """Transfer and pretraining rows on both primary targets: 5 Primitives-PS, 3 natural, 5 scratch units."""
    transfer, pretrain = [], []
    for target in decisive.PRIMARY_TARGETS:
        for unit in range(5):
            jitter = 0.004 * unit
            transfer += curve({"target": target, "arm": decisive.PS, "unit": unit}, [0.3, 0.2, ps_final + jitter])
            transfer += curve({"target": target, "arm": decisive.SCRATCH, "unit": unit},
                              [0.4, scratch_tail[0] + jitter, scratch_tail[1] + jitter])
        for unit in range(3):
            transfer += curve({"target": target, "arm": decisive.NATURAL, "unit": unit},
                              [0.3, 0.2, natural_final + 0.004 * unit])
    for arm, count in ((decisive.PS, 5), (decisive.NATURAL, 3)):
        for unit in range(count):
            pretrain += curve({"arm": arm, "unit": unit}, [0.5, 0.3, 0.2] if learned else [0.3, 0.25, 0.35])
    return transfer, pretrain


def by_claim(rows):
    return {(row["claim"], row["where"]): row for row in rows}


def test_with_four_units_per_arm_superiority_could_never_hold():
    # Why design version 2 replicates five times: the smallest exact two-sided p of 4 against 4 units,
    # doubled by Holm over two targets, is above the level even for perfectly separated groups.
    assert 2 * decision.permutation_test([0.1, 0.11, 0.12, 0.13], [0.2, 0.21, 0.22, 0.23]) > decision.ALPHA
    assert 2 * decision.permutation_test([0.1, 0.11, 0.12, 0.13, 0.14], [0.2, 0.21, 0.22, 0.23, 0.24]) < decision.ALPHA


def test_claims_hold_when_the_gates_pass_and_the_tests_agree():
    rows = by_claim(decisive.claims(*experiment()))
    for target in decisive.PRIMARY_TARGETS:
        first = rows[(1, target)]
        assert first["verdict"] == decision.HOLDS and first["effect"] == pytest.approx(-0.1)
        assert first["p"] == pytest.approx(2 / 252)              # exact: the most extreme of 252 relabellings, both tails
        assert first["p_adjusted"] == pytest.approx(2 * 2 / 252)  # Holm over two targets with equal p
        second = rows[(2, target)]
        assert second["margin"] == pytest.approx(0.1 * 0.109) and second["verdict"] == decision.HOLDS
    assert rows[(1, decisive.ALL_TARGETS)]["verdict"] == rows[(2, decisive.ALL_TARGETS)]["verdict"] == decision.HOLDS


def test_a_failed_gate_makes_a_claim_untested_never_failed():
    unlearned = by_claim(decisive.claims(*experiment(learned=False)))
    assert decision.gate_states(unlearned[(1, "landscapes")]["gates"]) == {"pretraining": False, "convergence": True}
    assert {row["verdict"] for row in unlearned.values()} == {decision.UNTESTED}
    still_improving = by_claim(decisive.claims(*experiment(scratch_tail=(0.3, 0.2))))
    assert not decision.gate_states(still_improving[(1, "galaxies")]["gates"])["convergence"]
    assert still_improving[(1, decisive.ALL_TARGETS)]["verdict"] == decision.UNTESTED


def test_claims_that_the_data_contradict_do_not_hold():
    rows = by_claim(decisive.claims(*experiment(ps_final=0.25, natural_final=0.10)))
    assert rows[(1, "landscapes")]["verdict"] == decision.DOES_NOT_HOLD and rows[(1, "landscapes")]["effect"] > 0
    assert rows[(2, "landscapes")]["verdict"] == decision.DOES_NOT_HOLD
    assert rows[(2, decisive.ALL_TARGETS)]["verdict"] == decision.DOES_NOT_HOLD


def ladder_experiment(finals, units=4):
    """Rows of claim 3 on landscapes: each rung of the ladder ends at its ``finals`` KID (+ jitter per unit)."""
    transfer, pretrain = experiment()
    for rung, final in zip(ablations.LADDER, finals):
        count = 5 if rung == decisive.PS else units
        transfer = [row for row in transfer if row["arm"] != rung] if rung == decisive.PS else transfer
        for unit in range(count):
            transfer += curve({"target": "landscapes", "arm": rung, "unit": unit}, [final + 0.004 * unit])
            pretrain += curve({"arm": rung, "unit": unit}, [0.5, 0.3, 0.2])
    return transfer, pretrain


def test_claim_3_holds_only_when_every_rung_beats_the_one_before_it():
    rows = decisive.ladder_claims(*ladder_experiment([0.40, 0.30, 0.20, 0.10]), ablations.LADDER, "landscapes")
    assert [(row["treatment"], row["control"]) for row in rows[:-1]] == list(zip(ablations.LADDER[1:], ablations.LADDER))
    assert [row["verdict"] for row in rows] == [decision.HOLDS] * 4
    assert rows[0]["p"] == pytest.approx(2 / 70)                  # 4 against 4: the smallest two-sided exact p
    # 5 against 4, unadjusted: groups of unequal size have one most extreme relabelling, not two
    assert rows[-2]["p"] == pytest.approx(1 / 126) and rows[-2]["p_adjusted"] == ""
    reversed_step = decisive.ladder_claims(*ladder_experiment([0.40, 0.30, 0.35, 0.10]), ablations.LADDER,
                                           "landscapes")
    assert [row["verdict"] for row in reversed_step] == [decision.HOLDS, decision.DOES_NOT_HOLD, decision.HOLDS,
                                                         decision.DOES_NOT_HOLD]
    transfer, pretrain = ladder_experiment([0.40, 0.30, 0.20, 0.10])
    unlearned = [row for row in pretrain if not (row["arm"] == "ps-noise" and row["unit"] == 1)]
    unlearned += curve({"arm": "ps-noise", "unit": 1}, [0.3, 0.25, 0.35])
    assert {row["verdict"] for row in decisive.ladder_claims(transfer, unlearned, ablations.LADDER, "landscapes")} \
        == {decision.UNTESTED}


def test_claims_file_keeps_the_claims_another_notebook_decided(tmp_path):
    path = tmp_path / "claims.csv"
    first = decisive.claims(*experiment())
    third = decisive.ladder_claims(*ladder_experiment([0.40, 0.30, 0.20, 0.10]), ablations.LADDER, "landscapes")
    decision.update(path, third)
    decision.update(path, first)                           # notebook 04 after notebook 05
    decision.update(path, third)                           # and 05 again: its rows replaced, not doubled
    rows = tables.csv_rows(path)
    assert [int(row["claim"]) for row in rows] == [1] * 3 + [2] * 3 + [3] * 4
    assert float(rows[0]["effect"]) == first[0]["effect"]                        # floats round-trip exactly
    shown = decisive.key_tables(tmp_path)
    (table,) = shown.values()
    assert [row["verdict"] for row in table] == [row["verdict"] for row in first + third]
    assert table[0]["effect [95%]"].startswith("-0.100 [") and table[0]["pretraining gate"] == "passes"
    assert table[2]["units"] == table[2]["effect [95%]"] == ""   # a claim's overall row has no comparison of its own
    headline = readme.block("claims", tmp_path, paths.ROOT)           # the README's headline table
    assert headline.count("| 3 | landscapes |") == 4 and "untested" not in headline
    assert "Not yet run" in readme.block("claims", tmp_path / "empty", paths.ROOT)


def test_device_study_script_prepares_its_network_and_runs_the_experiment_at_smoke_size(tmp_path):
    environment = {**os.environ, "PYTHON": sys.executable, "WEIGHTS": str(tmp_path / "half.pt"), "DEVICE": "cpu",
                   "RUNS": str(tmp_path / "runs"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    script = [str(paths.ROOT / "scripts" / "device_study.sh")]
    subprocess.run(["bash", *script, "prepare"], env=environment, check=True, capture_output=True)
    assert (tmp_path / "half.pt").stat().st_size < metrics.inception_weights_path().stat().st_size * 0.6
    images = sources.load_images("landscapes")[:4]
    stock = metrics.InceptionFeatures(backend="torchscript")(images, progress=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(metrics.INCEPTION_ENV, str(tmp_path / "half.pt"))
        rounded = metrics.InceptionFeatures(backend="torchscript")
        assert rounded.version != metrics.InceptionFeatures.version       # cached apart from the stock features
        assert np.abs(rounded(images, progress=False) - stock).max() < 1e-2 * np.abs(stock).max()
    subprocess.run(["bash", *script, "run", str(tmp_path / "out"), "smoke"], env=environment, check=True,
                   capture_output=True)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(["claims.csv", "04_decisive_curves.png", "decisive_pretrain_curves.csv",
                              "04_decisive_samples.png", "decisive_transfer_curves.csv", "device.txt", "log.txt"])
    claims = tables.csv_rows(tmp_path / "out" / "claims.csv")
    assert len(claims) == 2 * (len(decisive.PRIMARY_TARGETS) + 1)
    assert {row["verdict"] for row in claims} <= {decision.HOLDS, decision.DOES_NOT_HOLD, decision.UNTESTED}
    device = (tmp_path / "out" / "device.txt").read_text()
    assert "weights " + str(tmp_path / "half.pt") in device and "wall_s" in device


def test_the_committed_claims_are_the_engines_rows_on_the_committed_curves():
    # claims 1-2 of figures/claims.csv recomputed from the committed curves, number for number, by the
    # gates of the design version they were scored under (3 until design 4's runs replace them)
    curves = {part: tables.csv_rows(paths.FIGURES_DIR / decisive.FILES[part]) for part in ("pretrain", "transfer")}
    scored_under = 4 if any(int(float(row["iteration"])) == 0 for row in curves["transfer"]) else 3
    recomputed = decisive.claims(curves["transfer"], curves["pretrain"], rules=decisive.GATE_RULES[scored_under])
    committed = [row for row in decision.read(paths.FIGURES_DIR / decisive.FILES["claims"]) if row["claim"] in "12"]
    assert len(committed) == len(recomputed)
    for found, row in zip(recomputed, committed):
        assert [str(found[key]) for key in decision.COLUMNS] == [row[key] for key in decision.COLUMNS]


def test_notebook_03_trains_every_pretraining_run_of_04_and_05_once_and_gates_each():
    from primps_core.study import pretraining
    from primps_core.study.pipeline import StageResult
    study = pretraining.study_plan("cpu")
    needed = {job for _, transfer in decisive.transfer_plan("cpu") + ablations.plan("cpu") for job in transfer.needs()}
    assert {job for _, job in study} == needed and len(study) == len(needed)          # each once
    assert {job for _, job in pretraining.plan("cpu")} <= needed                        # the five: unit 0 of each
    counts = {}
    for labels, _ in study:
        counts[labels["source"]] = counts.get(labels["source"], 0) + 1
    assert counts["primitives-ps"] == 5 and counts["natural-patches"] == 3 and counts["ps-noise"] == 4
    curve = lambda kids: {"curve": [{"iteration": k * 1000, "kid_mean": kid} for k, kid in enumerate(kids)]}
    results = [StageResult(None, curve(kids), True) for kids in ([0.5, 0.3, 0.2, 0.15], [0.5, 0.25, 0.3, 0.265])]
    rows = pretraining.gate_rows([{"source": "a", "seed": 10}, {"source": "b", "seed": 11}], results)
    assert [(r["kid_start"], r["kid_third"], r["kid_end"], r["gate"]) for r in rows] == [
        (0.5, 0.3, 0.15, "passes"), (0.5, 0.25, 0.265, "fails")]                       # 0.015 over: past 0.01


def test_a_preset_without_the_secondary_grid_plans_none_and_leaves_no_earlier_figure(tmp_path):
    from primps_core.study import transfer
    assert transfer.secondary_plan("cpu") == [] and len(transfer.secondary_plan("smoke")) == 12
    names = [transfer.SECONDARY_TABLE, *(f"{name}.png" for name in transfer.SECONDARY_FIGURES), "claims.csv"]
    for name in names:
        (tmp_path / name).write_text("an earlier run's")
    transfer.remove_secondary_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.csv"]              # the decisive files stay
    assert transfer.key_tables(tmp_path) == {}
