"""Notebook 08's settings (study.ctf): which classes lose their HQ images and what each setting's
discriminator sees as real, the transfer module, the scores' images, the registered verdict rule
and the ctf-train command's checks."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

from primps_core.data import glyphs
from primps_core.paths import write_csv
from primps_core.presets import get_preset
from primps_core.study import ctf
from primps_core.study.pipeline import Context


@pytest.fixture(scope="module")
def clean():
    return ctf.image_source("cjk-glyphs")


def test_class_subset_spreads_over_the_whole_table():
    classes = ctf.class_subset(200)
    assert len(classes) == 200 and classes[0] == 0 and classes[-1] == 3754
    assert np.all(np.diff(classes) > 0) and np.ptp(np.diff(classes)) <= 1      # even spacing
    with pytest.raises(ValueError, match="classes"):
        ctf.class_subset(4000)


def test_removed_classes_are_a_seeded_thirty_percent():
    mask = ctf.removed_classes(200, seed=0)
    assert mask.sum() == 60 and np.array_equal(mask, ctf.removed_classes(200, seed=0))
    assert not np.array_equal(mask, ctf.removed_classes(200, seed=1))
    with pytest.raises(ValueError, match="kept_fraction"):
        ctf.removed_classes(200, seed=0, kept_fraction=1.0)


def test_each_setting_shows_the_discriminator_what_it_should(clean):
    classes, per_class = ctf.class_subset(20), 5
    sets = {setting: ctf.training_set(*ctf.SETTINGS[setting], clean, classes, per_class, seed=0)
            for setting in ctf.SETTINGS}
    full, kept, naive, transfer = (sets[s] for s in ctf.SETTINGS)
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
    classes = ctf.class_subset(20)
    removed = ctf.removed_classes(20, seed=0)
    low, high, labels = ctf.transfer_pairs(clean, classes, removed, per_class=3, seed=0)
    assert low.shape == high.shape == (14 * 3, 32, 32) and not removed[labels].any()
    def unit(x):
        x = x.reshape(len(x), -1).astype(float)
        x -= x.mean(axis=1, keepdims=True)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    nearest = (unit(low) @ unit(high).T).argmax(axis=1)                           # each LQ is its own HQ degraded
    assert (nearest == np.arange(len(low))).mean() >= 0.9


def test_the_transfer_module_learns_to_undo_the_degradation_on_held_out_pairs(clean):
    scale = dataclasses.replace(ctf.scale("smoke"), classes=12, per_class=8, transfer_steps=200)
    subset = ctf.class_subset(12)
    data = ctf.training_set(*ctf.SETTINGS["hq-70+lq-transfer"], clean, subset, scale.per_class, seed=0)
    low = data.images[data.transfer]
    mapped, errors = ctf.train_transfer(clean, subset, data, scale, 0, low)
    assert mapped.shape == low.shape and mapped.dtype == np.uint8
    assert errors["transfer_l1_after"] < 0.85 * errors["transfer_l1_before"]
    assert not np.array_equal(mapped, low)


def test_evaluation_images_are_balanced_and_drawn_apart_from_training(clean):
    scale = dataclasses.replace(ctf.scale("smoke"), classes=5, fid_samples=12, intra_classes=2, intra_samples=3)
    labels = ctf.evaluation_labels(scale)
    assert labels[:12].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4] and labels[12:].tolist() == [0] * 3 + [4] * 3
    test = ctf.real_test_images(clean, scale)
    assert test.shape == (18, 32, 32)
    training = ctf.training_set(1.0, "none", clean, ctf.class_subset(5), 10, seed=0).images
    assert not any(np.array_equal(image, seen) for image in test for seen in training)
    model = ctf.classifier.fit(*glyphs.high_quality(clean.table, ctf.class_subset(5), 20, seed=4), 5, epochs=6)
    assert (ctf.classifier.logits(model, test).argmax(1) == labels).mean() >= 0.8      # they show their classes


def _row(setting, ss, init, seed, accuracy, fid=100.0):
    return {"setting": setting, "self_supervision": ss, "init": init, "seed": seed, "accuracy": accuracy,
            "removed_accuracy": accuracy / 2, "fid": fid, "intra_fid": fid}


def test_claims_follow_the_registered_gate_and_welch_intervals():
    reference = {"chance": 0.01, "hq": {"accuracy": 0.81}}            # threshold 0.01 + 0.25 * 0.8 = 0.21
    levels = {"hq-100": [0.50, 0.52, 0.51], "hq-70": [0.30, 0.33, 0.31], "hq-70+lq": [0.40, 0.38, 0.45],
              "hq-70+lq-transfer": [0.41, 0.44, 0.39]}
    rows = [_row(setting, "off", "scratch", seed, value) for setting, values in levels.items()
            for seed, value in enumerate(values)]
    rows += [_row(setting, "on", "scratch", seed, 0.1) for setting in levels for seed in range(3)]   # never learns
    gates = ctf.gates(rows, reference)
    assert gates["off", "scratch"]["passes"] and not gates["on", "scratch"]["passes"]
    assert gates["off", "scratch"]["threshold"] == pytest.approx(0.21)
    found = ctf.claims(rows, reference)
    by = {(c["treatment"], c["control"], c["where"]): c for c in found}
    removal = by["hq-100", "hq-70", "scratch, SS off"]
    welch = scipy.stats.ttest_ind(levels["hq-100"], levels["hq-70"], equal_var=False).confidence_interval(0.95)
    assert removal["effect"] == pytest.approx(0.5 + 0.01 - 0.3133333, abs=1e-6)
    assert (removal["low"], removal["high"]) == pytest.approx((welch.low, welch.high))
    assert removal["verdict"] == "holds" and removal["removed_effect"] == pytest.approx(removal["effect"] / 2)
    assert by["hq-70+lq-transfer", "hq-70+lq", "scratch, SS off"]["verdict"] == "does not hold"
    assert by["hq-100", "hq-70", "scratch, SS on"]["verdict"] == "untested at this scale"
    assert by["SS on", "SS off", "hq-100, scratch"]["verdict"] == "untested at this scale"     # one gate fails
    assert not [c for c in found if c["factor"] == "init"]                # no primitives-ps rows: nothing to compare


def _ctf_train(*arguments, runs):
    return subprocess.run([sys.executable, "-m", "primps_core", "ctf-train", *arguments, "--preset", "smoke",
                           "--runs", str(runs)], capture_output=True, text=True)


def test_ctf_train_refuses_bad_settings_before_anything_runs(tmp_path):
    for arguments, message in ((["--hq-fraction", "0"], "hq_fraction must be in (0, 1]"),
                               (["--lq", "transfer"], "it needs hq_fraction < 1"),
                               (["--lq", "sharpened", "--hq-fraction", "0.5"], "lq must be one of"),
                               (["--classes", "4000"], "classes must be an integer in 2..3755"),
                               (["--init", "imagenet"], "init must be one of"),
                               (["--dataset", "mnist"], "--dataset must be one of"),
                               (["--dataset", "fashion-mnist", "--classes", "5"], "has its own classes"),
                               (["--samples-per-class", "2"], "--samples-per-class and --out go together"),
                               (["--samples-per-class", "2", "--out", str(tmp_path / "s.zip")], "must name an .npz")):
        done = _ctf_train(*arguments, runs=tmp_path)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("error: ") and message in done.stderr and done.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_the_plan_crosses_every_setting_self_supervision_and_init_and_reuses_notebook_04s_pretraining():
    from primps_core.study import runs
    plan = ctf.plan("cpu")
    sizes = ctf.get_preset("cpu")
    assert len(plan) == len(ctf.SETTINGS) * 2 * len(ctf.INITS) * sizes.ctf_seeds
    for labels, job in plan:
        config = job.config
        assert (config.hq_fraction, config.lq) == ctf.SETTINGS[labels["setting"]]
        assert config.self_supervision == (labels["self_supervision"] == "on") and config.seed == labels["seed"]
        expected = None if labels["init"] == "scratch" else runs.pretrain_config("primitives-ps", "cpu", seed=labels["seed"])
        assert config.init == expected                # the decisive experiment's Primitives-PS run of that seed
    assert len({job.config.reference for _, job in plan}) == 1


def test_fashion_mnist_draws_come_from_disjoint_pools_and_keep_the_glyph_protocol():
    source = ctf.image_source("fashion-mnist")
    classes = source.subset(10)
    draws = {purpose: source.draw(classes, 8, purpose, seed=1) for purpose in ctf.PURPOSES}
    for purpose, (images, labels) in draws.items():
        assert images.shape == (80, 32, 32) and labels.tolist() == np.repeat(np.arange(10), 8).tolist()
        assert not images[:, :2].any() and not images[:, :, -2:].any()          # padded from 28 px with black
    flat = {purpose: {image.tobytes() for image in images} for purpose, (images, _) in draws.items()}
    for a in ctf.PURPOSES:
        for b in ctf.PURPOSES:
            assert a == b or not flat[a] & flat[b], (a, b)                     # no image serves two purposes
    assert np.array_equal(source.draw(classes, 8, "hq", seed=1)[0], draws["hq"][0])
    assert not np.array_equal(source.draw(classes, 8, "hq", seed=2)[0], draws["hq"][0])
    model = ctf.classifier.fit(*source.draw(classes, 100, "classifier", 0), 10, epochs=3)
    hq, labels = draws["test"]
    assert (ctf.classifier.logits(model, hq).argmax(1) == labels).mean() >= 0.6  # the labels are right
    data = ctf.training_set(*ctf.SETTINGS["hq-70+lq"], source, classes, 8, seed=0)
    assert data.removed.sum() == 3 and len(data.images) == 80 and set(data.labels) == set(range(10))
    with pytest.raises(ValueError, match="Fashion-MNIST has 10 classes"):
        source.subset(20)
    with pytest.raises(ValueError, match="holds 100 images of class 0, 101 asked for"):
        source.draw(classes, 101, "test", seed=0)
    scale = ctf.scale("cpu", "fashion-mnist")
    assert scale.classes == 10 and scale.record()["dataset"] == "fashion-mnist"
    assert "dataset" not in ctf.scale("cpu").record()             # glyph runs keep the keys they were made with
    assert len(ctf.plan("cpu", "fashion-mnist")) == len(ctf.SETTINGS) * ctf.get_preset("cpu").ctf_seeds


def test_a_studys_rows_name_their_dataset_so_the_tables_keep_the_datasets_apart(tmp_path):
    outcome = ctf.run("smoke", "fashion-mnist", context=Context(tmp_path), progress=False)
    assert len(outcome["rows"]) == len(ctf.plan("smoke", "fashion-mnist"))
    assert {row["dataset"] for row in outcome["rows"]} == {"fashion-mnist"}
    assert {claim["dataset"] for claim in ctf.claims(outcome["rows"], outcome["reference"])} == {"fashion-mnist"}
    glyph_rows = [dict(row, dataset="cjk-glyphs", accuracy=0.0) for row in outcome["rows"]]
    write_csv(tmp_path / "ctf.csv", [{c: row[c] for c in ctf.COLUMNS} for row in outcome["rows"] + glyph_rows])
    write_csv(tmp_path / "ctf_claims.csv", ctf.claims(outcome["rows"], outcome["reference"]))
    summary = next(iter(ctf.key_tables(tmp_path).values()))
    seeds = get_preset("smoke").ctf_seeds
    assert [(r["dataset"], r["seeds"]) for r in summary] == ([("fashion-mnist", seeds)] * len(ctf.SETTINGS)
                                                                + [("cjk-glyphs", seeds)] * len(ctf.SETTINGS))
