"""Notebooks 05-06's plans: which runs they make, which they share with notebook 04, which data they attack."""
import numpy as np

from primps_core.data import photos as photo_data, sources
from primps_core.presets import get_preset
from primps_core.study import ablations, runs, transfer
from primps_core.study import privacy as privacy_study


def test_ablation_plan_covers_every_setting_and_reuses_notebook_04s_runs():
    plan = ablations.plan("smoke")
    seeds = get_preset("smoke").transfer_seeds
    components = [labels for labels, _ in plan if labels["family"] == "components"]
    knobs = [labels for labels, _ in plan if labels["family"] == "knobs"]
    assert len(components) == len(ablations.COMPONENTS) * len(ablations.COMPONENT_TARGETS) * seeds
    assert len(knobs) == (len(ablations.KNOBS) + len(ablations.REFERENCES)) * seeds
    notebook_04 = {runs.transfer_job(t, i, "smoke", seed=s) for t in transfer.TARGETS
                   for i in ablations.NOTEBOOK_04_INITS for s in range(seeds)}
    for labels, job in plan:
        shared = labels["setting"] in ablations.NOTEBOOK_04_INITS
        assert (job in notebook_04) == shared                      # the same config: the cached run is reused
        assert job.config.evals == (get_preset("smoke").transfer_evals if shared else ablations.ABLATION_EVALS)
    knob_inits = {job.config.init.train.source.options for labels, job in plan if labels["family"] == "knobs"
                  and job.config.init is not None}
    assert knob_inits == {s.options for s in ablations.KNOBS} | {()}  # one pretraining run per knob (+ the default)


def test_ablation_rows_count_a_shared_run_once_and_families_select_their_settings():
    plan = [({"family": "components", "setting": "scratch", "target": "faces-100", "seed": 0}, None),
            ({"family": "knobs", "setting": "scratch", "target": "faces-100", "seed": 0}, None),
            ({"family": "knobs", "setting": "10 shapes", "target": "faces-100", "seed": 0}, None)]

    class Result:
        def __init__(self, fid):
            self.value = {"iterations": 8, "fid": fid, "kid_mean": 0.1, "kid_std": 0.01}
    rows = ablations.rows(plan, [Result(300.0), Result(300.0), Result(250.0)])
    assert [(r["setting"], r["fid"]) for r in rows] == [("scratch", 300.0), ("10 shapes", 250.0)]
    assert [r["setting"] for r in ablations.family(rows, "components")] == ["scratch"]
    assert [r["setting"] for r in ablations.family(rows, "knobs")] == ["scratch", "10 shapes"]


def test_privacy_queries_come_from_disjoint_sources():
    crops = privacy_study.photo_queries("smoke", 6)
    assert crops["members"].shape == crops["nonmembers"].shape == (6, 16, 16, 3)
    np.testing.assert_array_equal(crops["nonmembers"], photo_data.natural_patches(
        6, resolution=16, seed=privacy_study.SEED, start=privacy_study.QUERY_START, split="heldout"))
    faces = privacy_study.target_queries("smoke")
    assert (len(faces["members"]), len(faces["nonmembers"])) == (50, 25)
    member_bytes = {image.tobytes() for image in faces["members"]}
    assert not member_bytes & {image.tobytes() for image in faces["nonmembers"]}
    own = privacy_study.synthetic_queries("smoke", n=4)
    train = runs.pretrain_config("primitives-ps", "smoke").train
    np.testing.assert_array_equal(own["members"], sources.image_stream(train.source, 16, train.seed)(0, 4))
    assert not np.array_equal(own["members"], own["nonmembers"])
    jobs = privacy_study.jobs("smoke")
    parts = [dict(job.config.train.source.options).get("part") for job in jobs if job.stage == "transfer"]
    assert sorted(parts) == ["members"] * 3 + ["reference"] * 3
    assert dict(jobs[0].config.train.source.options) == {"split": "reference"}
