"""Image sets in and out: formats, colour modes, crops, atomic writes, targets, low-shot subsets, errors."""
import csv
import datetime
import io
import json
import os
import zipfile
from functools import partial

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile

from primps_core.data import images as image_files, photos as photo_data, sources, writing


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
    with pytest.raises(ValueError, match=r"no image of \S*bad\.zip can be read: x/broken\.png is not a readable image"):
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


def save(image: Image.Image, path, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def test_every_colour_mode_of_a_file_loads_as_rgb(tmp_path):
    """Real files of each mode a user's photo folder may hold, read back to the colours they show,
    then loaded together whatever their sizes."""
    palette = Image.new("P", (2, 2))
    palette.putpalette([255, 0, 0, 0, 0, 255, 0, 255, 0])
    palette.putdata([0, 1, 2, 0])                                    # red, blue / green, red
    grey = np.array([[0, 100], [200, 255]], np.uint8)
    alpha = Image.fromarray(np.array([[255, 0], [255, 0]], np.uint8))
    red, blue, green, white = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255)
    cases = {   # file: (image, save options, its mode when read, the RGB it shows)
        "grey.png": (Image.fromarray(grey), {}, "L", grey),
        "one_bit.png": (Image.fromarray(grey).convert("1"), {}, "1", np.array([[0, 0], [255, 255]])),
        "palette.png": (palette, {}, "P", [[red, blue], [green, red]]),
        "palette_transparent.png": (palette, {"transparency": 1}, "P", [[red, white], [green, red]]),
        "grey_alpha.png": (Image.merge("LA", [Image.fromarray(grey), alpha]), {}, "LA",
                           np.array([[0, 255], [200, 255]])),
        "colour_key.png": (Image.fromarray(np.array([[[1, 2, 3], [9, 9, 9]]], np.uint8)), {"transparency": (1, 2, 3)},
                           "RGB", [[white, (9, 9, 9)]]),
        "sixteen.png": (Image.fromarray(np.array([[0, 65535], [257 * 100, 257 * 200]], np.uint16)), {}, "I;16",
                        np.array([[0, 255], [100, 200]])),
    }
    folder = tmp_path / "mixed"
    for name, (image, options, mode, shown) in cases.items():
        path = save(image, folder / name, **options)
        shown = np.asarray(shown, np.uint8)
        assert Image.open(path).mode == mode, name
        np.testing.assert_array_equal(image_files.read_image(path), shown if shown.ndim == 3 else
                                      np.repeat(shown[..., None], 3, axis=2), err_msg=name)
    cmyk = save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), folder / "cmyk.jpg", quality=95)    # red ink
    assert Image.open(cmyk).mode == "CMYK"
    assert np.abs(image_files.read_image(cmyk).astype(int) - red).max() <= 3
    save(Image.new("RGB", (30, 12), (5, 6, 7)), folder / "sub" / "wide.webp", lossless=True)
    loaded = image_files.load_images(folder, resolution=4)
    assert loaded.shape == (len(cases) + 2, 4, 4, 3) and loaded.dtype == np.uint8
    assert tuple(loaded[-1, 0, 0]) == (5, 6, 7)                         # sub/wide.webp, cropped and resized


def sideways_jpeg(path, orientation: int = 6):
    """A 32 x 16 JPEG, left half red and right half blue, whose EXIF says to turn it (6: 90 degrees
    clockwise, so that red shows on top)."""
    pixels = np.zeros((16, 32, 3), np.uint8)
    pixels[:, :16], pixels[:, 16:] = (255, 0, 0), (0, 0, 255)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return save(Image.fromarray(pixels), path, exif=exif, quality=95)


def test_exif_orientation_turns_a_photo_upright_before_the_centre_crop(tmp_path):
    whole = image_files.read_image(sideways_jpeg(tmp_path / "set" / "phone.jpg"))
    assert whole.shape == (32, 16, 3)                                   # turned: 16 wide, 32 tall
    assert np.abs(whole[:14].astype(int) - [255, 0, 0]).max() <= 8       # red on top
    assert np.abs(whole[18:].astype(int) - [0, 0, 255]).max() <= 8       # blue below
    square = image_files.load_images(tmp_path / "set", resolution=8)[0]   # crop rows 8..24, then resize
    assert square[0, :, 0].min() > 240 and square[-1, :, 2].min() > 240 and square[-1, :, 0].max() < 15
    upside_down = image_files.read_image(sideways_jpeg(tmp_path / "flipped.jpg", orientation=3))
    assert upside_down.shape == (16, 32, 3) and upside_down[8, 2, 2] > 240 and upside_down[8, -2, 0] > 240


def test_image_sizes_are_read_from_headers_without_decoding(tmp_path, monkeypatch):
    folder = tmp_path / "set"
    for k in range(2):
        save(Image.new("RGB", (20, 10)), folder / f"wide{k}.png")
    save(Image.new("L", (16, 16)), folder / "sub" / "square.bmp")
    sideways_jpeg(folder / "phone.jpg")                                  # stored 32 x 16, shown 16 x 32
    whole = save(Image.fromarray(random_images(1, size=40)[0]), tmp_path / "whole.png").read_bytes()
    (folder / "cut.png").write_bytes(whole[:len(whole) // 2])            # its header is whole, its pixels are not
    (folder / "text.jpg").write_text("no header at all")
    expected = {(20, 10): 2, (16, 16): 1, (16, 32): 1, (40, 40): 1}

    def no_decoding(image):
        raise AssertionError("image_sizes decoded pixels")
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert image_files.image_sizes(folder) == expected
    with zipfile.ZipFile(tmp_path / "set.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for file in folder.rglob("*.*"):
            archive.write(file, file.relative_to(folder).as_posix())
    assert image_files.image_sizes(tmp_path / "set.zip") == expected
    np.savez(tmp_path / "set.npz", images=np.zeros((3, 6, 9, 3), np.uint8))
    assert image_files.image_sizes(tmp_path / "set.npz") == {(9, 6): 3}
    assert sources.image_sizes(sources.resolve(folder)) == expected
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        image_files.image_sizes(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty holds no images"):
        image_files.image_sizes(tmp_path / "empty")


def bad_folder(root, good: int, bad: int):
    """``good`` readable PNGs (``good{k}.png``, pixel value k) and ``bad`` unreadable files of
    different kinds (``bad{k}.*``) in one folder; returns the good images in load order."""
    images = np.broadcast_to(np.arange(good, dtype=np.uint8)[:, None, None, None], (good, 8, 8, 3))
    for k, image in enumerate(images):
        save(Image.fromarray(image), root / f"good{k}.png")
    whole = save(Image.fromarray(random_images(1, size=16)[0]), root / "whole.tmp", format="PNG").read_bytes()
    (root / "whole.tmp").unlink()
    kinds = [(".png", whole[:len(whole) // 2]), (".jpg", b"not a picture"), (".png", b"")]
    for k in range(bad):
        suffix, data = kinds[k % len(kinds)]
        (root / f"bad{k:02d}{suffix}").write_bytes(data)
    return images


def test_every_unreadable_file_of_a_folder_is_named_in_one_error(tmp_path):
    good = bad_folder(tmp_path / "set", good=3, bad=3)
    with pytest.raises(ValueError) as caught:
        image_files.load_images(tmp_path / "set")
    message = str(caught.value)
    assert message.startswith(f"3 of the 6 images of {tmp_path / 'set'} cannot be read: ")
    assert message.endswith(": bad00.png is not a readable image: image file is truncated; "
                            "bad01.jpg is not a readable image: cannot identify image file; "
                            "bad02.png is not a readable image: cannot identify image file; "
                            "leave them out with --skip-bad (skip_bad=True)")
    assert "<_io" not in message and "object at 0x" not in message and "\n" not in message
    np.testing.assert_array_equal(image_files.load_images(tmp_path / "set", skip_bad=True), good)
    assert image_files.unreadable_files(tmp_path / "set") == [
        ("bad00.png", "is not a readable image: image file is truncated"),
        ("bad01.jpg", "is not a readable image: cannot identify image file"),
        ("bad02.png", "is not a readable image: cannot identify image file")]
    with pytest.raises(TypeError, match="skip_bad must be True or False, got 'yes'"):
        image_files.load_images(tmp_path / "set", skip_bad="yes")


def test_many_unreadable_files_are_counted_and_an_all_bad_set_is_an_error(tmp_path):
    bad_folder(tmp_path / "many", good=1, bad=13)
    with pytest.raises(ValueError, match=r"^13 of the 14 images .*: bad00\.png .*; bad09\.png is not a readable "
                                         r"image: image file is truncated; and 3 more; leave them out with --skip-bad"
                       ) as caught:
        image_files.load_images(tmp_path / "many")
    assert "bad10" not in str(caught.value) and str(caught.value).count(" is not a readable image") == 10
    assert len(image_files.unreadable_files(tmp_path / "many")) == 13
    bad_folder(tmp_path / "none", good=0, bad=2)
    for skip_bad in (False, True):
        with pytest.raises(ValueError, match=r"^no image of \S*none can be read: bad00\.png is not a readable "
                                             r"image: image file is truncated; bad01\.jpg is not a readable image"):
            image_files.load_images(tmp_path / "none", 8, skip_bad=skip_bad)


def test_files_over_the_limits_are_unreadable_files_named_with_their_reason(tmp_path, monkeypatch):
    good = bad_folder(tmp_path / "set", good=2, bad=0)
    save(Image.new("RGB", (30, 20)), tmp_path / "set" / "large.png")
    with open(tmp_path / "set" / "huge.png", "wb") as handle:
        handle.truncate(image_files.MAX_FILE_BYTES + 1)                     # sparse: no disk used
    monkeypatch.setattr(image_files, "MAX_PIXELS", 500)                    # 30 x 20 = 600 pixels is over it
    assert image_files.unreadable_files(tmp_path / "set") == [
        ("huge.png", f"is {image_files.MAX_FILE_BYTES + 1:,} bytes, above the limit of {image_files.MAX_FILE_BYTES:,} "
                     f"bytes per image file (images.MAX_FILE_BYTES): refusing to read it"),
        ("large.png", "is 30 x 20 pixels, above the limit of 500 pixels per image (images.MAX_PIXELS): refusing to "
                      "decode it")]
    with pytest.raises(ValueError, match=r"^2 of the 4 images .*: huge\.png is 268,435,457 bytes, above the limit.*; "
                                         r"large\.png is 30 x 20 pixels, above the limit of 500 pixels"):
        image_files.load_images(tmp_path / "set")
    np.testing.assert_array_equal(image_files.load_images(tmp_path / "set", skip_bad=True), good)


def test_every_unreadable_member_of_a_zip_is_named_and_a_corrupt_archive_is_one_error(tmp_path):
    good = random_images(3, size=8)
    members = {f"00000/img0000000{k}.png": data for k, data in enumerate(encoded_pngs(good))}
    members["00000/img00000003.png"] = b"\x89PNG\r\n\x1a\n garbage"
    with zipfile.ZipFile(tmp_path / "set.zip", "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bytearray((tmp_path / "set.zip").read_bytes())
    data[data.rindex(b"IEND") - 20] ^= 0xFF                                # the last good member: a bad CRC
    (tmp_path / "set.zip").write_bytes(bytes(data))
    with pytest.raises(ValueError) as caught:
        image_files.load_images(tmp_path / "set.zip")
    assert str(caught.value).startswith(f"2 of the 4 images of {tmp_path / 'set.zip'} cannot be read: "
                                        f"00000/img00000002.png cannot be read from the zip: Bad CRC-32 for file "
                                        f"'00000/img00000002.png'; 00000/img00000003.png is not a readable image: ")
    np.testing.assert_array_equal(image_files.load_images(tmp_path / "set.zip", skip_bad=True), good[:2])
    assert [name for name, _ in image_files.unreadable_files(tmp_path / "set.zip")] == [
        "00000/img00000002.png", "00000/img00000003.png"]
    data[data.index(b"PK\x01\x02") + 3] ^= 0xFF                            # the central directory, broken
    (tmp_path / "broken.zip").write_bytes(bytes(data))
    for call in (partial(image_files.load_images, skip_bad=True), image_files.unreadable_files):
        with pytest.raises(ValueError, match=r"^\S*broken\.zip is not a readable zip file: Bad magic number"):
            call(tmp_path / "broken.zip")


def encoded_pngs(images):
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        yield buffer.getvalue()


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_archive_members_extract_with_the_umask_mode(tmp_path, mask):
    previous = os.umask(mask)
    try:
        assert writing._umask() == mask and writing._umask() == mask               # read, not changed
        image_files.save_images(random_images(2, size=8), tmp_path / "set.zip")
        image_files.save_images(random_images(2, size=8), tmp_path / "set.npz")
    finally:
        os.umask(previous)
    for name in ("set.zip", "set.npz"):
        with zipfile.ZipFile(tmp_path / name) as archive:
            infos = archive.infolist()
            archive.extractall(tmp_path / f"{name}-out")
        assert sorted(info.filename for info in infos) == (
            ["00000/img00000000.png", "00000/img00000001.png", "dataset.json"] if name == "set.zip" else ["images.npy"])
        for info in infos:
            assert info.external_attr >> 16 & 0o777 == 0o666 & ~mask, info.filename
            assert abs(datetime.datetime(*info.date_time) - datetime.datetime.now()) < datetime.timedelta(minutes=5)
    np.testing.assert_array_equal(np.load(tmp_path / "set.npz-out" / "images.npy").shape, (2, 8, 8, 3))
