"""Notebooks 05-06's plans: which runs they make, which they share with notebook 04, which data they attack."""
import numpy as np

from primps_core import ablation, datasets, experiments, privacy_study, training


def test_ablation_plan_covers_every_setting_and_reuses_notebook_04s_runs():
    plan = ablation.plan("smoke")
    seeds = experiments.get_preset("smoke").transfer_seeds
    components = [labels for labels, _ in plan if labels["family"] == "components"]
    knobs = [labels for labels, _ in plan if labels["family"] == "knobs"]
    assert len(components) == len(ablation.COMPONENTS) * len(ablation.COMPONENT_TARGETS) * seeds
    assert len(knobs) == (len(ablation.KNOBS) + len(ablation.REFERENCES)) * seeds
    notebook_04 = {experiments.transfer_job(t, i, "smoke", seed=s) for t in datasets.TARGETS
                   for i in ablation.NOTEBOOK_04_INITS for s in range(seeds)}
    for labels, job in plan:
        shared = labels["setting"] in ablation.NOTEBOOK_04_INITS
        assert (job in notebook_04) == shared                      # the same config: the cached run is reused
        assert job.config.evals == (experiments.get_preset("smoke").transfer_evals if shared else ablation.ABLATION_EVALS)
    knob_inits = {job.config.init.train.source_options for labels, job in plan if labels["family"] == "knobs"
                  and job.config.init is not None}
    assert knob_inits == {s.options for s in ablation.KNOBS} | {()}  # one pretraining run per knob (+ the default)


def test_ablation_rows_count_a_shared_run_once_and_families_select_their_settings():
    plan = [({"family": "components", "setting": "scratch", "target": "faces-100", "seed": 0}, None),
            ({"family": "knobs", "setting": "scratch", "target": "faces-100", "seed": 0}, None),
            ({"family": "knobs", "setting": "10 shapes", "target": "faces-100", "seed": 0}, None)]

    class Result:
        def __init__(self, fid):
            self.value = {"iterations": 8, "fid": fid, "kid_mean": 0.1, "kid_std": 0.01}
    rows = ablation.rows(plan, [Result(300.0), Result(300.0), Result(250.0)])
    assert [(r["setting"], r["fid"]) for r in rows] == [("scratch", 300.0), ("10 shapes", 250.0)]
    assert [r["setting"] for r in ablation.family(rows, "components")] == ["scratch"]
    assert [r["setting"] for r in ablation.family(rows, "knobs")] == ["scratch", "10 shapes"]


def test_privacy_queries_come_from_disjoint_sources():
    photos = privacy_study.photo_queries("smoke", 6)
    assert photos["members"].shape == photos["nonmembers"].shape == (6, 16, 16, 3)
    np.testing.assert_array_equal(photos["nonmembers"], datasets.natural_patches(
        6, resolution=16, seed=privacy_study.SEED, start=privacy_study.QUERY_START, split="heldout"))
    faces = privacy_study.target_queries("smoke")
    assert (len(faces["members"]), len(faces["nonmembers"])) == (50, 25)
    member_bytes = {image.tobytes() for image in faces["members"]}
    assert not member_bytes & {image.tobytes() for image in faces["nonmembers"]}
    own = privacy_study.synthetic_queries("smoke", n=4)
    training_images = experiments.pretrain_config("primitives-ps", "smoke").train
    np.testing.assert_array_equal(own["members"], training.image_source(training_images)(0, 4))
    assert not np.array_equal(own["members"], own["nonmembers"])
    jobs = privacy_study.jobs("smoke")
    parts = [dict(job.config.train.source_options).get("part") for job in jobs if job.stage == "transfer"]
    assert sorted(parts) == ["members"] * 3 + ["reference"] * 3
    assert dict(jobs[0].config.train.source_options) == {"split": "reference"}
