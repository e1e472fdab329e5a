"""Notebook 08, many classes (study.many_classes, its parts and data.class_sources): which classes lose
their HQ images and what each setting's discriminator sees as real, the transfer module, the scores'
images, the registered design, the claims decided by the one engine (and recomputed from the
committed rows), and the many-classes-train command's checks."""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

from primps_core import paths
from primps_core.data import class_sources, glyphs
from primps_core.eval import claims as engine
from primps_core.eval import classifier
from primps_core.paths import write_csv
from primps_core.presets import get_preset
from primps_core.study import many_classes, many_classes_parts as parts, runs, tables
from primps_core.study.pipeline import Context

FIGURES = paths.ROOT / "figures"


@pytest.fixture(scope="module")
def clean():
    return class_sources.image_source("cjk-glyphs")


def test_class_subset_spreads_over_the_whole_table():
    classes = class_sources.class_subset(200)
    assert len(classes) == 200 and classes[0] == 0 and classes[-1] == 3754
    assert np.all(np.diff(classes) > 0) and np.ptp(np.diff(classes)) <= 1      # even spacing
    with pytest.raises(ValueError, match="classes"):
        class_sources.class_subset(4000)


def test_removed_classes_are_a_seeded_thirty_percent():
    mask = class_sources.removed_classes(200, seed=0)
    assert mask.sum() == 60 and np.array_equal(mask, class_sources.removed_classes(200, seed=0))
    assert not np.array_equal(mask, class_sources.removed_classes(200, seed=1))
    with pytest.raises(ValueError, match="kept_fraction"):
        class_sources.removed_classes(200, seed=0, kept_fraction=1.0)


def test_each_setting_shows_the_discriminator_what_it_should(clean):
    classes, per_class = class_sources.class_subset(20), 5
    sets = {setting: class_sources.training_set(*many_classes.SETTINGS[setting], clean, classes, per_class, seed=0)
            for setting in many_classes.SETTINGS}
    full, kept, naive, transfer = (sets[s] for s in many_classes.SETTINGS)
    removed = kept.removed
    assert removed.sum() == 6 and not full.removed.any()
    assert len(full.images) == 100 and set(full.labels) == set(range(20)) and not full.transfer.any()
    assert len(kept.images) == 70 and not removed[kept.labels].any()
    assert np.array_equal(kept.images, full.images[~removed[full.labels]])       # the same HQ images, fewer
    for lq in (naive, transfer):
        assert len(lq.images) == 100 and set(lq.labels) == set(range(20))
        assert np.array_equal(lq.images[:70], kept.images) and removed[lq.labels[70:]].all()
    assert not naive.transfer.any() and np.array_equal(transfer.transfer, np.arange(100) >= 70)
    assert np.array_equal(naive.images, transfer.images)
    def detail(x):                                                               # the finest differences
        return np.abs(np.diff(x.astype(float), axis=2)).mean()
    assert detail(naive.images[70:]) < detail(full.images[removed[full.labels]])   # the LQ images are worse


def test_transfer_pairs_come_from_kept_classes_and_match_one_to_one(clean):
    classes = class_sources.class_subset(20)
    removed = class_sources.removed_classes(20, seed=0)
    low, high, labels = class_sources.transfer_pairs(clean, classes, removed, per_class=3, seed=0)
    assert low.shape == high.shape == (14 * 3, 32, 32) and not removed[labels].any()
    def unit(x):
        x = x.reshape(len(x), -1).astype(float)
        x -= x.mean(axis=1, keepdims=True)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    nearest = (unit(low) @ unit(high).T).argmax(axis=1)                           # each LQ is its own HQ degraded
    assert (nearest == np.arange(len(low))).mean() >= 0.9


def test_the_transfer_module_learns_to_undo_the_degradation_on_held_out_pairs(clean):
    scale = dataclasses.replace(parts.scale("smoke"), classes=12, per_class=8, transfer_steps=200)
    subset = class_sources.class_subset(12)
    data = class_sources.training_set(*many_classes.SETTINGS["hq-70+lq-transfer"], clean, subset, scale.per_class,
                                      seed=0)
    low = data.images[data.transfer]
    mapped, errors = parts.train_transfer(clean, subset, data, scale, 0, low)
    assert mapped.shape == low.shape and mapped.dtype == np.uint8
    assert errors["transfer_l1_after"] < 0.85 * errors["transfer_l1_before"]
    assert not np.array_equal(mapped, low)


def test_evaluation_images_are_balanced_and_drawn_apart_from_training(clean):
    scale = dataclasses.replace(parts.scale("smoke"), classes=5, fid_samples=12, intra_classes=2, intra_samples=3)
    labels = parts.evaluation_labels(scale)
    assert labels[:12].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4] and labels[12:].tolist() == [0] * 3 + [4] * 3
    test = parts.real_test_images(clean, scale)
    assert test.shape == (18, 32, 32)
    training = class_sources.training_set(1.0, "none", clean, class_sources.class_subset(5), 10, seed=0).images
    assert not any(np.array_equal(image, seen) for image in test for seen in training)
    model = classifier.fit(*glyphs.high_quality(clean.table, class_sources.class_subset(5), 20, seed=4), 5, epochs=6)
    assert (classifier.logits(model, test).argmax(1) == labels).mean() >= 0.8      # they show their classes


def _row(setting, ss, init, seed, accuracy, fid=100.0, dataset="cjk-glyphs"):
    return {"dataset": dataset, "setting": setting, "self_supervision": ss, "init": init, "seed": seed,
            "accuracy": accuracy, "removed_accuracy": accuracy / 2, "fid": fid, "intra_fid": fid}


def _references(dataset="cjk-glyphs", chance=0.01, accuracy=0.81):
    real = {"accuracy": accuracy, "removed_accuracy": accuracy, "fid": 10.0, "intra_fid": 20.0}
    return many_classes.reference_rows(dataset, {"hq": real, "lq": {**real, "accuracy": 0.5}, "chance": chance})


def test_claims_follow_the_registered_gate_and_welch_intervals_through_the_engine():
    references = _references()                                   # threshold 0.01 + 0.25 * 0.8 = 0.21
    levels = {"hq-100": [0.50, 0.52, 0.51], "hq-70": [0.30, 0.33, 0.31], "hq-70+lq": [0.40, 0.38, 0.45],
              "hq-70+lq-transfer": [0.41, 0.44, 0.39]}
    rows = [_row(setting, "off", "scratch", seed, value) for setting, values in levels.items()
            for seed, value in enumerate(values)]
    rows += [_row(setting, "on", "scratch", seed, 0.1) for setting in levels for seed in range(3)]   # never learns
    gates = many_classes.gates(rows, references)
    assert gates["cjk-glyphs", "off", "scratch"].passes and not gates["cjk-glyphs", "on", "scratch"].passes
    assert gates["cjk-glyphs", "off", "scratch"].threshold == pytest.approx(0.21)
    assert gates["cjk-glyphs", "off", "scratch"].name == "hq-100 learns (scratch, SS off)"
    found = many_classes.claims(rows, references)
    assert all(tuple(row) == engine.COLUMNS for row in found)
    by = {(c["treatment"], c["control"], c["where"], c["outcome"]): c for c in found}
    removal = by["hq-100", "hq-70", "cjk-glyphs: scratch, SS off", "accuracy"]
    welch = scipy.stats.ttest_ind(levels["hq-100"], levels["hq-70"], equal_var=False).confidence_interval(0.95)
    assert removal["claim"] == 1 and removal["rule"] == engine.INTERVAL
    assert removal["effect"] == pytest.approx(0.5 + 0.01 - 0.3133333, abs=1e-6)
    assert (removal["low"], removal["high"]) == pytest.approx((welch.low, welch.high))
    assert removal["verdict"] == "holds" and removal["gates"] == "hq-100 learns (scratch, SS off): passes"
    secondary = by["hq-100", "hq-70", "cjk-glyphs: scratch, SS off", "removed_accuracy"]
    assert secondary["rule"] == engine.DESCRIPTIVE and secondary["verdict"] == ""
    assert secondary["effect"] == pytest.approx(removal["effect"] / 2)
    assert by["hq-70+lq-transfer", "hq-70+lq", "cjk-glyphs: scratch, SS off", "accuracy"]["verdict"] == "does not hold"
    assert by["hq-100", "hq-70", "cjk-glyphs: scratch, SS on", "accuracy"]["verdict"] == engine.UNTESTED
    both = by["SS on", "SS off", "cjk-glyphs: hq-100, scratch", "accuracy"]           # one of its two gates fails
    assert both["claim"] == many_classes.SS_CLAIM and both["verdict"] == engine.UNTESTED
    assert engine.gate_states(both["gates"]) == {"hq-100 learns (scratch, SS on)": False,
                                                 "hq-100 learns (scratch, SS off)": True}
    assert not [c for c in found if c["claim"] == many_classes.INIT_CLAIM]   # no primitives-ps rows: nothing to compare


def test_the_committed_claims_are_the_committed_rows_decided_again():
    """figures/many_classes_claims.csv is what ``claims`` gives for figures/many_classes.csv and the
    real images scored alike (figures/many_classes_reference.csv): every number to 1e-12, every
    gate and verdict the same."""
    rows = tables.csv_rows(FIGURES / "many_classes.csv")
    references = tables.csv_rows(FIGURES / "many_classes_reference.csv")
    decided = many_classes.claims(rows, references)
    committed = engine.read(FIGURES / "many_classes_claims.csv")
    assert len(decided) == len(committed) == 3 * 36
    for new, old in zip(decided, committed):
        for key in engine.COLUMNS:
            if key in ("effect", "low", "high", "treatment_mean", "control_mean"):
                assert new[key] == pytest.approx(float(old[key]), abs=1e-12, rel=0), (key, old)
            else:
                assert str(new[key]) == old[key], (key, old)
    assert {row["verdict"] for row in decided if row["outcome"] == "accuracy"} == {engine.UNTESTED}


def test_the_design_is_registered_with_its_digest_and_states_what_the_code_applies(tmp_path):
    path = many_classes.DESIGN.write(tmp_path)
    assert path.name == "many_classes_design.json"
    assert json.loads(path.read_text()) == json.loads((FIGURES / "many_classes_design.json").read_text())
    version = many_classes.DESIGN.current()
    assert version["claims"] == list(many_classes.CLAIMS) and version["why"]
    with pytest.raises(ValueError, match="gate"):
        many_classes._check({**version, "gate": version["gate"].replace("0.25", "0.5")})


def _many_classes_train(*arguments, runs):
    return subprocess.run([sys.executable, "-m", "primps_core", "many-classes-train", *arguments, "--preset", "smoke",
                           "--runs", str(runs)], capture_output=True, text=True)


def test_many_classes_train_refuses_bad_settings_before_anything_runs(tmp_path):
    for arguments, message in ((["--hq-fraction", "0"], "hq_fraction must be in (0, 1]"),
                               (["--lq", "transfer"], "it needs hq_fraction < 1"),
                               (["--lq", "sharpened", "--hq-fraction", "0.5"], "lq must be one of"),
                               (["--classes", "4000"], "classes must be an integer in 2..3755"),
                               (["--init", "imagenet"], "init must be one of"),
                               (["--dataset", "mnist"], "--dataset must be one of"),
                               (["--dataset", "fashion-mnist", "--classes", "5"], "has its own classes"),
                               (["--samples-per-class", "2"], "--samples-per-class and --out go together"),
                               (["--samples-per-class", "2", "--out", str(tmp_path / "s.zip")], "must name an .npz")):
        done = _many_classes_train(*arguments, runs=tmp_path)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("error: ") and message in done.stderr and done.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_the_plan_crosses_every_setting_self_supervision_and_init_and_reuses_notebook_04s_pretraining():
    plan = many_classes.plan("cpu", "cjk-glyphs")
    sizes = get_preset("cpu")
    assert len(plan) == len(many_classes.SETTINGS) * 2 * len(many_classes.INITS) * sizes.many_classes_seeds
    for labels, job in plan:
        config = job.config
        assert job.stage is many_classes.many_classes_run_stage and labels["dataset"] == "cjk-glyphs"
        assert (config.hq_fraction, config.lq) == many_classes.SETTINGS[labels["setting"]]
        assert config.self_supervision == (labels["self_supervision"] == "on") and config.seed == labels["seed"]
        expected = None if labels["init"] == "scratch" else runs.pretrain_config("primitives-ps", "cpu", seed=labels["seed"])
        assert config.init == expected                # the decisive experiment's Primitives-PS run of that seed
    assert len({job.config.reference for _, job in plan}) == 1
    assert len(many_classes.plan("cpu")) == len(plan) + len(many_classes.plan("cpu", "fashion-mnist"))


def test_fashion_mnist_draws_come_from_disjoint_pools_and_keep_the_glyph_protocol():
    source = class_sources.image_source("fashion-mnist")
    classes = source.subset(10)
    draws = {purpose: source.draw(classes, 8, purpose, seed=1) for purpose in class_sources.PURPOSES}
    for purpose, (images, labels) in draws.items():
        assert images.shape == (80, 32, 32) and labels.tolist() == np.repeat(np.arange(10), 8).tolist()
        assert not images[:, :2].any() and not images[:, :, -2:].any()          # padded from 28 px with black
    flat = {purpose: {image.tobytes() for image in images} for purpose, (images, _) in draws.items()}
    for a in class_sources.PURPOSES:
        for b in class_sources.PURPOSES:
            assert a == b or not flat[a] & flat[b], (a, b)                     # no image serves two purposes
    assert np.array_equal(source.draw(classes, 8, "hq", seed=1)[0], draws["hq"][0])
    assert not np.array_equal(source.draw(classes, 8, "hq", seed=2)[0], draws["hq"][0])
    model = classifier.fit(*source.draw(classes, 100, "classifier", 0), 10, epochs=3)
    hq, labels = draws["test"]
    assert (classifier.logits(model, hq).argmax(1) == labels).mean() >= 0.6  # the labels are right
    data = class_sources.training_set(*many_classes.SETTINGS["hq-70+lq"], source, classes, 8, seed=0)
    assert data.removed.sum() == 3 and len(data.images) == 80 and set(data.labels) == set(range(10))
    with pytest.raises(ValueError, match="Fashion-MNIST has 10 classes"):
        source.subset(20)
    with pytest.raises(ValueError, match="holds 100 images of class 0, 101 asked for"):
        source.draw(classes, 101, "test", seed=0)
    scale = parts.scale("cpu", "fashion-mnist")
    assert scale.classes == 10 and scale.record()["dataset"] == "fashion-mnist"
    assert "dataset" not in parts.scale("cpu").record()           # glyph runs keep the keys they were made with
    assert len(many_classes.plan("cpu", "fashion-mnist")) == len(many_classes.SETTINGS) * get_preset("cpu").many_classes_seeds


def test_a_studys_rows_name_their_dataset_so_the_tables_keep_the_datasets_apart(tmp_path):
    outcome = many_classes.run("smoke", "fashion-mnist", context=Context(tmp_path), progress=False)
    assert len(outcome["rows"]) == len(many_classes.plan("smoke", "fashion-mnist"))
    assert all(tuple(row) == many_classes.COLUMNS for row in outcome["rows"])
    assert {row["dataset"] for row in outcome["rows"]} == {"fashion-mnist"}
    assert [row["images"] for row in outcome["references"]] == ["real HQ", "real LQ"]
    decided = many_classes.claims(outcome["rows"], outcome["references"])
    assert decided and all(row["where"].startswith("fashion-mnist: ") for row in decided)
    glyph_rows = [dict(row, dataset="cjk-glyphs", accuracy=0.0) for row in outcome["rows"]]
    write_csv(tmp_path / "many_classes.csv", outcome["rows"] + glyph_rows)
    write_csv(tmp_path / "many_classes_reference.csv",
              outcome["references"] + [dict(row, dataset="cjk-glyphs") for row in outcome["references"]])
    write_csv(tmp_path / "many_classes_claims.csv", decided)
    summary, real, verdicts = many_classes.key_tables(tmp_path).values()
    seeds = get_preset("smoke").many_classes_seeds
    assert [(r["dataset"], r["seeds"]) for r in summary] == ([("fashion-mnist", seeds)] * len(many_classes.SETTINGS)
                                                                + [("cjk-glyphs", seeds)] * len(many_classes.SETTINGS))
    assert len(real) == 4 and len(verdicts) == len(decided) // 3
