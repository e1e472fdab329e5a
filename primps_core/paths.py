"""Where the project's files live: data, runs, figures and notebooks.

Paths are resolved from the package (an editable install inside the repository), never from the
current working directory, so notebooks run from any folder read the right files. Set
``PRIMPS_ROOT`` to point the package at another checkout or output tree.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("PRIMPS_ROOT", Path(__file__).resolve().parents[1]))
DATA_DIR = ROOT / "data"
PHOTOS_DIR = DATA_DIR / "photos"
RUNS_DIR = ROOT / "runs"
FIGURES_DIR = ROOT / "figures"
NOTEBOOKS_DIR = ROOT / "notebooks"
CANONICAL_PRESET = "cpu"


def figures_dir(preset: str) -> Path:
    """Output folder of a preset's figures: ``figures/`` for the canonical preset, else under runs/."""
    return FIGURES_DIR if preset == CANONICAL_PRESET else RUNS_DIR / preset / "figures"
