"""Notebook 08's settings (study.ctf): which classes lose their HQ images and what each setting's
discriminator sees as real."""
import numpy as np
import pytest

from primps_core.data import glyphs
from primps_core.study import ctf


@pytest.fixture(scope="module")
def clean():
    return glyphs.load_glyphs()[0]


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
    sets = {setting: ctf.training_set(setting, clean, classes, per_class, seed=0) for setting in ctf.SETTINGS}
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
