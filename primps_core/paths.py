"""Where the project's files live (data, runs, figures, notebooks) and how they are written: atomically.

Paths are resolved from the package (an editable install inside the repository), never from the
current working directory, so notebooks run from any folder read the right files. Set
``PRIMPS_ROOT`` to point the package at another checkout or output tree.
"""
from __future__ import annotations

import csv
import os
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
