"""Wall time of the front page's recipes, from nothing cached, at their smoke values and as written.

Each recipe of README.md (``study.readme.recipes``) runs in an empty working directory against its
own copy of the repository's tracked files (``PRIMPS_ROOT``), so no training run and no Inception
feature of an earlier run is reused; only the ONNX export of the FID network in ``~/.cache/primps``
(made once per machine) is. "Regenerate the figures" is timed at the smoke preset the same way
(``primps reproduce --preset smoke``); its canonical time is the timings table of the README, from
``figures/reproduce.json``. Each row records when it was measured and the machine's load average
before and after: a time measured beside another job is an upper bound (a two-thread torch run
beside a busy process can be several times slower).

    .venv/bin/python benchmarks/recipes.py [--only finetune ...] [--sizes smoke]

Writes benchmarks/results/recipes.json (every row measured so far; a rerun replaces the rows it
measures) and benchmarks/results/recipes.md from it.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from primps_core import paths
from primps_core.study import readme, tables
from primps_core.study.reproduce import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "recipes.md"
ROWS = RESULTS.with_suffix(".json")
SIZES = ("smoke", "as written")
FIGURES = "figures"


def repository_copy(folder: Path) -> Path:
    """The repository's tracked files (the data, notebooks and package) copied under ``folder``."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=paths.ROOT, capture_output=True, check=True).stdout
    root = folder / "repository"
    for name in filter(None, listed.decode().split("\0")):
        source, target = paths.ROOT / name, root / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return root


def timed(script: str, root: Path, work: Path) -> float:
    """Seconds to run ``script`` with bash in ``work`` against the repository copy ``root``."""
    env = dict(os.environ, PRIMPS_ROOT=str(root), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    started = time.perf_counter()
    done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"recipe failed ({done.returncode}):\n{script}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def outputs(work: Path) -> str:
    """What a recipe left in its working directory: each top-level entry and its size."""
    def size(path: Path) -> int:
        return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    entries = sorted(work.iterdir())
    return ", ".join(f"`{p.name}{'/' if p.is_dir() else ''}` ({size(p) / 2**20:.1f} MiB)" for p in entries)


def measure(name: str, script: str, size: str) -> dict:
    """One row: the recipe run from nothing cached in an empty directory, with the load around it."""
    load_before, started = os.getloadavg()[0], datetime.datetime.now(datetime.timezone.utc)
    with tempfile.TemporaryDirectory() as folder:
        root, work = repository_copy(Path(folder)), Path(folder) / "work"
        work.mkdir()
        seconds = timed(script, root, work)
        where = (outputs(work) if name != FIGURES
                 else "`runs/smoke/figures/` (and the executed notebooks in `runs/smoke/notebooks/`)")
    return {"recipe": name, "size": size, "wall time": readme.duration(seconds), "measured": f"{started:%Y-%m-%d %H:%M} UTC",
            "load average before / after": f"{load_before:.1f} / {os.getloadavg()[0]:.1f}", "outputs": where}


def write(rows: list[dict]) -> str:
    """Merge ``rows`` into the rows measured before (by recipe and size) and rewrite both results files."""
    kept = json.loads(ROWS.read_text()) if ROWS.is_file() else []
    fresh = {(row["recipe"], row["size"]) for row in rows}
    order = [FIGURES, *readme.recipes((paths.ROOT / readme.README).read_text())]
    merged = sorted([row for row in kept if (row["recipe"], row["size"]) not in fresh] + rows,
                    key=lambda row: (order.index(row["recipe"]) if row["recipe"] in order else len(order),
                                     SIZES.index(row["size"])))
    header = (f"CPU: {cpu_model()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads); torch "
              f"{torch.__version__}. Load average: the 1-minute average before and after the row's run. The "
              f"figures recipe as written is `make reproduce`: its time is the timings table.")
    text = f"# Recipe times\n\n{header}\n\n{tables.markdown(merged)}\n"
    paths.atomic_write(ROWS, lambda temporary: Path(temporary).write_text(json.dumps(merged, indent=1) + "\n"))
    paths.atomic_write(RESULTS, lambda temporary: Path(temporary).write_text(text))
    return text


def main() -> None:
    recipes = readme.recipes((paths.ROOT / readme.README).read_text())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=[FIGURES, *recipes], default=[FIGURES, *recipes])
    parser.add_argument("--sizes", nargs="*", choices=SIZES, default=list(SIZES))
    args = parser.parse_args()
    rows = []
    for name in args.only:
        for size in args.sizes:
            if name == FIGURES and size != "smoke":
                continue
            script = ("set -euo pipefail\nprimps reproduce --preset smoke" if name == FIGURES
                      else recipes[name].script(smoke=size == "smoke"))
            rows.append(measure(name, script, size))
            print(json.dumps(rows[-1]), flush=True)
            write(rows)
    print(write(rows))


if __name__ == "__main__":
    main()
