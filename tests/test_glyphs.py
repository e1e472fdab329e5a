"""The many-class dataset of notebook 08: GB2312 level-1 characters drawn from Debian's CJK fonts.

The fonts themselves are too large to commit; ``tests/data/cjk-fonts/`` holds each face cut down to
a few characters by the builder (fontTools' subsetter keeps the outlines), and ``render`` draws
from outlines alone, so redrawing those classes from the cut fonts must give the committed bytes.
"""
import csv
from pathlib import Path

import numpy as np
import pytest
from matplotlib.ft2font import FT2Font

from primps_core.data import glyphs

TEST_FONTS = Path(__file__).resolve().parent / "data" / "cjk-fonts"


def test_gb2312_level1_is_the_3755_characters_in_code_order():
    characters = glyphs.gb2312_level1()
    assert len(characters) == len(set(characters)) == 3755
    assert (characters[0], characters[-1]) == ("\u554a", "\u5ea7")            # the first and last of level 1
    codes = [c.encode("gb2312") for c in characters]
    assert codes == sorted(codes) and codes[0] == b"\xb0\xa1" and codes[-1] == b"\xd7\xf9"
    assert all("\u4e00" <= c <= "\u9fff" for c in characters)                  # CJK unified ideographs


def test_committed_glyphs_hold_every_class_and_face():
    images, characters, faces = glyphs.load_glyphs()
    assert images.shape == (3755, len(glyphs.FACES), glyphs.SIZE, glyphs.SIZE) and images.dtype == np.uint8
    assert characters == glyphs.gb2312_level1() and faces == tuple(face.name for face in glyphs.FACES)
    ink = images.reshape(3755, len(faces), -1)
    assert (ink.max(axis=2) >= 240).all()                          # every glyph has solid strokes...
    assert (images[:, :, 0, :] < 128).all() and (images[:, :, -1, :] < 128).all()   # ...inside the square
    assert not np.array_equal(images[:, 0], images[:, 1])          # the faces differ


@pytest.mark.parametrize("face_number", range(len(glyphs.FACES)))
def test_builder_redraws_the_committed_bytes_from_the_cut_fonts(face_number):
    rows = list(csv.DictReader(open(TEST_FONTS / "PROVENANCE.csv")))
    font = TEST_FONTS / rows[face_number]["file"]
    assert glyphs.FACES[face_number].package in rows[face_number]["source"]
    held = set(FT2Font(str(font)).get_charmap())
    classes = [k for k, c in enumerate(glyphs.gb2312_level1()) if ord(c) in held]
    assert len(classes) >= 5 and classes[0] == 0 and classes[-1] == 3754
    drawn = glyphs.render(font, 0, [glyphs.gb2312_level1()[k] for k in classes])
    committed = glyphs.load_glyphs()[0][classes, face_number]
    assert np.array_equal(drawn, committed)


def test_a_font_missing_a_class_is_refused_naming_the_font_and_the_character():
    font = TEST_FONTS / "0_fonts-droid-fallback.ttf"
    absent = glyphs.gb2312_level1()[3]                              # not among the cut font's characters
    with pytest.raises(ValueError, match=rf"0_fonts-droid-fallback\.ttf.*no glyph for 1 of the 2.*U\+{ord(absent):04X}"):
        glyphs.render(font, 0, [glyphs.gb2312_level1()[0], absent])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        glyphs.render(TEST_FONTS / "absent.ttf", 0, ["\u554a"])


def test_unreadable_fonts_and_glyph_files_give_one_clear_error(tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    with pytest.raises(ValueError, match="broken.ttf.*not a readable font"):
        glyphs.render(broken, 0, ["\u554a"])
    with pytest.raises(FileNotFoundError, match="build_data.py --only cjk-glyphs"):
        glyphs.load_glyphs(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a readable .npz"):
        glyphs.load_glyphs(corrupt)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=np.zeros((2, 1, 16, 16), np.uint8), characters=np.array(["a", "b"]), faces=np.array(["x"]))
    with pytest.raises(ValueError, match=r"uint8 \(classes, faces, 32, 32\)"):
        glyphs.load_glyphs(wrong)


@pytest.fixture(scope="module")
def clean():
    return glyphs.load_glyphs()[0]


def _nearest_template(images: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Index of the template each image correlates with most (zero-mean, unit-norm pixels after a
    one-pixel blur, which forgives the small shifts): a crude classifier, chance is 1/31 here."""
    from scipy import ndimage

    def normalise(x):
        x = ndimage.gaussian_filter(x.astype(np.float64), (0, 1, 1)).reshape(len(x), -1)
        x -= x.mean(axis=1, keepdims=True)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    return (normalise(images) @ normalise(templates).T).argmax(axis=1)


def test_high_quality_variants_keep_their_class_and_vary_within_it(clean):
    classes = np.arange(0, 3755, 125)                                # 31 classes across the table
    images, labels = glyphs.high_quality(clean, classes, per_class=6, seed=0)
    assert images.shape == (len(classes) * 6, 32, 32) and images.dtype == np.uint8
    assert np.array_equal(labels, np.repeat(np.arange(len(classes)), 6))
    again, _ = glyphs.high_quality(clean, classes, per_class=6, seed=0)
    other, _ = glyphs.high_quality(clean, classes, per_class=6, seed=1)
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    templates = clean[classes].astype(np.float64).mean(axis=1)     # each class over the faces
    assert (_nearest_template(images, templates) == labels).mean() >= 0.7
    same_class = images.reshape(len(classes), 6, -1).astype(np.int16)
    assert (np.abs(same_class[:, 1:] - same_class[:, :1]).mean(axis=2) > 5).all()   # no two copies alike


def test_low_quality_degrades_but_keeps_most_of_the_class(clean):
    classes = np.arange(0, 3755, 125)
    images, labels = glyphs.high_quality(clean, classes, per_class=6, seed=0)
    degraded = glyphs.low_quality(images, seed=2)
    assert degraded.shape == images.shape and degraded.dtype == np.uint8
    assert np.array_equal(degraded[:10], glyphs.low_quality(images[:10], seed=2))    # image i: (seed, i) only
    assert not np.array_equal(degraded, glyphs.low_quality(images, seed=3))

    def detail(x):                                                   # energy of the finest differences
        return np.abs(np.diff(x.astype(np.float64), axis=2)).mean()
    assert detail(degraded) < 0.8 * detail(images)
    templates = clean[classes].astype(np.float64).mean(axis=1)
    accuracy = (_nearest_template(degraded, templates) == labels).mean()
    assert 0.5 <= accuracy < (_nearest_template(images, templates) == labels).mean()
    with pytest.raises(ValueError, match="uint8"):
        glyphs.low_quality(images.astype(np.float32), seed=0)


def test_the_small_classifier_reads_glyph_classes_at_32_px(clean):
    """The scorer notebook 08 uses for class accuracy (eval.classifier at the glyphs' side): trained on
    high-quality variants of 40 classes, it names fresh variants far above chance and degraded ones less well."""
    from primps_core.eval import classifier
    classes = np.arange(0, 3755, 94)[:40]
    train, train_labels = glyphs.high_quality(clean, classes, per_class=12, seed=0)
    test, test_labels = glyphs.high_quality(clean, classes, per_class=4, seed=1)
    model = classifier.fit(train, train_labels, len(classes), epochs=6, seed=0)
    assert model.side == 32 and classifier.logits(model, test[:3]).shape == (3, 40)
    clean_accuracy = classifier.accuracy(model, test, test_labels)
    assert clean_accuracy > 0.4                                     # chance: 0.025
    assert classifier.accuracy(model, glyphs.low_quality(test, seed=2), test_labels) < clean_accuracy
    with pytest.raises(ValueError, match=r"uint8 \(N, 32, 32\)"):
        classifier.logits(model, np.zeros((2, 28, 28), np.uint8))
