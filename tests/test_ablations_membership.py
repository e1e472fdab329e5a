"""Notebooks 05-06's plans: which runs they make, which they share with notebook 04, which data they attack."""
import numpy as np
import pytest

from primps_core.data import photos as photo_data, sources
from primps_core.presets import get_preset
from primps_core.study import ablations, decisive, runs
from primps_core.study import membership_inference


def test_ablation_plan_replicates_over_pretraining_seeds_and_reuses_the_decisive_runs():
    plan = ablations.plan("cpu")
    sizes, arms = get_preset("cpu"), decisive.units("cpu")
    decisive_jobs = {job for _, job in decisive.transfer_plan("cpu")}
    units = {}
    for labels, job in plan:
        units.setdefault((labels["family"], labels["setting"]), set()).add(labels["unit"])
        assert labels["target"] == ablations.TARGET == job.config.train.source.name
        assert job.config.train.seed == runs.unit_seed(labels["unit"])      # unit u: fine-tuning seed 10 + u
        if job.config.init is not None:                                     # ... from pretraining run 10 + u
            assert job.config.init.train.seed == runs.unit_seed(labels["unit"])
        shared = labels["setting"] in decisive.ARMS
        assert (job in decisive_jobs) == shared                             # the same config: the cached run
        assert job.config.evals == (sizes.transfer_evals if shared else ablations.ABLATION_EVALS)
    for rung in ablations.LADDER:
        expected = arms[rung] if rung in arms else sizes.ladder_units
        assert units["components", rung] == set(range(expected))
    assert sizes.ladder_units >= 4                                          # claim 3 can reach the level (design v3)
    for knob in ablations.KNOBS[1:1 + sizes.knobs]:
        assert units["knobs", knob.name] == set(range(sizes.knob_units))
    knob_sources = {job.config.init.train.source.options for labels, job in plan if labels["family"] == "knobs"
                    and job.config.init is not None}
    assert knob_sources == {s.options for s in ablations.KNOBS[:1 + sizes.knobs]}    # one source per knob run


def test_ablation_rows_count_a_shared_run_once_and_families_select_their_settings():
    plan = [({"family": "components", "setting": "scratch", "target": "landscapes", "unit": 0}, None),
            ({"family": "knobs", "setting": "scratch", "target": "landscapes", "unit": 0}, None),
            ({"family": "knobs", "setting": "10 shapes", "target": "landscapes", "unit": 0}, None)]

    class Result:
        def __init__(self, *fids):
            self.value = {"curve": [{"iteration": 4 * (k + 1), "fid": fid, "kid_mean": fid / 1000, "kid_std": 0.01}
                                    for k, fid in enumerate(fids)]}
    rows = ablations.rows(plan, [Result(320.0, 300.0), Result(320.0, 300.0), Result(250.0)])
    assert [(r["setting"], r["iters"], r["fid"]) for r in rows] == [("scratch", 4, 320.0), ("scratch", 8, 300.0),
                                                                    ("10 shapes", 4, 250.0)]
    assert [(r["setting"], r["fid"]) for r in ablations.family(rows, "components")] == [("scratch", 300.0)]
    assert [r["setting"] for r in ablations.family(rows, "knobs")] == ["scratch", "10 shapes"]
    (compared,) = ablations.comparisons(rows + [{**rows[2], "unit": 1, "kid_mean": 0.26},
                                                {**rows[1], "unit": 1, "kid_mean": 0.31}], "scratch", ["10 shapes"])
    assert compared["kid_difference"] == pytest.approx(0.255 - 0.305) and compared["p"] == pytest.approx(1 / 3)


def test_privacy_queries_come_from_disjoint_sources():
    crops = membership_inference.photo_queries("smoke", 6)
    assert crops["members"].shape == crops["nonmembers"].shape == (6, 16, 16, 3)
    np.testing.assert_array_equal(crops["nonmembers"], photo_data.natural_patches(
        6, resolution=16, seed=membership_inference.SEED, start=membership_inference.QUERY_START, split="heldout"))
    shots = membership_inference.target_queries("smoke")
    assert membership_inference.TARGET == "landscapes"                     # a colour photo target (issue: 06 on one)
    assert (len(shots["members"]), len(shots["nonmembers"])) == (110, 55)
    member_bytes = {image.tobytes() for image in shots["members"]}
    assert not member_bytes & {image.tobytes() for image in shots["nonmembers"]}
    own = membership_inference.synthetic_queries("smoke", n=4)
    train = runs.pretrain_config("primitives-ps", "smoke").train
    np.testing.assert_array_equal(own["members"], sources.image_stream(train.source, 16, train.seed)(0, 4))
    assert not np.array_equal(own["members"], own["nonmembers"])
    jobs = [job for _, job in membership_inference.plan("smoke")]
    transfers = [job.config for job in jobs if job.stage is runs.transfer_stage]
    parts = [dict(config.train.source.options).get("part") for config in transfers]
    assert sorted(parts) == ["members"] * 3 * membership_inference.UNITS + ["reference"] * 3 * membership_inference.UNITS
    assert membership_inference.UNITS >= 2                                 # each model replicated over pretraining seeds
    for config in transfers:                                         # unit u: pretraining run u, fine-tuning seed u
        assert config.init is None or config.init.train.seed == config.train.seed
    assert dict(jobs[0].config.train.source.options) == {"split": "reference"}
