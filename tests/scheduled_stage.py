"""Stages for the scheduling tests (tests/test_runs.py, tests/test_dask.py): each sleeps, then
returns when it started and ended (wall clock, comparable across worker processes) and the torch
threads it ran on; ``follow`` needs a ``step``."""
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from primps_core.study.pipeline import Context, stage


@dataclass(frozen=True)
class Sleep:
    name: str
    seconds: float


@dataclass(frozen=True)
class After:
    name: str
    seconds: float
    need: Sleep


def _sleep(seconds: float) -> dict:
    start = time.time()
    time.sleep(seconds)
    return {"start": start, "end": time.time(), "threads": torch.get_num_threads()}


@stage("step")
def step(config: Sleep, out_dir: Path, context: Context) -> dict:
    return _sleep(config.seconds)


@stage("follow", needs=lambda config: [(step, config.need)])
def follow(config: After, out_dir: Path, context: Context) -> dict:
    return {**_sleep(config.seconds), "need": step(config.need, preset="smoke", context=context).value}
