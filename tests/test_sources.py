"""Data named once: what a user names resolves to one DataRef, and a file set is keyed by its content."""
import numpy as np
import pytest

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
