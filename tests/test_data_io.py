"""Image sets in and out: formats, colour modes, crops, atomic writes, targets, low-shot subsets, errors."""
import csv
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from primps_core.data import images as image_files, photos as photo_data, sources


def random_images(n=5, size=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_folder_is_read_recursively_in_name_order_with_every_extension(tmp_path):
    images = random_images(4)
    (tmp_path / "b").mkdir()
    Image.fromarray(images[0]).save(tmp_path / "a0.png")
    Image.fromarray(images[1]).save(tmp_path / "a1.bmp")
    Image.fromarray(images[2]).save(tmp_path / "b" / "c.webp", lossless=True)
    Image.fromarray(images[3]).save(tmp_path / "b" / "d.PNG")
    (tmp_path / "notes.txt").write_text("not an image and not an image extension")
    np.testing.assert_array_equal(sources.load_images(tmp_path), images)


def test_colour_modes_become_rgb(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[0, 0, 3], rgba[1, 1, 3] = 255, 255, 128   # red, opaque / half / transparent
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    rgb = image_files.read_image(tmp_path / "rgba.png")
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[2, 2]) == (255, 255, 255)
    assert rgb[1, 1, 0] == 255 and abs(int(rgb[1, 1, 1]) - 127) <= 1          # composited on white
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(image_files.read_image(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, axis=2))
    Image.fromarray(grey).convert("P").save(tmp_path / "palette.png")
    assert image_files.read_image(tmp_path / "palette.png").shape == (4, 4, 3)
    wide = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369)            # 0 .. 65535
    Image.fromarray(wide).save(tmp_path / "sixteen.png")
    np.testing.assert_array_equal(image_files.read_image(tmp_path / "sixteen.png")[..., 1], wide // 257)


def test_non_square_images_are_centre_cropped_then_lanczos_resized(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (10, 16, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "wide.png")
    np.testing.assert_array_equal(sources.load_images(tmp_path)[0], image[:, 3:13])
    expected = Image.fromarray(image[:, 3:13]).resize((7, 7), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(sources.load_images(tmp_path, resolution=7)[0], np.asarray(expected))


@pytest.mark.parametrize("name", ["set.zip", "set.npz", "set"])
def test_save_then_load_round_trips_each_format(tmp_path, name):
    images = random_images(7)
    image_files.save_images(images, tmp_path / name)
    np.testing.assert_array_equal(sources.load_images(tmp_path / name), images)
    assert [p.name for p in tmp_path.iterdir()] == [name]                  # no temporary left


def test_zip_is_the_stylegan2_ada_dataset_format(tmp_path):
    image_files.save_images(random_images(3), tmp_path / "set.zip")
    with zipfile.ZipFile(tmp_path / "set.zip") as archive:
        assert sorted(archive.namelist()) == ["00000/img00000000.png", "00000/img00000001.png",
                                              "00000/img00000002.png", "dataset.json"]
        assert json.loads(archive.read("dataset.json")) == {"labels": None}
    with image_files.ImageWriter(tmp_path / "shard.zip", first_index=1999) as writer:   # a shard's files
        writer.write(random_images(2))
    with zipfile.ZipFile(tmp_path / "shard.zip") as archive:
        assert sorted(archive.namelist())[:2] == ["00001/img00001999.png", "00002/img00002000.png"]


def test_chunked_writer_equals_one_shot_save_and_failures_leave_nothing(tmp_path):
    images = random_images(10)
    with image_files.ImageWriter(tmp_path / "chunks.npz", n=10) as writer:
        writer.write(images[:3])
        writer.write(images[3:])
    np.testing.assert_array_equal(sources.load_images(tmp_path / "chunks.npz"), images)
    with pytest.raises(RuntimeError, match="interrupted"):
        with image_files.ImageWriter(tmp_path / "broken.zip") as writer:
            writer.write(images[:2])
            raise RuntimeError("interrupted")
    with pytest.raises(ValueError, match="announced n=10"):
        with image_files.ImageWriter(tmp_path / "short.npz", n=10) as writer:
            writer.write(images[:4])
    with pytest.raises(ValueError, match="one shape"):
        with image_files.ImageWriter(tmp_path / "mixed") as writer:
            writer.write(images[:2])
            writer.write(random_images(2, size=8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunks.npz"]


def test_embedded_targets_load_by_name_with_provenance():
    expected = {"faces-100": 100, "emoji-animals": 159, "emoji-food": 131, "sneakers-100": 100,
                "landscapes": 220, "galaxies": 210}
    assert set(expected) == set(sources.TARGETS)
    for name, count in expected.items():
        images = sources.load_images(name)
        assert images.shape == (count, 64, 64, 3) and images.dtype == np.uint8
        with open(sources.target_dir(name) / "PROVENANCE.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == count and all(r["source"] and r["licence"] and r["original_path"] for r in rows)
        assert len({r["original_path"] for r in rows}) == count
    faces, emoji = sources.load_images("faces-100"), sources.load_images("emoji-food")
    assert np.array_equal(faces[..., 0], faces[..., 2])                   # greyscale faces
    assert (emoji[:, 0, 0] == 255).all(axis=1).mean() > 0.9                # transparent corners on white
    assert sources.load_images("sneakers-100", resolution=32).shape == (100, 32, 32, 3)
    for name in ("landscapes", "galaxies"):                  # colour photographs: channels differ in most images
        images = sources.load_images(name).astype(int)
        assert np.median(np.abs(images - images[..., :1]).mean(axis=(1, 2, 3))) > 2


def test_low_shot_subsets_are_reproducible_nested_and_checked():
    images = random_images(40, size=4)
    ten = photo_data.low_shot(images, 10, seed=3)
    np.testing.assert_array_equal(ten, photo_data.low_shot(images, 10, seed=3))
    assert not np.array_equal(ten, photo_data.low_shot(images, 10, seed=4))
    small, large = photo_data.low_shot_indices(40, 10, 3), photo_data.low_shot_indices(40, 25, 3)
    assert set(small) <= set(large) and len(set(large)) == 25
    np.testing.assert_array_equal(ten, images[small])
    for k, error in ((0, ValueError), (41, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="k"):
            photo_data.low_shot(images, k, seed=0)


def test_photo_split_is_a_disjoint_complete_partition_with_about_a_tenth_in_each_small_part():
    records = photo_data.photo_records()
    split = photo_data.photo_split(records)
    names = [name for part in photo_data.PHOTO_SPLITS for name in split[part]]
    assert sorted(names) == sorted(r["file"] for r in records)             # every photo, exactly once
    for part in ("heldout", "reference"):
        assert 0.05 < len(split[part]) / len(records) < 0.2
    assert photo_data.photo_split(records[::-1]) == {k: v[::-1] for k, v in split.items()}   # by name, not order


def test_membership_split_halves_members_and_splits_the_rest_disjointly():
    parts = photo_data.membership_split(100, seed=0)
    assert [len(parts[p]) for p in photo_data.MEMBERSHIP_PARTS] == [50, 25, 25]
    assert sorted(np.concatenate(list(parts.values()))) == list(range(100))
    np.testing.assert_array_equal(parts["members"], photo_data.low_shot_indices(100, 50, 0))
    assert not np.array_equal(parts["nonmembers"], photo_data.membership_split(100, seed=1)["nonmembers"])
    with pytest.raises(ValueError, match="at least 4"):
        photo_data.membership_split(3)


def test_natural_patches_are_index_addressable_crops_of_the_split():
    a = photo_data.natural_patches(6, resolution=16, seed=2)
    assert a.shape == (6, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a[4:], photo_data.natural_patches(2, resolution=16, seed=2, start=4))
    assert not np.array_equal(a, photo_data.natural_patches(6, resolution=16, seed=2, split="heldout"))
    assert a.std() > 5                                                      # real content, not flat
    with pytest.raises(ValueError, match="split"):
        photo_data.natural_patches(1, split="test")


def test_bad_inputs_raise_one_clear_error_naming_what_was_wrong(tmp_path):
    png = tmp_path / "good.png"
    Image.fromarray(random_images(1, size=32)[0]).save(png)
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "cut.png").write_bytes(png.read_bytes()[:60])
    with pytest.raises(ValueError, match="cut.png is not a readable image"):
        sources.load_images(folder)
    (folder / "cut.png").unlink()
    (folder / "fake.jpg").write_text("hello")
    with pytest.raises(ValueError, match="fake.jpg is not a readable image"):
        sources.load_images(folder)
    (folder / "fake.jpg").unlink()
    with pytest.raises(ValueError, match="holds no images"):
        sources.load_images(folder)
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("dataset.json", "{}")
    with pytest.raises(ValueError, match="empty.zip holds no images"):
        sources.load_images(tmp_path / "empty.zip")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("x/broken.png", b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="bad.zip:x/broken.png is not a readable image"):
        sources.load_images(tmp_path / "bad.zip")
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        sources.load_images(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="known: faces-100"):
        sources.load_images("faces-1000")
    with pytest.raises(ValueError, match="embedded dataset must be one of 'faces-100'"):
        sources.target_dir("cifar10")
    for resolution, error in ((0, ValueError), (-4, ValueError), (2.5, TypeError), ("64", TypeError), (True, TypeError)):
        with pytest.raises(error, match=r"resolution must be an integer in 1\.\.4096"):
            sources.load_images(png.parent, resolution=resolution)
    Image.fromarray(random_images(1, size=20)[0]).save(folder / "small.png")
    Image.fromarray(random_images(1, size=24)[0]).save(folder / "large.png")
    with pytest.raises(ValueError, match="different sizes"):
        sources.load_images(folder)
    np.save(tmp_path / "floats.npy", np.zeros((2, 4, 4, 3)))
    np.savez(tmp_path / "floats.npz", images=np.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="expected uint8 images"):
        sources.load_images(tmp_path / "floats.npz")
    with pytest.raises(ValueError, match="not a folder, a zip or an .npz"):
        sources.load_images(tmp_path / "floats.npy")
    with pytest.raises(ValueError, match="non-empty uint8 array"):
        image_files.save_images(np.zeros((2, 4, 4), np.uint8), tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


def test_one_image_is_read_whole_and_a_large_jpeg_is_drafted_only_for_a_set(tmp_path):
    """read_image returns the whole picture (the photo statistics measure it uncropped); a set is
    cropped to squares; a JPEG far larger than the set's resolution decodes at a reduced scale,
    which stays close to the full decode after the Lanczos resize."""
    ramp = np.linspace(0, 255, 640)
    picture = np.stack([np.add.outer(ramp[:400], ramp) / 2, np.tile(ramp, (400, 1)), np.full((400, 640), 90.0)],
                       axis=2).astype(np.uint8)
    Image.fromarray(picture).save(tmp_path / "wide.jpg", quality=95)
    whole = image_files.read_image(tmp_path / "wide.jpg")
    assert whole.shape == (400, 640, 3)
    drafted = image_files.read_image(tmp_path / "wide.jpg", resolution=32)
    assert drafted.shape == (100, 160, 3)                               # 1/4 scale keeps >= 2 x 32 rows
    (tmp_path / "set").mkdir()
    (tmp_path / "wide.jpg").rename(tmp_path / "set" / "wide.jpg")
    small = image_files.load_images(tmp_path / "set", resolution=32)[0]
    full = image_files.square(whole, 32)
    assert small.shape == (32, 32, 3) and np.abs(small.astype(int) - full).max() <= 3
    assert image_files.load_images(tmp_path / "set")[0].shape == (400, 400, 3)
