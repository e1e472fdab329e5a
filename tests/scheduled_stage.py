"""Stages for tests/test_runs.py's scheduling test: each sleeps, then returns when it started and
ended (wall clock, comparable across worker processes); ``follow`` needs a ``step``."""
import time
from dataclasses import dataclass
from pathlib import Path

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
    return {"start": start, "end": time.time()}


@stage("step")
def step(config: Sleep, out_dir: Path, context: Context) -> dict:
    return _sleep(config.seconds)


@stage("follow", needs=lambda config: [(step, config.need)])
def follow(config: After, out_dir: Path, context: Context) -> dict:
    return {**_sleep(config.seconds), "need": step(config.need, preset="smoke", context=context).value}
