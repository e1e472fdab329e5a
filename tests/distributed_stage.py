"""Launched by tests/test_distributed.py under torchrun: cached stages in a two-process job.

Rank 0 finishes the collective (resumable) stage last, as it does when it alone evaluates and
writes; every rank writes the value it got and which stage functions it ran to ``rank<r>.json``.
"""
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch.distributed as dist

from primps_core.gan import training
from primps_core.study.pipeline import Context, stage

ran: list[str] = []


@dataclass(frozen=True)
class Config:
    x: int


@stage("collective", resumable="progress.txt")
def collective(config: Config, out_dir: Path, context: Context) -> dict:
    ran.append("collective")
    if dist.get_rank() == 0:
        time.sleep(2)
        (out_dir / "written_by_rank0.txt").write_text("x")
    return {"rank": dist.get_rank(), "x": config.x}


@stage("single")
def single(config: Config, out_dir: Path, context: Context) -> dict:
    ran.append("single")
    return {"rank": dist.get_rank(), "x": config.x}


if __name__ == "__main__":
    dist.init_process_group("gloo")
    context = Context(Path(sys.argv[1]))
    first = collective(Config(1), preset="smoke", context=context)
    second = single(Config(2), preset="smoke", context=context)
    again = collective(Config(1), preset="smoke", context=context)
    report = {"rank": dist.get_rank(), "collective": first.value, "single": second.value, "ran": ran,
              "cached": [first.cached, again.cached], "again": again.value}
    (Path(sys.argv[2]) / f"rank{dist.get_rank()}.json").write_text(json.dumps(report))
    training.end_worker()
