"""Where the project's files live (data, runs, figures, notebooks) and how they are written: atomically.

Paths are resolved from the package (an editable install inside the repository), never from the
current working directory, so notebooks run from any folder read the right files. Set
``PRIMPS_ROOT`` to point the package at another checkout or output tree.
"""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(os.environ.get("PRIMPS_ROOT", Path(__file__).resolve().parents[1]))
DATA_DIR = ROOT / "data"
PHOTOS_DIR = DATA_DIR / "photos"
RUNS_DIR = ROOT / "runs"
FIGURES_DIR = ROOT / "figures"
NOTEBOOKS_DIR = ROOT / "notebooks"
CANONICAL_PRESET = "cpu"


_UMASK = os.umask(0o022)
os.umask(_UMASK)                  # read the process's umask (it can only be read by setting it)


def atomic_write(path, write: Callable[[str], None]) -> Path:
    """Create ``path`` all at once: ``write(temporary)`` fills a temporary file beside it (same suffix,
    so writers that infer the format from it work), which is then renamed to ``path``; on any error
    the temporary file is removed and ``path`` is left as it was. The file gets the permissions a
    plain ``open`` would give it (mkstemp's are owner-only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def check_output(path, *, force: bool, ours: Callable[[Path], bool], what: str) -> Path:
    """``path`` as an absolute path if a command may write ``what`` there: nothing exists there yet,
    or ``force`` is given and ``ours(path)`` recognises what is there as an earlier ``what``. One
    clear error otherwise, before anything is written: an output never replaces what its command did
    not create (a folder of other files, the current directory, a file of another kind)."""
    path = Path(os.path.abspath(path))
    if not (path.exists() or path.is_symlink()):
        return path
    if not force:
        raise FileExistsError(f"{path} already exists: choose another output, or pass --force to replace it")
    if path.is_symlink() or not ours(path):
        raise FileExistsError(f"{path} exists and is not {what}: refusing to replace it, even with --force")
    return path


def replace_atomically(temporary: Path, path: Path) -> None:
    """Move the finished ``temporary`` (a file or folder beside ``path``) to ``path``. A file is
    replaced in one rename; an earlier folder is first renamed aside, then removed, so ``path``
    always holds either the old output or the new one, whole."""
    if not path.is_dir():
        os.replace(temporary, path)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{path.name}-old-", dir=path.parent))
    os.replace(path, aside / path.name)
    os.replace(temporary, path)
    shutil.rmtree(aside, ignore_errors=True)


def figures_dir(preset: str) -> Path:
    """Output folder of a preset's figures: ``figures/`` for the canonical preset, else under runs/."""
    return FIGURES_DIR if preset == CANONICAL_PRESET else RUNS_DIR / preset / "figures"


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` (dicts with the same keys) as CSV atomically: a temporary name, then rename."""
    def write(temporary: str) -> None:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    atomic_write(path, write)


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """A CSV written by ``write_csv`` as columns: numbers as float arrays, text as string arrays."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        try:
            columns[key] = np.array(values, dtype=float)
        except ValueError:
            columns[key] = np.array(values)
    return columns
