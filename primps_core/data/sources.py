"""What a run trains on or is scored against, named once: a small ``DataRef`` resolved at the edge.

A user names data four ways: a synthesizer variant (``primitives-ps``), the natural-image source
(``natural-patches``), an embedded target (``faces-100``) or a folder / zip / ``.npz`` on disk.
``resolve`` turns the name (and its options) into a ``DataRef`` where a command or notebook starts;
everything below it reads the reference, never the string. A file set's reference carries the
SHA-256 of its bytes, so a cached run or score is keyed by what the images are, not by where they
lie: change the files and the same command trains anew.

``image_stream(ref, resolution, seed)`` gives training images by global index (synthetic and
natural sources are index-addressable streams; a finite set is visited in a fresh seeded
permutation each epoch) and ``load_images(ref, resolution)`` a finite set whole. A file set read
with the option ``skip_bad=True`` leaves out the files that cannot be read (``skipped_files``
names them) instead of stopping at one error naming them all; ``image_sizes`` counts a set's image
sizes from the file headers alone.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .. import checks, paths, synth
from . import images as image_files
from .photos import MEMBERSHIP_PARTS, PHOTO_SPLITS, membership_split, natural_patches

NATURAL = "natural-patches"
TARGETS = ("faces-100", "emoji-animals", "emoji-food", "sneakers-100", "landscapes", "galaxies")
KINDS = ("synthetic", "natural", "target", "files")
_OPTIONS = {"natural": ("split",), "target": ("part",), "files": ("part", "skip_bad")}   # synthetic: the synthesizer's
_VALUES = {"split": PHOTO_SPLITS, "part": MEMBERSHIP_PARTS}                  # skip_bad: True or False


@dataclass(frozen=True)
class DataRef:
    """Resolved data: ``kind`` (one of ``KINDS``), ``name`` (the variant, ``natural-patches``, the
    target's name or the file set's absolute path), ``options`` ((key, value) pairs: synthesizer
    options, ``split`` for natural patches, ``part`` for a finite set, ``skip_bad`` for a file set
    whose unreadable files are left out) and ``digest``, its identity
    for caches: for a file set, 16 hex digits of the SHA-256 of its image files; for a synthetic
    stream, ``synth.code_digest()`` (the images change whenever the synthesizer's code does)."""

    kind: str
    name: str
    options: tuple = ()
    digest: str = ""

    @property
    def finite(self) -> bool:
        """True for an image set (a target or files), False for an endless stream."""
        return self.kind in ("target", "files")

    @property
    def label(self) -> str:
        """A short name for progress bars and tables."""
        return Path(self.name).name if self.kind == "files" else self.name


def target_dir(name: str) -> Path:
    """Folder of the embedded target ``name``; one clear error for an unknown name."""
    checks.choice(name, "embedded dataset", TARGETS)
    return paths.DATA_DIR / "targets" / name


def resolve(name, options=()) -> DataRef:
    """The ``DataRef`` of what ``name`` names (a ``DataRef`` is returned as it is); one clear error for
    a name that is none of a variant, ``natural-patches``, an embedded target or an existing path,
    or for an option that kind of data does not take. The options of data other than a synthesizer's
    are sorted by key, and ``skip_bad=False`` (the default) is left out, so the same data always
    gives the same reference, and so the same cached runs."""
    if isinstance(name, DataRef):
        return name
    options = tuple((key, tuple(value) if isinstance(value, list) else value) for key, value in dict(options).items())
    if isinstance(name, str) and name in synth.VARIANTS:
        synth.make_config(name, synth.config.MIN_RESOLUTION, **dict(options))     # checks the options
        return DataRef("synthetic", name, options, synth.code_digest())
    if isinstance(name, str) and name == NATURAL:
        ref = DataRef("natural", name, options)
    elif isinstance(name, str) and name in TARGETS:
        ref = DataRef("target", name, options)
    elif isinstance(name, (str, Path)) and Path(name).exists():
        path = Path(name).resolve()
        ref = DataRef("files", str(path), options, content_digest(path))
    else:
        raise FileNotFoundError(
            f"{name} does not exist: it is neither a synthesizer variant ({', '.join(synth.VARIANTS)}), {NATURAL}, "
            f"an embedded dataset (known: {', '.join(TARGETS)}) nor an existing folder, zip or .npz file")
    return _checked_options(ref)


def _checked_options(ref: DataRef) -> DataRef:
    """``ref`` with its options checked (one clear error for a key its kind does not take or a value
    out of range) and canonical: sorted, ``skip_bad`` a plain bool and absent when False."""
    options = []
    for key, value in ref.options:
        checks.choice(key, f"an option of {ref.label}", _OPTIONS[ref.kind])
        if key != "skip_bad":
            options.append((key, checks.choice(value, key, _VALUES[key])))
        elif checks.boolean(value, key):
            options.append((key, True))
    return replace(ref, options=tuple(sorted(options)))


def _skip_bad(ref: DataRef) -> bool:
    return dict(ref.options).get("skip_bad", False)


def content_digest(path: Path) -> str:
    """16 hex digits of the SHA-256 of an image set on disk: a file's bytes, or a folder's image files
    (relative names and bytes, in name order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*")
                                                 if p.is_file() and image_files.is_image_name(p.name))
    for file in files:
        if file != path:
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def load_images(ref, resolution: int | None = None) -> np.ndarray:
    """All images of a finite set (a target or files, whatever its ``part`` option; without the
    unreadable files if its ``skip_bad`` option is set) as uint8 (N, R, R, 3); see
    ``images.load_images``."""
    ref = resolve(ref)
    return image_files.load_images(_set_path(ref), resolution, skip_bad=_skip_bad(ref))


def _set_path(ref) -> Path:
    """Where the images of a finite set lie; one clear error for an endless stream."""
    ref = resolve(ref)
    if not ref.finite:
        raise ValueError(f"{ref.name} is an endless {ref.kind} stream, not an image set: "
                         f"write a sample with `python -m primps_core synth` first")
    return target_dir(ref.name) if ref.kind == "target" else Path(ref.name)


def image_sizes(ref) -> Counter:
    """How many images of each (width, height) a finite set holds, from the file headers alone
    (``images.image_sizes``): a note's worth, before the set is loaded."""
    return image_files.image_sizes(_set_path(ref))


def skipped_files(ref) -> list[str]:
    """The names (within the set) of the files that reading ``ref`` leaves out: the unreadable files
    of a file set with ``skip_bad``, found by decoding each image once (``images.unreadable_files``);
    none for any other data, where a bad file is an error instead."""
    ref = resolve(ref)
    return [name for name, _ in image_files.unreadable_files(ref.name)] if _skip_bad(ref) else []


def image_stream(ref: DataRef, resolution: int, seed: int) -> Callable[[int, int], np.ndarray]:
    """``images(start, n)``: images ``start .. start + n - 1`` of ``ref`` (uint8 NHWC), deterministic
    in (ref, resolution, seed, index). A finite set (restricted to its ``part`` option) is read once
    and visited in a fresh permutation seeded by (seed, epoch) each epoch."""
    options = dict(ref.options)
    if ref.kind == "synthetic":
        synth.make_config(ref.name, resolution, **options)
        return lambda start, n: synth.generate(n, variant=ref.name, resolution=resolution, seed=seed, start=start,
                                               **options)
    if ref.kind == "natural":
        return lambda start, n: natural_patches(n, resolution=resolution, seed=seed, start=start, **options)
    images = _part(ref, load_images(ref, resolution))
    return lambda start, n: images[_visit(len(images), seed, start, n)]


HELD_OUT_START = 10**9      # index of the first held-out image of an endless source (runs train on far fewer)


def held_out_images(ref: DataRef, resolution: int, seed: int, n: int) -> np.ndarray:
    """``n`` images of an endless source that no run trains on, to score how well a run learned it:
    synthetic images from index ``HELD_OUT_START`` on; for natural patches, crops of the held-out
    photos (``photo_split``'s "heldout"), never of the photos the runs train on, so the score asks
    whether a model learned photographs rather than its own training photos."""
    if ref.finite:
        raise ValueError(f"{ref.label} is a finite image set: it has no held-out images of its own")
    if ref.kind == "natural":
        options = {**dict(ref.options), "split": "heldout"}
        return natural_patches(n, resolution=resolution, seed=seed, start=HELD_OUT_START, **options)
    return image_stream(ref, resolution, seed)(HELD_OUT_START, n)


def labelled_stream(ref: DataRef, resolution: int, seed: int,
                    classes: int | None = None) -> Callable[[int, int], tuple[np.ndarray, np.ndarray]]:
    """``batch(start, n)``: (images, classes) ``start .. start + n - 1`` of a labelled finite set
    (``images.load_labels``), visited like ``image_stream``'s; an error when a class is not below
    ``classes`` (if given)."""
    if not ref.finite:
        raise ValueError(f"{ref.label} is an endless {ref.kind} stream without classes: a class-conditional run "
                         f"trains on a labelled image set")
    images = load_images(ref, resolution)
    labels = image_files.load_labels(_set_path(ref), skip_bad=_skip_bad(ref))
    if len(labels) != len(images):
        raise ValueError(f"{ref.label} gave {len(images)} images but {len(labels)} classes: did its files change "
                         f"while it was read?")
    images, labels = _part(ref, images), _part(ref, labels)
    if classes is not None and labels.max() >= classes:
        raise ValueError(f"{ref.label} has classes up to {labels.max()}, but the run has {classes} classes "
                         f"(0 .. {classes - 1})")

    def batch(start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        order = _visit(len(images), seed, start, n)
        return images[order], labels[order]
    return batch


def _part(ref: DataRef, array: np.ndarray) -> np.ndarray:
    """The rows of ``array`` in ``ref``'s ``part`` option (all without one)."""
    part = dict(ref.options).get("part")
    return array if part is None else array[membership_split(len(array))[part]]


def _visit(count: int, seed: int, start: int, n: int) -> np.ndarray:
    """Indices of visits ``start .. start + n - 1`` to a set of ``count`` items: a fresh permutation
    seeded by (seed, epoch) each epoch."""
    index = np.arange(start, start + n)
    epochs = index // count
    orders = {e: np.random.default_rng([seed, int(e)]).permutation(count) for e in np.unique(epochs)}
    return np.array([orders[e][i % count] for e, i in zip(epochs, index)], dtype=np.int64)
