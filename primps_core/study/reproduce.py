"""Run the study's notebooks in order with papermill and report each one's status and wall time.

    python -m primps_core reproduce --preset cpu [--only 01,02]

Each notebook ``notebooks/NN_*.ipynb`` is executed with ``-p preset <preset>``, its working
directory set to ``notebooks/``, a per-cell timeout from the preset and the venv's ``primps``
Jupyter kernel; the executed copy goes to ``runs/<preset>/notebooks/``. The canonical preset writes
``figures/``, other presets ``runs/<preset>/figures/``. The first failing notebook stops the run
with its name and the failing cell's error.

Each notebook that finishes is recorded in ``reproduce.json`` beside its figures: its wall time,
the date, and this machine's speed measured at the start (``machine_speed``: a float32 matmul and a
batch of 2-D FFTs), because machines of one kind differ by 2-3x and a time means little without
the rate it was measured at. The README's timing table is generated from that file.

Figures know their code: each entry also records the commit and a ``code`` map, the SHA-256 of
every file of the package that the notebook's kernel had loaded when it ended (read by a cell
appended to the executed copy, ``LOADED_MODULES``) and of the notebook's own code cells
(``notebooks/<name>.ipynb#code``). ``currency`` compares that map with the files as they are now:
a notebook is current while every recorded file is unchanged, otherwise stale since the first
commit that changed one.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import numpy as np
import scipy.fft
import torch

from .. import paths
from ..presets import get_preset

KERNEL_NAME = "primps"
CODE_SUFFIX = "#code"        # the key of a notebook's code cells in a code map: notebooks/<name>.ipynb#code
# Appended to the executed copy of each notebook: prints, as its last output, the package files the
# kernel has loaded, relative to the repository root.
LOADED_MODULES = """import json as _json, sys as _sys
from pathlib import Path as _Path
_package = _Path(_sys.modules["primps_core"].__file__).resolve().parent if "primps_core" in _sys.modules else None
print(_json.dumps(sorted(_Path(_m.__file__).resolve().relative_to(_package.parent).as_posix()
                         for _m in list(_sys.modules.values()) if _package and getattr(_m, "__file__", None)
                         and _Path(_m.__file__).resolve().is_relative_to(_package))))"""


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the message names the notebook and the failing cell's error."""


@dataclass
class NotebookRun:
    name: str
    status: str
    seconds: float
    code: dict | None = None        # its code map (``code_map``) once it has run
    commit: str | None = None


def find_notebooks(directory: Path, only: list[str] | None = None) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks in order, restricted to those named in ``only``: each entry a
    prefix that names exactly one notebook (``01`` or ``01_spectrum``; ``0`` names six and is refused,
    so a slip never reruns every notebook)."""
    directory = Path(directory)
    notebooks = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if only:
        for prefix in only:
            matches = [p.name for p in notebooks if p.name.startswith(prefix)]
            if len(matches) != 1:
                raise ValueError(f"--only {prefix!r} names {len(matches)} notebooks in {directory}, not one; "
                                 f"available: {', '.join(p.name for p in notebooks)}")
        notebooks = [p for p in notebooks if any(p.name.startswith(o) for o in only)]
    if not notebooks:
        raise ValueError(f"no notebooks named NN_*.ipynb in {directory}")
    return notebooks


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), as timings report it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_speed() -> dict:
    """This machine now: CPU model, cores, torch threads, float32 matmul GFLOP/s (1024 x 1024, torch)
    and 2-D real FFTs per second (256 x 256, scipy, batch of 64): the best of 5 timed repeats each."""
    def best(work, repeats: int = 5) -> float:
        work()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return min(times)
    matrix = torch.randn(1024, 1024, generator=torch.Generator().manual_seed(0))
    fields = np.random.default_rng(0).standard_normal((64, 256, 256)).astype(np.float32)
    matmul_s = best(lambda: torch.mm(matrix, matrix))
    fft_s = best(lambda: scipy.fft.rfft2(fields, workers=torch.get_num_threads()))
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "matmul_gflops": round(2 * 1024**3 / matmul_s / 1e9, 1), "fft_per_s": round(len(fields) / fft_s, 1)}


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_cells_digest(notebook: Path) -> str:
    """SHA-256 of a notebook's code cells (their sources, in order): what it computes, not its prose
    or outputs."""
    cells = nbformat.read(str(notebook), as_version=4).cells
    return hashlib.sha256("\n\0".join(c.source for c in cells if c.cell_type == "code").encode()).hexdigest()


def with_loaded_modules_cell(notebook: Path, copy: Path) -> Path:
    """Write ``notebook`` with ``LOADED_MODULES`` appended as a last code cell to ``copy``."""
    content = nbformat.read(str(notebook), as_version=4)
    content.cells.append(nbformat.v4.new_code_cell(LOADED_MODULES))
    nbformat.write(content, str(copy))
    return copy


def loaded_modules(executed: Path) -> list[str]:
    """The package files the kernel had loaded: the JSON list the last cell of ``executed`` printed."""
    cell = nbformat.read(str(executed), as_version=4).cells[-1]
    text = "".join(output.get("text", "") for output in cell.get("outputs", []) if output.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


def code_map(notebook: Path, loaded: list[str], root: Path = paths.ROOT) -> dict[str, str]:
    """{path relative to ``root``: SHA-256} of every loaded package file, and of the notebook's code
    cells under ``notebooks/<name>.ipynb#code``."""
    digests = {name: file_digest(root / name) for name in loaded if (root / name).is_file()}
    return {**digests, f"notebooks/{Path(notebook).name}{CODE_SUFFIX}": code_cells_digest(notebook)}


def git_commit(root: Path = paths.ROOT) -> str | None:
    """The commit checked out at ``root`` (None outside a git checkout)."""
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def changed_files(code: dict[str, str], root: Path = paths.ROOT) -> list[str]:
    """The files of a code map whose content now differs from the recorded digest (or that are gone)."""
    changed = []
    for key, digest in code.items():
        if key.endswith(CODE_SUFFIX):
            path = root / key[:-len(CODE_SUFFIX)]
            now = code_cells_digest(path) if path.is_file() else None
        else:
            path = root / key
            now = file_digest(path) if path.is_file() else None
        if now != digest:
            changed.append(key.removesuffix(CODE_SUFFIX))
    return changed


def currency(entry: dict, root: Path = paths.ROOT) -> str:
    """Whether a ``reproduce.json`` entry's figures are current: "current" when every file of its
    code map is unchanged, "stale since <commit>" naming the first commit after the recorded one
    that changed one of them (or "stale: <files> changed" when git cannot say), "not recorded" for
    an entry made before code maps."""
    code = entry.get("code")
    if not code:
        return "not recorded"
    changed = changed_files(code, root)
    if not changed:
        return "current"
    if entry.get("commit"):
        try:
            log = subprocess.run(["git", "-C", str(root), "log", "--reverse", "--format=%h",
                                  f"{entry['commit']}..HEAD", "--", *changed], capture_output=True, text=True, check=True)
            first = log.stdout.split()
            if first:
                return f"stale since {first[0]}"
        except (OSError, subprocess.CalledProcessError):
            pass
    return f"stale: {', '.join(changed[:3])}{' ...' if len(changed) > 3 else ''} changed"


def record_times(path: Path, runs: list[NotebookRun], preset: str, machine: dict, from_empty: bool = True) -> None:
    """Add the finished notebooks of this run to ``path`` (``reproduce.json``), keeping the entries of
    notebooks this run did not execute. ``from_empty`` says whether the run started with no cached
    stage and no cached feature: a resumed run's time (stages loaded, not computed) never replaces
    a from-empty time, only an earlier resumed one. What made the figures (``commit``, ``code``,
    ``figures_date``) is recorded on every finished run, since every run rewrites them."""
    path = Path(path)
    record = json.loads(path.read_text()) if path.is_file() else {"preset": preset, "notebooks": {}}
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for run in runs:
        if run.status != "ok":
            continue
        earlier = record["notebooks"].get(run.name, {})
        entry = dict(earlier)
        if from_empty or not earlier or not earlier.get("from_empty", True):
            entry = {"seconds": round(run.seconds, 1), "date": date, "from_empty": from_empty, **machine}
        if run.code:
            entry.update({"commit": run.commit, "code": run.code, "figures_date": date})
        record["notebooks"][run.name] = entry
    record["notebooks"] = dict(sorted(record["notebooks"].items()))
    paths.atomic_write(path, lambda temporary: Path(temporary).write_text(json.dumps(record, indent=2) + "\n"))


def starts_empty(preset: str) -> bool:
    """Whether a run of ``preset`` would compute everything: no finished stage under
    ``runs/<preset>/`` (the executed notebooks aside) and no cached Inception feature."""
    preset_dir, features = paths.RUNS_DIR / preset, paths.RUNS_DIR / "cache" / "features"
    stages = [p for p in preset_dir.glob("*/*/stage.json") if p.parts[-3] != "notebooks"] if preset_dir.is_dir() else []
    return not stages and not (features.is_dir() and any(features.iterdir()))


def kernel_name(preferred: str = KERNEL_NAME) -> str:
    """``preferred`` if that Jupyter kernel is registered, else the running interpreter's own
    ``python3`` kernel (which papermill starts with this same Python)."""
    from jupyter_client.kernelspec import KernelSpecManager
    return preferred if preferred in KernelSpecManager().find_kernel_specs() else "python3"


def _failure(error: Exception) -> str:
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    cell = getattr(error, "exec_count", None)
    return f"cell [{cell}]: {ename}: {evalue}" if cell is not None else f"{ename}: {evalue}"


def format_table(runs: list[NotebookRun]) -> str:
    """A plain-text table of notebook, status and wall time."""
    width = max([len(r.name) for r in runs] + [8])
    lines = [f"{'notebook':<{width}}  {'status':<7}  {'wall time':>9}"]
    lines += [f"{r.name:<{width}}  {r.status:<7}  {r.seconds:>8.1f}s" for r in runs]
    return "\n".join(lines)


def reproduce(preset: str, only: list[str] | None = None, notebooks_dir: Path | None = None,
              output_dir: Path | None = None, kernel: str | None = None,
              times_path: Path | None = None, device: str | None = None,
              cluster: str | None = None, shipped: bool = False) -> list[NotebookRun]:
    """Execute the notebooks in order (progress on stderr) and record each one's time as it finishes
    (``times_path``, default ``reproduce.json`` in the preset's figures folder); return their runs
    (``format_table`` prints them); raise ``NotebookFailed`` on the first failure, after printing
    the table so far on stderr. ``device`` (default: each notebook's own, ``auto``) is where the
    training notebooks train; ``cluster``, a Dask scheduler address, sends their training jobs to
    that cluster (``scheduler.run_jobs``; the runs folder must be on a filesystem its workers share).
    ``shipped``: the pretrained arms start from the pretraining runs shipped in ``weights/``
    (``study.shipped``) instead of training them; the record says so."""
    import papermill

    from .shipped import ENVIRONMENT
    if shipped:
        os.environ[ENVIRONMENT] = "1"             # read by the notebooks' kernels, which inherit it

    settings = get_preset(preset)
    notebooks_dir = Path(notebooks_dir or paths.NOTEBOOKS_DIR).resolve()
    notebooks = find_notebooks(notebooks_dir, only)
    output_dir = Path(output_dir or paths.RUNS_DIR / preset / "notebooks")
    output_dir.mkdir(parents=True, exist_ok=True)
    times_path = Path(times_path or paths.figures_dir(preset) / "reproduce.json")
    kernel = kernel or kernel_name()
    machine, from_empty = machine_speed(), starts_empty(preset)
    if os.environ.get(ENVIRONMENT) == "1":
        machine["pretraining"] = "shipped weights (weights/MANIFEST.json)"
    runs = [NotebookRun(p.stem, "pending", 0.0) for p in notebooks]
    for notebook, run in zip(notebooks, runs):
        print(f"running {notebook.name} (preset {preset}, kernel {kernel}) ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        executed, source = output_dir / notebook.name, output_dir / f".{notebook.name}"
        try:
            papermill.execute_notebook(
                str(with_loaded_modules_cell(notebook, source)), str(executed),
                parameters={"preset": preset, **({"device": device} if device else {}),
                            **({"cluster": cluster} if cluster else {})},
                kernel_name=kernel, cwd=str(notebooks_dir), execution_timeout=settings.notebook_timeout_s,
                start_timeout=120, progress_bar=False)
        except Exception as error:   # papermill raises its own error types for cell failures
            run.status, run.seconds = "failed", time.perf_counter() - start
            print(format_table(runs), file=sys.stderr)
            record_times(times_path, runs, preset, machine, from_empty)
            raise NotebookFailed(f"notebook {notebook.name} failed at {_failure(error)} "
                                 f"(executed copy: {output_dir / notebook.name})") from None
        finally:
            source.unlink(missing_ok=True)
        run.status, run.seconds = "ok", time.perf_counter() - start
        run.code, run.commit = code_map(notebook, loaded_modules(executed)), git_commit()
        record_times(times_path, runs, preset, machine, from_empty)     # each notebook as it finishes: a stopped run keeps them
    return runs
