"""Image sets in and out: folders, zips (StyleGAN2-ADA's dataset format) and ``.npz`` files.

``load_images`` reads a folder, a zip or an ``.npz`` into one uint8 array (N, R, R, 3);
``save_images`` and ``ImageWriter`` write them atomically (a temporary name, then rename), the
latter in chunks so a million images never sit in memory. Embedded datasets are named through
``data.sources``.

Conventions for every image read: RGBA (and palette or LA images with transparency) is composited
on white, greyscale and palette become RGB, 16-bit greyscale is scaled to 8 bits, non-square
images are centre-cropped to a square, and resizing uses Lanczos (``RESAMPLE``), the filter
StyleGAN2-ADA's dataset tool and clean-fid recommend for downscaling without aliasing.
"""
from __future__ import annotations

import io
import json
import math
import re
import shutil
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import checks, paths

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
RESAMPLE = Image.Resampling.LANCZOS
FORMATS = ("zip", "folder", "npz")
DATASET_GROUP, DATASET_FILE = re.compile(r"\d{5}"), re.compile(r"img\d{8}\.png")   # a folder dataset's names


def to_rgb(image: Image.Image) -> np.ndarray:
    """A PIL image as uint8 RGB: transparency composited on white, 16-bit scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.float64)
        scale = 65535.0 if image.mode.startswith("I;16") or wide.max() > 255 else 255.0
        image = Image.fromarray(np.round(np.clip(wide, 0, scale) * (255.0 / scale)).astype(np.uint8))
    elif image.mode == "F":
        raise ValueError("floating-point images have no defined 0..255 range")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"))


MAX_PIXELS = 50_000_000            # per image: a 50-megapixel photo; more is refused before decoding
MAX_FILE_BYTES = 256 << 20         # per image file or zip member: larger is refused before reading
MAX_RESOLUTION = 4096              # largest side an image set is resized to


def decode_image(data: bytes, name: str, resolution: int | None = None) -> np.ndarray:
    """Encoded image bytes as uint8 RGB (H, W, 3), whole (not cropped); ``name`` labels the file in
    the error.

    Memory stays bounded whatever the file claims: its size is read from the header and an image
    above ``MAX_PIXELS`` is refused before decoding (Pillow's own decompression-bomb check is
    reported the same way). Given the ``resolution`` the image will be resized to, a JPEG much
    larger than it is decoded at a reduced scale (``Image.draft``: 1/2, 1/4 or 1/8, always keeping
    its shorter side at least twice the resolution for the Lanczos resize); without it every image
    is decoded at full size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                _check_pixels(image.width, image.height, name)
                if resolution is not None and image.format == "JPEG":
                    scale = 2 * resolution / min(image.size)
                    image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
                image.load()
                return to_rgb(image)
    except Image.DecompressionBombError:
        raise ValueError(f"{name} claims more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?), above "
                         f"the limit of {MAX_PIXELS:,} pixels per image (images.MAX_PIXELS): refusing to decode it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        if str(error).startswith(name):
            raise
        raise ValueError(f"{name} is not a readable image: {error}") from None


def _check_pixels(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ValueError(f"{name} is {width} x {height} pixels, above the limit of {MAX_PIXELS:,} pixels per "
                         f"image (images.MAX_PIXELS): refusing to decode it")
    if width < 1 or height < 1:
        raise ValueError(f"{name} has no pixels ({width} x {height})")


def _check_size(size: int, name: str) -> None:
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{name} is {size:,} bytes, above the limit of {MAX_FILE_BYTES:,} bytes per image file "
                         f"(images.MAX_FILE_BYTES): refusing to read it")


def read_image(path: Path, resolution: int | None = None) -> np.ndarray:
    """One image file as uint8 RGB (H, W, 3), whole (see ``decode_image`` for ``resolution``); a
    clear error for a missing, oversized or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    _check_size(path.stat().st_size, str(path))
    return decode_image(path.read_bytes(), str(path), resolution)


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


def _folder_images(folder: Path, resolution: int | None):
    """Each image file under ``folder`` (recursively, by name), decoded one at a time."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))
    if not files:
        raise ValueError(f"{folder} holds no images ({'/'.join(IMAGE_EXTENSIONS)})")
    for file in files:
        yield square(read_image(file, resolution), resolution)


def _zip_images(path: Path, resolution: int | None):
    """Each image member of the zip (by name), its declared size checked before it is read; a
    corrupt archive or member (bad CRC, truncated, encrypted, unknown compression) is one error."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted((info for info in archive.infolist() if not info.is_dir() and is_image_name(info.filename)),
                             key=lambda info: info.filename)
            if not members:
                raise ValueError(f"{path} holds no images ({'/'.join(IMAGE_EXTENSIONS)})")
            for info in members:
                name = f"{path}:{info.filename}"
                _check_size(info.file_size, name)
                yield square(decode_image(_read_member(archive, info, name), name, resolution), resolution)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise ValueError(f"{path} is not a readable zip file: {error}") from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as error:
        raise ValueError(f"{name} cannot be read from the zip: {error}") from None


NPY_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _npz_images(path: Path, resolution: int | None):
    """Each image of the array stored in an ``.npz`` (key ``images``, or its only array), streamed
    from the archive one image at a time after its header is checked: uint8, (N, H, W) grey or
    (N, H, W, 1|3|4), as many bytes as the header announces (no pickles: only raw arrays are read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = [name for name in archive.namelist() if name.endswith(".npy")]
            if "images.npy" not in arrays and len(arrays) != 1:
                raise ValueError(f"{path} must hold an array named 'images' or exactly one array, "
                                 f"has {[name[:-4] for name in arrays]}")
            info = archive.getinfo("images.npy" if "images.npy" in arrays else arrays[0])
            with archive.open(info) as member:
                shape, image_bytes = _npy_header(member, info.file_size, str(path))
                for _ in range(shape[0]):
                    data = member.read(image_bytes)
                    yield square(_npy_rgb(np.frombuffer(data, np.uint8).reshape(shape[1:])), resolution)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as error:
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


def load_images(path, resolution: int | None = None) -> np.ndarray:
    """An image set on disk as uint8 (N, R, R, 3), sorted by file name.

    ``path`` is a folder (searched recursively for png/jpg/jpeg/webp/bmp), a zip (StyleGAN2-ADA's
    dataset format included; ``dataset.json`` is read by ``load_labels``) or an ``.npz`` file (embedded datasets:
    ``sources.load_images``). Images are made square by a centre crop and resized to
    ``resolution`` (Lanczos) if given; without it all images must share one size. Images are
    decoded, cropped and resized one at a time, so memory holds the result and one image (itself
    bounded by ``MAX_PIXELS`` and ``MAX_FILE_BYTES``), whatever the files.
    """
    if resolution is not None:
        resolution = checks.integer(resolution, "resolution", 1, MAX_RESOLUTION)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        images = _folder_images(path, resolution)
    elif path.suffix.lower() == ".npz":
        images = _npz_images(path, resolution)
    elif zipfile.is_zipfile(path):
        images = _zip_images(path, resolution)
    else:
        raise ValueError(f"{path} is not a folder, a zip or an .npz file")
    return _stack(images, str(path))


def load_labels(path) -> np.ndarray:
    """The class of each image of a labelled set, in ``load_images``' order, as int64 (N,): an
    ``.npz``'s ``labels`` array, or the ``"labels"`` of a zip's or folder's ``dataset.json``
    (StyleGAN2-ADA's format: ``[[relative file name, class], ...]``). One clear error when the set
    has no labels, or they are not non-negative integers, one per image."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix.lower() == ".npz":
        (labels,) = read_embedded_arrays(path, ("labels",), "an .npz with 'images' and 'labels' arrays")
    else:
        labels = _dataset_json_labels(path)
    labels = np.asarray(labels)
    count = sum(1 for _ in _member_names(path))
    if labels.ndim != 1 or len(labels) != count or labels.dtype.kind not in "iu" or (labels < 0).any():
        raise ValueError(f"{path}: expected one non-negative integer class per image ({count}), "
                         f"got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)


def _member_names(path: Path):
    """The relative names of a set's images in ``load_images``' order (an .npz: their indices)."""
    if path.suffix.lower() == ".npz":
        with zipfile.ZipFile(path) as archive, archive.open("images.npy") as member:
            shape, _ = _npy_header(member, archive.getinfo("images.npy").file_size, str(path))
        return iter(range(shape[0]))
    if path.is_dir():
        return (p.relative_to(path).as_posix() for p in sorted(path.rglob("*")) if p.is_file() and is_image_name(p.name))
    with zipfile.ZipFile(path) as archive:
        return iter(sorted(info.filename for info in archive.infolist() if not info.is_dir() and is_image_name(info.filename)))


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


def _stack(images, label: str) -> np.ndarray:
    """The squares ``images`` yields as one array; one clear error if their sizes differ."""
    squares = list(images)
    sizes = sorted({s.shape[0] for s in squares})
    if len(sizes) > 1:
        raise ValueError(f"{label} holds images of different sizes {sizes[:5]}: pass a resolution")
    return np.stack(squares)


def _encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def check_images(images) -> np.ndarray:
    """``images`` as a uint8 (N, H, W, 3) array, or one clear error."""
    array = np.asarray(images)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or len(array) == 0:
        raise ValueError(f"images must be a non-empty uint8 array (N, H, W, 3), got {array.dtype} {array.shape}")
    return array


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


def output_format(path) -> str:
    """The format an output path names by its suffix: ``.zip``, ``.npz``, or none for a folder; one
    clear error for any other suffix (``y.tar`` would otherwise become a folder called y.tar)."""
    suffix = Path(path).suffix.lower()
    if suffix in ("", ".zip", ".npz"):
        return {".zip": "zip", ".npz": "npz"}.get(suffix, "folder")
    raise ValueError(f"output {str(path)!r} has the unknown suffix {suffix!r}: name a .zip, an .npz or a folder "
                     f"(no suffix), or give the format explicitly")


class ImageWriter:
    """Write images in chunks to a folder, a zip or an ``.npz``, atomically.

    Files go to a temporary name beside ``path`` and are renamed into place only when the ``with``
    block ends without an error; an error removes them. Zips follow StyleGAN2-ADA's dataset
    format (``00000/img00000000.png`` ... plus ``dataset.json`` with ``"labels": null`` and any
    ``metadata`` keys, which StyleGAN2-ADA ignores), so its official training code reads them. ``.npz`` needs the total count ``n`` up front because the
    array is streamed into the archive without being held in memory. ``first_index`` numbers the
    files of a shard by their place in the whole dataset, so the shards' files together are the
    unsharded dataset's files.

    An existing ``path`` is refused unless ``overwrite``, and even then replaced only if it is what
    this writer writes (a zip or ``.npz`` file; a folder holding nothing but ``NNNNN/imgNNNNNNNN.png``
    files), so a folder of the user's other files is never deleted.
    """

    def __init__(self, path, *, n: int | None = None, format: str | None = None, first_index: int = 0,
                 overwrite: bool = False, metadata: dict | None = None):
        self.format = checks.choice(format or output_format(path), "format", FORMATS)
        self.path = paths.check_output(path, force=checks.boolean(overwrite, "overwrite"), ours=self._ours,
                                       what={"folder": "an image folder of this format", "zip": "a zip file",
                                             "npz": "an .npz file"}[self.format])
        if self.format == "npz" and n is None:
            raise ValueError("writing an .npz needs the total number of images n up front")
        if n is not None:
            checks.integer(n, "n", 1)
        self.n, self.count, self.shape, self.npy = n, 0, None, None
        self.first_index = first_index
        self.metadata = dict(metadata or {})

    def _ours(self, path: Path) -> bool:
        """True if ``path`` is an earlier output of this format, the one kind of thing it may replace:
        a zip holding ``dataset.json`` and ``NNNNN/imgNNNNNNNN.png`` members, an ``.npz`` holding only
        ``images.npy``, or a folder holding nothing but ``NNNNN/imgNNNNNNNN.png`` files."""
        if self.format == "folder":
            return path.is_dir() and all(
                entry.is_dir() and DATASET_GROUP.fullmatch(entry.name)
                and all(image.is_file() and DATASET_FILE.fullmatch(image.name) for image in entry.iterdir())
                for entry in path.iterdir())
        if not (path.is_file() and zipfile.is_zipfile(path)):
            return False
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return False
        if self.format == "npz":
            return names == ["images.npy"]
        return "dataset.json" in names and all(
            name == "dataset.json" or DATASET_FILE.fullmatch(name.partition("/")[2] or "")
            and DATASET_GROUP.fullmatch(name.partition("/")[0]) for name in names)

    def __enter__(self) -> "ImageWriter":
        self.temporary = paths.temporary(self.path, folder=self.format == "folder")
        if self.format != "folder":
            self.archive = zipfile.ZipFile(self.temporary, "w", zipfile.ZIP_STORED, allowZip64=True)
        return self

    def write(self, images) -> None:
        """Append a batch of uint8 (N, H, W, 3) images of the set's one size."""
        images = check_images(images)
        if self.shape is None:
            self.shape = images.shape[1:]
        if images.shape[1:] != self.shape:
            raise ValueError(f"all images must share one shape {self.shape}, got {images.shape[1:]}")
        if self.format == "npz":
            self._write_npy(images)
            return
        for image in images:
            index = self.first_index + self.count
            name = f"{index // 1000:05d}/img{index:08d}.png"
            if self.format == "zip":
                self.archive.writestr(name, _encode_png(image))
            else:
                (self.temporary / name).parent.mkdir(exist_ok=True)
                (self.temporary / name).write_bytes(_encode_png(image))
            self.count += 1

    def _write_npy(self, images: np.ndarray) -> None:
        """Stream raw bytes into ``images.npy`` inside the archive, header first."""
        if self.count + len(images) > self.n:
            raise ValueError(f"more than the announced n={self.n} images written to {self.path}")
        if self.npy is None:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "|u1", "fortran_order": False, "shape": (self.n, *self.shape)})
            self.npy = self.archive.open("images.npy", "w", force_zip64=True)
            self.npy.write(header.getvalue())
        self.npy.write(np.ascontiguousarray(images).tobytes())
        self.count += len(images)

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            self._discard()
            if issubclass(kind, OSError):
                raise paths.write_error(error, self.path) from None
            return
        try:
            self._finish()
        except OSError as failure:
            self._discard()
            raise paths.write_error(failure, self.path) from None
        except BaseException:
            self._discard()
            raise

    def _finish(self) -> None:
        if self.count == 0:
            raise ValueError(f"no images were written to {self.path}")
        if self.format == "npz":
            if self.count != self.n:
                raise ValueError(f"{self.count} images written to {self.path}, announced n={self.n}")
            self._close_archive()
        elif self.format == "zip":
            self.archive.writestr("dataset.json", json.dumps({"labels": None, **self.metadata}))
            self._close_archive()
        paths.replace_atomically(self.temporary, self.path)

    def _close_archive(self) -> None:
        if self.npy is not None:
            self.npy.close()
            self.npy = None
        self.archive.close()

    def _discard(self) -> None:
        if self.format == "folder":
            shutil.rmtree(self.temporary, ignore_errors=True)
            return
        try:
            self._close_archive()
        except OSError:                  # a full disk fails the close too; the file goes anyway
            pass
        finally:
            self.temporary.unlink(missing_ok=True)


def save_images(images, path, *, format: str | None = None, overwrite: bool = False) -> Path:
    """Write uint8 (N, H, W, 3) ``images`` to a folder, a zip or an ``.npz`` atomically (see ``ImageWriter``)."""
    images = check_images(images)
    with ImageWriter(path, n=len(images), format=format, overwrite=overwrite) as writer:
        writer.write(images)
    return Path(path)

