"""Data named once: what a user names resolves to one DataRef, and a file set is keyed by its content."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from primps_core import synth
from primps_core.data import images as image_files
from primps_core.data import sources
from primps_core.study import runs


def tiny_set(path, value: int):
    image_files.save_images(np.full((4, 16, 16, 3), value, np.uint8), path, overwrite=True)
    return path


def test_each_kind_of_name_resolves_once_and_a_ref_resolves_to_itself(tmp_path):
    assert sources.resolve("primitives-ps", {"n_shapes": 10}) == sources.DataRef(
        "synthetic", "primitives-ps", (("n_shapes", 10),), synth.code_digest())
    assert sources.resolve("natural-patches", (("split", "reference"),)).kind == "natural"
    target = sources.resolve("faces-100")
    assert (target.kind, target.finite, target.digest) == ("target", True, "")
    files = sources.resolve(tiny_set(tmp_path / "set.zip", 7))
    assert files.kind == "files" and files.name == str((tmp_path / "set.zip").resolve()) and len(files.digest) == 16
    assert sources.resolve(files) is files and files.label == "set.zip"
    kinds = sources.resolve("primitives", {"shape_kinds": ["line", "circle"]})
    assert kinds.options == (("shape_kinds", ("line", "circle")),) and hash(kinds)       # usable as a cache key


def test_a_file_set_is_keyed_by_its_content_not_its_place(tmp_path):
    first = sources.resolve(tiny_set(tmp_path / "a", 7))
    same_elsewhere = sources.resolve(tiny_set(tmp_path / "b", 7))
    assert first.digest == same_elsewhere.digest
    job = runs.transfer_job(str(tmp_path / "a"), "scratch", "smoke")
    tiny_set(tmp_path / "a", 8)                                   # the same folder, other images
    changed = runs.transfer_job(str(tmp_path / "a"), "scratch", "smoke")
    assert changed.config.train.source.digest != first.digest and changed.path() != job.path()


def test_a_synthetic_source_is_keyed_by_the_synthesizer_code(monkeypatch):
    """Pretraining on a variant is recomputed when the synthesizer's code (and so its images) changes:
    a run cached before the published defaults must not stand for one after."""
    before = runs.pretrain_config("primitives-ps", "smoke")
    monkeypatch.setattr(synth, "code_digest", lambda: "0123456789abcdef")
    after = runs.pretrain_config("primitives-ps", "smoke")
    assert after.train.source.digest == "0123456789abcdef" != before.train.source.digest
    assert after.train.record()["source_digest"] == "0123456789abcdef"
    assert runs.pretrain_stage.path_for(after, "smoke") != runs.pretrain_stage.path_for(before, "smoke")


def test_named_sources_keep_the_record_runs_were_keyed_by(tmp_path):
    """Cached runs from before references existed still load: a named source is recorded as before."""
    record = runs.transfer_config("faces-100", "primitives-ps", "smoke").train.record()
    assert record["source"] == "faces-100" and record["source_options"] == [] and "source_digest" not in record
    files = runs.transfer_config(str(tiny_set(tmp_path / "set.npz", 3)), "scratch", "smoke").train.record()
    assert files["source"] == str((tmp_path / "set.npz").resolve()) and len(files["source_digest"]) == 16


def test_bad_names_and_options_give_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here does not exist: it is neither a synthesizer variant"):
        sources.resolve(str(tmp_path / "nothing-here"))
    with pytest.raises(ValueError, match="part must be one of 'members'"):
        sources.resolve("faces-100", {"part": "everything"})
    with pytest.raises(ValueError, match="an option of natural-patches must be one of 'split'; got 'part'"):
        sources.resolve("natural-patches", {"part": "members"})
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        sources.resolve("primitives", {"colour": "red"})
    with pytest.raises(ValueError, match="endless synthetic stream, not an image set"):
        sources.load_images("ps-noise")
    with pytest.raises(ValueError, match="target must be an image set"):
        runs.transfer_config("ps-noise", "scratch", "smoke")


def test_held_out_images_are_ones_no_run_trains_on():
    from primps_core.data import photos
    natural = sources.resolve(sources.NATURAL)
    held_out = sources.held_out_images(natural, 16, 3, 5)
    np.testing.assert_array_equal(held_out, photos.natural_patches(5, resolution=16, seed=3, split="heldout",
                                                                   start=sources.HELD_OUT_START))
    split = photos.photo_split()
    assert split["heldout"] and not set(split["heldout"]) & set(split["pretrain"])          # never a photo the natural source trains on
    synthetic = sources.resolve("primitives-ps")
    np.testing.assert_array_equal(sources.held_out_images(synthetic, 16, 3, 2),
                                  sources.image_stream(synthetic, 16, 3)(sources.HELD_OUT_START, 2))
    with pytest.raises(ValueError, match="finite image set"):
        sources.held_out_images(sources.resolve("landscapes"), 16, 0, 2)


def set_with_bad_files(folder, good: int = 6):
    """A folder of ``good`` readable 8 px PNGs (pixel value 10 k, named ``k.png``, each with class k
    in dataset.json) and two unreadable files, ``bad.jpg`` and ``cut.png``; returns the good images."""
    images = np.broadcast_to((10 * np.arange(good, dtype=np.uint8))[:, None, None, None], (good, 8, 8, 3))
    folder.mkdir()
    for k, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{k}.png")
    (folder / "bad.jpg").write_text("not a picture")
    noise = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(noise, format="PNG")
    (folder / "cut.png").write_bytes(noise.getvalue()[:100])             # its header and part of its pixels
    labels = [[f"{k}.png", k] for k in range(good)] + [["bad.jpg", 98], ["cut.png", 99]]
    (folder / "dataset.json").write_text(json.dumps({"labels": labels}))
    return images


def test_skip_bad_is_a_checked_option_of_a_file_set_only(tmp_path):
    path = tiny_set(tmp_path / "set.zip", 7)
    skipping = sources.resolve(path, {"skip_bad": True})
    assert skipping.options == (("skip_bad", True),) and skipping.digest == sources.resolve(path).digest
    assert sources.resolve(path, {"skip_bad": False}) == sources.resolve(path)            # the default: same key
    assert sources.resolve(path, {"skip_bad": True, "part": "members"}) == sources.resolve(
        path, {"part": "members", "skip_bad": np.True_})                                 # one order, plain bools
    assert runs.transfer_config(skipping, "scratch", "smoke").train.record()["source_options"] == [["skip_bad", True]]
    for value in ("yes", 1, None):
        with pytest.raises(TypeError, match=f"skip_bad must be True or False, got {value!r}"):
            sources.resolve(path, {"skip_bad": value})
    with pytest.raises(ValueError, match="an option of faces-100 must be one of 'part'; got 'skip_bad'"):
        sources.resolve("faces-100", {"skip_bad": True})
    with pytest.raises(ValueError, match="an option of set.zip must be one of 'part', 'skip_bad'; got 'skip'"):
        sources.resolve(path, {"skip": True})


def test_a_skip_bad_file_set_loads_streams_and_counts_without_its_bad_files(tmp_path):
    good = set_with_bad_files(tmp_path / "set")
    strict, skipping = sources.resolve(tmp_path / "set"), sources.resolve(tmp_path / "set", {"skip_bad": True})
    with pytest.raises(ValueError, match=r"^2 of the 8 images of \S*set cannot be read: bad\.jpg is not a readable "
                                         r"image: cannot identify image file; cut\.png is not a readable image: .*; "
                                         r"leave them out with --skip-bad"):
        sources.load_images(strict)
    np.testing.assert_array_equal(sources.load_images(skipping), good)
    epoch = sources.image_stream(skipping, 8, seed=1)(0, len(good))        # one epoch: each good image once
    assert sorted(int(image[0, 0, 0]) for image in epoch) == [10 * k for k in range(len(good))]
    assert sources.skipped_files(skipping) == ["bad.jpg", "cut.png"]
    assert sources.skipped_files(strict) == [] and sources.skipped_files("faces-100") == []
    assert sources.image_sizes(skipping) == {(8, 8): 7}                 # cut.png's header is whole, bad.jpg has none


def test_a_labelled_skip_bad_set_keeps_each_class_with_its_image(tmp_path):
    set_with_bad_files(tmp_path / "set")
    images, labels = sources.labelled_stream(sources.resolve(tmp_path / "set", {"skip_bad": True}), 8, seed=0)(0, 12)
    assert sorted(labels) == sorted(2 * list(range(6))) and (images[:, 0, 0, 0] == 10 * labels).all()
    with pytest.raises(ValueError, match="2 of the 8 images"):
        sources.labelled_stream(sources.resolve(tmp_path / "set"), 8, seed=0)
