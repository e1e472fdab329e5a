"""Image sets out: folders, zips (StyleGAN2-ADA's dataset format) and ``.npz`` files, written atomically.

``ImageWriter`` writes images in chunks (a million images never sit in memory) to a temporary name
and renames it into place whole, never over what its command did not create; ``save_images``
writes an array at once. ``data.images`` re-exports both with the readers: it is the image sets'
one I/O API.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from .. import checks, paths

FORMATS = ("zip", "folder", "npz")
DATASET_GROUP, DATASET_FILE = re.compile(r"\d{5}"), re.compile(r"img\d{8}\.png")   # a folder dataset's names


def check_images(images) -> np.ndarray:
    """``images`` as a uint8 (N, H, W, 3) array, or one clear error."""
    array = np.asarray(images)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or len(array) == 0:
        raise ValueError(f"images must be a non-empty uint8 array (N, H, W, 3), got {array.dtype} {array.shape}")
    return array


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc/self/status);
    elsewhere set and restored at once, to owner-only in between so that a file another thread
    creates meanwhile is never more open than it should be."""
    try:
        return int(re.search(r"^Umask:\s*([0-7]+)", Path("/proc/self/status").read_text(), re.MULTILINE)[1], 8)
    except (OSError, TypeError):
        previous = os.umask(0o077)
        os.umask(previous)
        return previous


def _encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def output_format(path) -> str:
    """The format an output path names by its suffix: ``.zip``, ``.npz``, or none for a folder; one
    clear error for any other suffix (``y.tar`` would otherwise become a folder called y.tar)."""
    suffix = Path(path).suffix.lower()
    if suffix in ("", ".zip", ".npz"):
        return {".zip": "zip", ".npz": "npz"}.get(suffix, "folder")
    raise ValueError(f"output {str(path)!r} has the unknown suffix {suffix!r}: name a .zip, an .npz or a folder "
                     f"(no suffix)")


class ImageWriter:
    """Write images in chunks to a folder, a zip or an ``.npz``, atomically.

    Files go to a temporary name beside ``path`` and are renamed into place only when the ``with``
    block ends without an error; an error removes them. Zips follow StyleGAN2-ADA's dataset
    format (``00000/img00000000.png`` ... plus ``dataset.json`` with ``"labels": null`` and any
    ``metadata`` keys, which StyleGAN2-ADA ignores), so its official training code reads them.
    ``.npz`` needs the total count ``n`` up front because the array is streamed into the archive
    without being held in memory. Files, and the members of a zip or ``.npz`` once extracted, get
    the mode a plain ``open`` gives (0o666 less the umask). ``first_index`` numbers the files of a
    shard by their place in the whole dataset, so the shards' files together are the unsharded
    dataset's files.

    An existing ``path`` is refused unless ``overwrite``, and even then replaced only if it is what
    this writer writes (a zip or ``.npz`` file; a folder holding nothing but ``NNNNN/imgNNNNNNNN.png``
    files), so a folder of the user's other files is never deleted. Without ``overwrite``, an output
    another process made at ``path`` while this one wrote is never replaced either: this writer then
    fails (``paths.replace_atomically``), so of two concurrent writers exactly one succeeds.
    """

    def __init__(self, path, *, n: int | None = None, format: str | None = None, first_index: int = 0,
                 overwrite: bool = False, metadata: dict | None = None):
        self.format = checks.choice(format or output_format(path), "format", FORMATS)
        self.path = paths.check_output(path, force=checks.boolean(overwrite, "overwrite"), ours=self._ours,
                                       what={"folder": "an image folder of this format",
                                             "zip": "a dataset zip of this format (NNNNN/imgNNNNNNNN.png and "
                                                    "dataset.json)",
                                             "npz": "an .npz of images (one images array)"}[self.format])
        if self.format == "npz" and n is None:
            raise ValueError("writing an .npz needs the total number of images n up front")
        if n is not None:
            checks.integer(n, "n", 1)
        self.n, self.count, self.shape, self.npy = n, 0, None, None
        self.first_index, self.overwrite = first_index, overwrite
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
            self.member_mode = stat.S_IFREG | (0o666 & ~_umask())
        return self

    def _member(self, name: str) -> zipfile.ZipInfo:
        """A new member ``name``, dated now, that extracts with ``member_mode``: ``writestr`` given a
        bare name would record 0o600."""
        info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
        info.external_attr = self.member_mode << 16
        return info

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
                self.archive.writestr(self._member(name), _encode_png(image))
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
            self.npy = self.archive.open(self._member("images.npy"), "w", force_zip64=True)
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
        except FileExistsError:          # another writer's output appeared at the path: it says so itself
            self._discard()
            raise
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
            self.archive.writestr(self._member("dataset.json"), json.dumps({"labels": None, **self.metadata}))
            self._close_archive()
        paths.replace_atomically(self.temporary, self.path, replace=self.overwrite)

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

