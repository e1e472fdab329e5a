"""Image sets in and out: folders, zips (StyleGAN2-ADA's dataset format) and ``.npz`` files.

``load_images`` reads a folder, a zip or an ``.npz`` into one uint8 array (N, R, R, 3);
``image_sizes`` counts a set's image sizes from the file headers alone, and ``unreadable_files``
names the files of a set that cannot be read. ``save_images`` and ``ImageWriter`` (from
``data.writing``, re-exported here) write sets atomically. Embedded datasets are named through
``data.sources``.

Conventions for every image read: the EXIF orientation is applied first (a phone photo stored
sideways is turned upright); transparency (RGBA, LA, PA, palette images with transparency, a
colour key) is composited on white; greyscale (L), 1-bit, palette and CMYK images become RGB;
16-bit greyscale is scaled to 8 bits; non-square images are centre-cropped to a square, and
resizing uses Lanczos (``RESAMPLE``), the filter StyleGAN2-ADA's dataset tool and clean-fid
recommend for downscaling without aliasing. Images are decoded one at a time, each bounded by
``MAX_FILE_BYTES`` and ``MAX_PIXELS``. A file that cannot be read (corrupt, truncated, over a
limit) does not stop a set's load: every one is found in the same pass and all are named in one
error, or left out with ``skip_bad=True``; a corrupt archive as a whole is one immediate error.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import re
import warnings
import zipfile
import zlib
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps

from .. import checks
from .writing import ImageWriter, check_images, output_format, save_images  # noqa: F401 (re-exported: the writing half)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
RESAMPLE = Image.Resampling.LANCZOS


def to_rgb(image: Image.Image) -> np.ndarray:
    """A PIL image as uint8 RGB: transparency (an alpha channel, a palette's or a colour key)
    composited on white, 16-bit greyscale scaled to 8 bits, any other mode (L, 1, P, CMYK, ...)
    converted by Pillow."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.float64)
        scale = 65535.0 if image.mode.startswith("I;16") or wide.max() > 255 else 255.0
        image = Image.fromarray(np.round(np.clip(wide, 0, scale) * (255.0 / scale)).astype(np.uint8))
    elif image.mode == "F":
        raise ValueError("floating-point images have no defined 0..255 range")
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"))


MAX_PIXELS = 50_000_000            # per image: a 50-megapixel photo; more is refused before decoding
MAX_FILE_BYTES = 256 << 20         # per image file or zip member: larger is refused before reading
MAX_RESOLUTION = 4096              # largest side an image set is resized to
SHOWN_UNREADABLE = 10              # unreadable files a set's error names one by one; the rest are counted
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)     # what Pillow raises for a bad file
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)
OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")      # "<_io.BytesIO object at 0x7f...>"


class UnreadableImage(ValueError):
    """An image file or zip member that cannot be read: the message is its label (its path, or
    ``archive.zip:member``) and ``reason``, why. A set's load catches it per file, so that one pass
    finds every bad file and names each within the set; anything else wrong is the whole set's error."""

    def __init__(self, label: str, reason: str):
        super().__init__(f"{label} {reason}")
        self.reason = reason


def _detail(error: BaseException) -> str:
    """What a decoder's or archive's exception says, without the object reprs Pillow puts in."""
    return OBJECT_REPR.sub("", str(error)).strip() or type(error).__name__


def decode_image(data: bytes, name: str, resolution: int | None = None) -> np.ndarray:
    """Encoded image bytes as uint8 RGB (H, W, 3), whole (not cropped) and turned upright by its
    EXIF orientation; ``name`` labels the file in the error (``UnreadableImage``).

    Memory stays bounded whatever the file claims: its size is read from the header and an image
    above ``MAX_PIXELS`` is refused before decoding (Pillow's own decompression-bomb check is
    reported the same way). Given the ``resolution`` the image will be resized to, a JPEG much
    larger than it is decoded at a reduced scale (``Image.draft``: 1/2, 1/4 or 1/8, always keeping
    its shorter side at least twice the resolution for the Lanczos resize); without it every image
    is decoded at full size."""
    try:
        with _quiet_pillow(), Image.open(io.BytesIO(data)) as image:
            _check_pixels(image.width, image.height, name)
            if resolution is not None and image.format == "JPEG":
                scale = 2 * resolution / min(image.size)
                image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
            ImageOps.exif_transpose(image, in_place=True)          # loads the pixels, then turns them
            return to_rgb(image)
    except Image.DecompressionBombError:
        raise UnreadableImage(name, f"claims more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?), "
                                    f"above the limit of {MAX_PIXELS:,} pixels per image (images.MAX_PIXELS): "
                                    f"refusing to decode it") from None
    except UnreadableImage:
        raise
    except DECODE_ERRORS as error:
        raise UnreadableImage(name, f"is not a readable image: {_detail(error)}") from None


@contextlib.contextmanager
def _quiet_pillow():
    """Silence Pillow's warnings about files that are read anyway: a decompression-bomb size
    (``MAX_PIXELS`` decides) and corrupt EXIF data (the image then keeps its stored orientation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", "Corrupt EXIF data", UserWarning)
        yield


def _check_pixels(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise UnreadableImage(name, f"is {width} x {height} pixels, above the limit of {MAX_PIXELS:,} pixels per "
                                    f"image (images.MAX_PIXELS): refusing to decode it")
    if width < 1 or height < 1:
        raise UnreadableImage(name, f"has no pixels ({width} x {height})")


def _check_size(size: int, name: str) -> None:
    if size > MAX_FILE_BYTES:
        raise UnreadableImage(name, f"is {size:,} bytes, above the limit of {MAX_FILE_BYTES:,} bytes per image file "
                                    f"(images.MAX_FILE_BYTES): refusing to read it")


def read_image(path: Path, resolution: int | None = None) -> np.ndarray:
    """One image file as uint8 RGB (H, W, 3), whole (see ``decode_image`` for ``resolution``); a
    clear error for a missing file, and ``UnreadableImage`` for an oversized or unreadable one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    _check_size(path.stat().st_size, str(path))
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableImage(str(path), f"cannot be read: {error.strerror or _detail(error)}") from None
    return decode_image(data, str(path), resolution)


def square(image: np.ndarray, resolution: int | None = None) -> np.ndarray:
    """Centre-crop ``image`` (H, W, 3) to a square, then resize it to ``resolution`` with Lanczos."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image = image[top:top + side, left:left + side]
    if resolution is None or side == resolution:
        return image
    return np.asarray(Image.fromarray(image).resize((resolution, resolution), RESAMPLE))


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not Path(name).name.startswith(".")


def _set_format(path: Path) -> str:
    """"folder", "zip" or "npz": what the image set at ``path`` is; one clear error for anything else."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        return "folder"
    if path.suffix.lower() == ".npz":
        return "npz"
    if zipfile.is_zipfile(path):
        return "zip"
    raise ValueError(f"{path} is not a folder, a zip or an .npz file")


def _folder_files(folder: Path) -> list[Path]:
    """The image files under ``folder``, recursively, in name order; an error if there are none."""
    return _some(sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name)), folder)


def _zip_members(archive: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    """The image members of the zip at ``path``, in name order; an error if there are none."""
    return _some(sorted((info for info in archive.infolist() if not info.is_dir() and is_image_name(info.filename)),
                        key=lambda info: info.filename), path)


def _some(images: list, path: Path) -> list:
    """``images`` (a set's files or members), or the error that the set at ``path`` holds none."""
    if not images:
        raise ValueError(f"{path} holds no images ({'/'.join(IMAGE_EXTENSIONS)})")
    return images


def _entries(path: Path, resolution: int | None):
    """(name, load) for each image of the set at ``path``, in name order: its name within the set
    (a folder's relative path, a zip's member name, an .npz's index) and a function that decodes it
    whole (``decode_image``) or raises ``UnreadableImage``. What is wrong with the set as a whole
    (no images, a corrupt archive or array) is raised by the iteration itself."""
    return {"folder": _folder_entries, "zip": _zip_entries, "npz": _npz_entries}[_set_format(path)](path, resolution)


def _folder_entries(folder: Path, resolution: int | None):
    for file in _folder_files(folder):
        yield file.relative_to(folder).as_posix(), partial(read_image, file, resolution)


def _zip_entries(path: Path, resolution: int | None):
    """A zip's image members; a corrupt member (bad CRC, truncated, encrypted, unknown compression)
    is unreadable, a corrupt archive (bad central directory) one error."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in _zip_members(archive, path):
                yield info.filename, partial(_decode_member, archive, info, f"{path}:{info.filename}", resolution)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise ValueError(f"{path} is not a readable zip file: {error}") from None


def _decode_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, resolution: int | None) -> np.ndarray:
    """A zip member decoded whole, its declared size checked before it is read."""
    _check_size(info.file_size, name)
    try:
        data = archive.read(info)
    except ZIP_ERRORS as error:
        raise UnreadableImage(name, f"cannot be read from the zip: {_detail(error)}") from None
    return decode_image(data, name, resolution)


NPY_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _npz_entries(path: Path, resolution: int | None):
    """Each image of the array stored in an ``.npz`` (key ``images``, or its only array), streamed
    from the archive one image at a time after its header is checked: uint8, (N, H, W) grey or
    (N, H, W, 1|3|4), as many bytes as the header announces (no pickles: only raw arrays are read).
    An .npz is one array: anything wrong with it is the whole set's error."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = _npz_array(archive, path)
            with archive.open(info) as member:
                shape, image_bytes = _npy_header(member, info.file_size, str(path))
                for index in range(shape[0]):
                    data = member.read(image_bytes)
                    yield index, partial(_npy_rgb, np.frombuffer(data, np.uint8).reshape(shape[1:]))
    except ZIP_ERRORS as error:
        raise ValueError(f"{path} is not a readable .npz file: {error}") from None


def _npz_array(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The member of an ``.npz`` holding its images: ``images.npy``, or its only array."""
    arrays = [name for name in archive.namelist() if name.endswith(".npy")]
    if "images.npy" not in arrays and len(arrays) != 1:
        raise ValueError(f"{path} must hold an array named 'images' or exactly one array, "
                         f"has {[name[:-4] for name in arrays]}")
    return archive.getinfo("images.npy" if "images.npy" in arrays else arrays[0])


def _npz_shape(path: Path) -> tuple:
    """The shape of an ``.npz``'s image array, read from its header alone."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = _npz_array(archive, path)
            with archive.open(info) as member:
                return _npy_header(member, info.file_size, str(path))[0]
    except ZIP_ERRORS as error:
        raise ValueError(f"{path} is not a readable .npz file: {error}") from None


def _npy_header(member, stored: int, label: str) -> tuple[tuple, int]:
    """The image array's shape and bytes per image, read from its ``.npy`` header and checked."""
    try:
        version = np.lib.format.read_magic(member)
        if version not in NPY_READERS:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = NPY_READERS[version](member)
    except ValueError as error:
        raise ValueError(f"{label}: not a readable array: {error}") from None
    if dtype != np.uint8 or fortran or len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in (1, 3, 4)):
        raise ValueError(f"{label}: expected uint8 images (N, H, W) or (N, H, W, 1|3|4) in C order, "
                         f"got {'Fortran-order ' * fortran}{dtype} {shape}")
    if len(shape) == 3 and shape[-1] in (3, 4) and min(shape[:2]) > 4:
        raise ValueError(f"{label}: a 3-D array {shape} looks like one colour image (H, W, {shape[-1]}), not "
                         f"{shape[0]} grey images of {shape[1]} x {shape[2]}: store images as (N, H, W, 3)")
    if shape[0] == 0:
        raise ValueError(f"{label} holds no images")
    _check_pixels(shape[2], shape[1], f"{label} (each image)")
    image_bytes = math.prod(shape[1:])
    if stored - member.tell() != shape[0] * image_bytes:
        raise ValueError(f"{label}: the array header announces {shape} ({shape[0] * image_bytes:,} bytes) but the "
                         f"file holds {stored - member.tell():,}: it is truncated or corrupt")
    return shape, image_bytes


def _npy_rgb(array: np.ndarray) -> np.ndarray:
    """One stored image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as RGB."""
    if array.ndim == 2 or array.shape[-1] == 1:
        return np.repeat(array.reshape(array.shape[:2] + (1,)), 3, axis=2)
    return to_rgb(Image.fromarray(array)) if array.shape[-1] == 4 else array


def _decoded(path: Path, resolution: int | None):
    """(name, image) for each image of the set, decoded whole one at a time; a bad file's image is
    its ``UnreadableImage``, not raised, so that one pass finds every bad file."""
    for name, load in _entries(path, resolution):
        try:
            yield name, load()
        except UnreadableImage as error:
            yield name, error


def load_images(path, resolution: int | None = None, *, skip_bad: bool = False) -> np.ndarray:
    """An image set on disk as uint8 (N, R, R, 3), sorted by file name.

    ``path`` is a folder (searched recursively for png/jpg/jpeg/webp/bmp), a zip (StyleGAN2-ADA's
    dataset format included; ``dataset.json`` is read by ``load_labels``) or an ``.npz`` file (embedded datasets:
    ``sources.load_images``). Images are made square by a centre crop and resized to
    ``resolution`` (Lanczos) if given; without it all images must share one size. Images are
    decoded, cropped and resized one at a time, so memory holds the result and one image (itself
    bounded by ``MAX_PIXELS`` and ``MAX_FILE_BYTES``), whatever the files.

    Files that cannot be read (corrupt, truncated, over a limit) are all found in one pass and
    named in one error (by their names within the set, each with its reason), or, with
    ``skip_bad``, left out (``unreadable_files`` names them); a set with no readable image is an
    error either way.
    """
    if resolution is not None:
        resolution = checks.integer(resolution, "resolution", 1, MAX_RESOLUTION)
    skip_bad = checks.boolean(skip_bad, "skip_bad")
    path = Path(path)
    squares, bad = [], []
    for name, image in _decoded(path, resolution):
        if isinstance(image, UnreadableImage):
            bad.append(f"{name} {image.reason}")
        else:
            squares.append(square(image, resolution))
    if bad and not (skip_bad and squares):
        raise _unreadable_error(path, bad, len(bad) + len(squares))
    return _stack(squares, str(path))


def _unreadable_error(path: Path, bad: list[str], total: int) -> ValueError:
    """One error naming the first ``SHOWN_UNREADABLE`` of a set's ``bad`` files (each its name within
    the set and its reason), counting the rest."""
    listed = "; ".join(bad[:SHOWN_UNREADABLE])
    if len(bad) > SHOWN_UNREADABLE:
        listed += f"; and {len(bad) - SHOWN_UNREADABLE} more"
    if len(bad) == total:
        return ValueError(f"no image of {path} can be read: {listed}")
    return ValueError(f"{len(bad)} of the {total} images of {path} cannot be read: {listed}; "
                      f"leave them out with --skip-bad (skip_bad=True)")


def unreadable_files(path) -> list[tuple[str, str]]:
    """(name, reason) of each image of a folder or zip that ``load_images`` cannot read (names as
    in the set: a folder's relative paths, a zip's member names; an .npz has none of its own), in
    name order. Each image is decoded once (JPEGs at their smallest draft scale) and none is kept,
    so memory holds one image; a set that is wrong as a whole raises as ``load_images`` does."""
    return [(name, image.reason) for name, image in _decoded(Path(path), 1) if isinstance(image, UnreadableImage)]


def image_sizes(path) -> Counter:
    """How many images of each (width, height) the set at ``path`` holds, as shown (EXIF orientation
    applied), read from the file headers alone without decoding a pixel: cheap enough for a note
    before a long load. A file whose header cannot be read is left out (loading names it), so the
    count may be empty; a set with no image files at all is an error, as for ``load_images``."""
    path = Path(path)
    form = _set_format(path)
    if form == "npz":
        shape = _npz_shape(path)
        return Counter({(shape[2], shape[1]): shape[0]})
    if form == "folder":
        return _header_sizes(partial(open, file, "rb") for file in _folder_files(path))
    try:
        with zipfile.ZipFile(path) as archive:
            return _header_sizes(partial(archive.open, info) for info in _zip_members(archive, path))
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise ValueError(f"{path} is not a readable zip file: {error}") from None


def _header_sizes(openers) -> Counter:
    """How many of the files ``openers`` open have each size their readable headers declare."""
    return Counter(size for size in map(_header_size, openers) if size is not None)


def _header_size(opener) -> tuple[int, int] | None:
    """(width, height) of the image ``opener()`` opens, from its header, turned by its EXIF
    orientation (read from the header's EXIF block, as JPEG and WebP hold it); None if unreadable."""
    try:
        with _quiet_pillow(), opener() as handle, Image.open(handle) as image:
            exif = Image.Exif()
            exif.load(image.info.get("exif", b""))
            turned = exif.get(ExifTags.Base.Orientation) in (5, 6, 7, 8)
            return image.size[::-1] if turned else image.size
    except (Image.DecompressionBombError, *DECODE_ERRORS, *ZIP_ERRORS):
        return None


def load_labels(path, *, skip_bad: bool = False) -> np.ndarray:
    """The class of each image ``load_images(path, skip_bad=skip_bad)`` returns, as int64 (N,): an
    ``.npz``'s ``labels`` array, or the ``"labels"`` of a zip's or folder's ``dataset.json``
    (StyleGAN2-ADA's format: ``[[relative file name, class], ...]``); with ``skip_bad`` the classes
    of the unreadable files are left out with them. One clear error when the set has no labels, or
    they are not non-negative integers, one per image."""
    path = Path(path)
    if _set_format(path) == "npz":
        (labels,) = read_embedded_arrays(path, ("labels",), "an .npz with 'images' and 'labels' arrays")
    else:
        labels = _dataset_json_labels(path)
    labels = np.asarray(labels)
    names = list(_member_names(path))
    if labels.ndim != 1 or len(labels) != len(names) or labels.dtype.kind not in "iu" or (labels < 0).any():
        raise ValueError(f"{path}: expected one non-negative integer class per image ({len(names)}), "
                         f"got {labels.dtype} {labels.shape}")
    if checks.boolean(skip_bad, "skip_bad"):
        bad = {name for name, _ in unreadable_files(path)}
        labels = labels[np.array([name not in bad for name in names], bool)]
    return labels.astype(np.int64)


def _member_names(path: Path):
    """The names of a set's images within it, in ``load_images``' order (an .npz: their indices)."""
    form = _set_format(path)
    if form == "npz":
        return iter(range(_npz_shape(path)[0]))
    if form == "folder":
        return (file.relative_to(path).as_posix() for file in _folder_files(path))
    with zipfile.ZipFile(path) as archive:
        return iter([info.filename for info in _zip_members(archive, path)])


def _dataset_json_labels(path: Path) -> list:
    """The labels of a zip's or folder's ``dataset.json``, ordered like its images."""
    try:
        if path.is_dir():
            text = (path / "dataset.json").read_text()
        else:
            with zipfile.ZipFile(path) as archive:
                text = archive.read("dataset.json").decode()
        pairs = json.loads(text)["labels"]
        by_name = dict(pairs)
    except (FileNotFoundError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        raise ValueError(f"{path} has no class labels: a labelled set is an .npz with a 'labels' array or a zip or "
                         f"folder whose dataset.json lists [[file name, class], ...] under \"labels\"") from None
    names = list(_member_names(path))
    unlabelled = [name for name in names if name not in by_name]
    if unlabelled:
        raise ValueError(f"{path}: dataset.json gives no class for {len(unlabelled)} images, first {unlabelled[0]}")
    return [by_name[name] for name in names]


def read_embedded_arrays(path: Path, names: tuple[str, ...], rebuild: str) -> tuple[np.ndarray, ...]:
    """The arrays ``names`` of an embedded .npz data file, with one clear error when it is missing
    (naming ``rebuild``, the command that makes it), unreadable or lacks any of them."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: rebuild it with `{rebuild}`")
    try:
        with np.load(path) as archive:
            return tuple(archive[name] for name in names)
    except KeyError:
        raise ValueError(f"{path} holds no {' / '.join(names)} arrays") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npz file: {error}") from None


def _stack(squares: list[np.ndarray], label: str) -> np.ndarray:
    """The squares as one array; one clear error if their sizes differ."""
    sizes = sorted({s.shape[0] for s in squares})
    if len(sizes) > 1:
        raise ValueError(f"{label} holds images of different sizes {sizes[:5]}: pass a resolution")
    return np.stack(squares)


def to_grey(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) RGB -> uint8 (N, H, W) luminance, ITU-R BT.601 weights as Pillow's "L" mode."""
    images = check_images(images)
    return np.round(images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).clip(0, 255).astype(np.uint8)


def grey_to_rgb(images: np.ndarray) -> np.ndarray:
    """Grey (N, H, W) as three equal channels (N, H, W, 3), for the Inception network and the attacks."""
    return np.repeat(np.asarray(images)[..., None], 3, axis=-1)


def tile(images: np.ndarray) -> np.ndarray:
    """(R, C, H, W, 3) images as one (R*H, C*W, 3) image, row by row."""
    rows, columns, height, width, channels = images.shape
    return images.transpose(0, 2, 1, 3, 4).reshape(rows * height, columns * width, channels)

