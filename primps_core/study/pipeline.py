"""Cached pipeline stages: a stage is a function of a frozen dataclass config, run at most once.

    @stage("photo_statistics", version=1)
    def photo_statistics(config: PhotoStatsConfig, out_dir: Path, context: Context) -> dict: ...

    result = photo_statistics(config, preset="cpu")   # runs, or loads the cached result
    result.path / "alpha.csv", result.value

A stage's output lives in ``runs/<preset>/<stage>/<hash>/``, where the hash covers the stage name,
its version (bump it when the code changes what it writes) and the config. The folder holds
``stage.json`` (stage, version, config), whatever files the function wrote, and ``result.json``
(the function's JSON-serialisable return value). The function writes into a temporary folder that
is renamed into place only when it returns, so a crash or interrupt never leaves a half-written
stage behind and a rerun recomputes it. How a stage runs (the runs folder, the torch device,
progress bars, the Dask cluster its jobs go to) is a ``Context`` argument, never part of its
identity: a notebook and a worker process configure a run the same way, by passing it.

A ``resumable`` stage (training runs) names the file that holds its progress (its checkpoint) and
instead keeps its working folder, ``<hash>.partial``, when it fails or is interrupted (Ctrl-C,
SIGTERM) after writing that file: the next call hands the same folder to the function, which
resumes from it, and the folder is renamed into place when the function returns. A working folder
without progress (a bad input found at the start, a full disk before the first checkpoint) is
removed, so failures leave no litter.

Concurrent runs are safe: a process holds an exclusive lock (``fcntl.flock`` on
``.<hash>.lock`` beside the folder) while it computes a stage, so a second process asking for the
same stage waits, then loads the first one's result instead of computing it again. Across the
machines of a cluster this holds where the shared runs folder's filesystem makes ``flock`` locks
seen by all its clients (Linux NFS does; Lustre when mounted with ``-o flock``). Temporary
folders of processes killed outright are swept at the next run of the same stage. Under torch.distributed a resumable stage is collective: every process runs the
function on the shared folder, and only rank 0 writes the stage's own files and renames the
folder. Other stages run on rank 0 alone. Either way every process then waits for rank 0 and
returns the result rank 0 sends it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import importlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch.distributed

from .. import checks, paths
from ..presets import get_preset


def _distributed() -> bool:
    """True inside an initialised torch.distributed job."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _lead_process() -> bool:
    """True unless this is a non-zero rank of an initialised torch.distributed job."""
    return not _distributed() or torch.distributed.get_rank() == 0


@dataclass(frozen=True)
class Context:
    """Where and how stages run, never what they compute: the runs folder (None: ``paths.RUNS_DIR``
    at call time), the torch device, whether loops show progress bars, and the Dask scheduler
    that ``scheduler.run_jobs`` sends its jobs to (an address such as ``"tcp://host:8786"``;
    None: worker processes on this machine)."""

    runs_dir: Path | None = None
    device: str = "cpu"
    progress: bool = True
    cluster: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "device", checks.device(self.device))      # "auto" becomes the device it picks
        if self.cluster is not None and not (isinstance(self.cluster, str) and self.cluster.strip()):
            raise ValueError(f"cluster must be the address of a Dask scheduler, such as 'tcp://host:8786', "
                             f"or None; got {self.cluster!r}")

    @property
    def root(self) -> Path:
        return Path(self.runs_dir or paths.RUNS_DIR)


@dataclass(frozen=True)
class StageResult:
    path: Path
    value: Any
    cached: bool


def _config_record(name: str, version: int, config) -> dict:
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)
            and config.__dataclass_params__.frozen):
        raise TypeError(f"stage {name!r} needs a frozen dataclass config, got {type(config).__name__}")
    return {"stage": name, "version": version, "config": plain(config)}


def plain(value):
    """``value`` as JSON values: a dataclass as the dict of its fields, or as its own ``record()``
    where it defines one (``TrainConfig`` writes its data reference that way); tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "record"):
            return value.record()
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def config_hash(record: dict) -> str:
    """12 hex digits of the SHA-256 of the record as canonical JSON."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Stage:
    """A cached stage; call it with ``(config, preset=..., context=Context())``. ``needs(config)``
    lists the (stage, config) pairs it calls first (a transfer's pretraining run), so a job runner
    can compute those first and in parallel."""

    def __init__(self, name: str, version: int, function: Callable, resumable: str | None = None,
                 needs: Callable[[Any], list] | None = None):
        self.name, self.version, self.function, self.resumable = name, version, function, resumable
        self.needs = needs or (lambda config: [])
        functools.update_wrapper(self, function)

    def __reduce__(self):
        """Pickled by reference (its module and name), so worker processes get the module's own stage."""
        return _stage_named, (self.__module__, self.__name__)

    def path_for(self, config, preset: str, root: Path | None = None) -> Path:
        """Where this config's output is (or will be) stored."""
        get_preset(preset)
        record = _config_record(self.name, self.version, config)
        return Path(root or paths.RUNS_DIR) / preset / self.name / config_hash(record)

    def __call__(self, config, *, preset: str, context: Context | None = None) -> StageResult:
        context = context or Context()
        target = self.path_for(config, preset, context.root)
        if _distributed():
            return self._call_distributed(config, target, context)
        cached = self._load(target)
        if cached is not None:
            return cached
        with _locked(target):
            return self._load(target) or self._run(config, target, context)

    @staticmethod
    def _load(target: Path) -> StageResult | None:
        """The cached result in ``target``, or None if the stage has not finished there."""
        if not (target / "result.json").exists():
            return None
        return StageResult(target, json.loads((target / "result.json").read_text()), cached=True)

    def _call_distributed(self, config, target: Path, context: Context) -> StageResult:
        """Rank 0 decides and sends every rank the result: the cached one, or the one it computes
        (for a resumable stage, with every rank running the function on its share)."""
        lead = _lead_process()
        with _locked(target) if lead else contextlib.nullcontext():
            cached = [self._load(target) if lead else None]
            torch.distributed.broadcast_object_list(cached, src=0)
            if cached[0] is not None:
                return cached[0]
            result = [self._run(config, target, context) if lead else None]
            if not lead and self.resumable:
                self.function(config, target.parent / f"{target.name}.partial", context)
            torch.distributed.broadcast_object_list(result, src=0)
            return result[0]

    def _run(self, config, target: Path, context: Context) -> StageResult:
        """Run the function into a staging folder and rename it to ``target`` when it returns."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.resumable:
            staging = target.parent / f"{target.name}.partial"
            staging.mkdir(exist_ok=True)
        else:
            staging = paths.temporary(target, folder=True)
        try:
            record = json.dumps(_config_record(self.name, self.version, config), indent=2, sort_keys=True)
            paths.atomic_write(staging / "stage.json", lambda temporary: Path(temporary).write_text(record))
            value = self.function(config, staging, context)
            paths.atomic_write(staging / "result.json", lambda temporary: Path(temporary).write_text(json.dumps(value, indent=2)))
            if target.exists():          # a stale, incomplete folder from an older layout
                shutil.rmtree(target)
            os.rename(staging, target)
        except BaseException:
            if not (self.resumable and (staging / self.resumable).exists()):
                shutil.rmtree(staging, ignore_errors=True)
            raise
        return StageResult(target, value, cached=False)


@contextlib.contextmanager
def _locked(target: Path):
    """Hold an exclusive lock on ``target``'s stage while computing it; say so when waiting for
    another process. The lock file stays (removing it would race with a waiting process)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process computing {target} ...", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stage_named(module: str, name: str) -> Stage:
    return getattr(importlib.import_module(module), name)


def stage(name: str, version: int = 1, resumable: str | None = None,
          needs: Callable[[Any], list] | None = None) -> Callable[[Callable], Stage]:
    """Decorator turning ``function(config, out_dir, context) -> json value`` into a cached ``Stage``;
    ``resumable`` names the file whose presence in the working folder means progress to resume from;
    ``needs(config)`` the (stage, config) pairs the function calls (see ``Stage``)."""
    def wrap(function: Callable) -> Stage:
        return Stage(name, version, function, resumable, needs)
    return wrap


@dataclass(frozen=True)
class Job:
    """One stage run: the stage, its config and the preset it belongs to."""
    stage: Stage
    config: object
    preset: str

    def path(self, root: Path | None = None) -> Path:
        return self.stage.path_for(self.config, self.preset, root)

    def done(self, root: Path | None = None) -> bool:
        return (self.path(root) / "result.json").exists()

    def run(self, context: Context | None = None) -> StageResult:
        return self.stage(self.config, preset=self.preset, context=context)

    def needs(self) -> list[Job]:
        """The jobs whose results this one reads (computed first by ``scheduler.run_jobs``)."""
        return [Job(stage, config, self.preset) for stage, config in self.stage.needs(self.config)]
