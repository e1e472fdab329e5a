"""Cached stages: run once, reload, key by config, never leave half-written output."""
import json
from dataclasses import dataclass

import pytest

from primps_core.study import pipeline


@dataclass(frozen=True)
class Config:
    size: int
    name: str = "a"


def make_stage(calls, fail=False):
    @pipeline.stage("square", version=1)
    def square(config: Config, out_dir, context):
        calls.append(config)
        (out_dir / "value.txt").write_text(str(config.size**2))
        if fail:
            raise RuntimeError("boom")
        return {"square": config.size**2}
    return square


def test_stage_runs_once_then_loads(tmp_path):
    calls = []
    square = make_stage(calls)
    first = square(Config(3), preset="smoke", context=pipeline.Context(tmp_path))
    second = square(Config(3), preset="smoke", context=pipeline.Context(tmp_path))
    assert calls == [Config(3)]
    assert (first.cached, second.cached) == (False, True)
    assert first.path == second.path and second.value == {"square": 9}
    assert first.path.parent == tmp_path / "smoke" / "square"
    record = json.loads((first.path / "stage.json").read_text())
    assert record == {"stage": "square", "version": 1, "config": {"size": 3, "name": "a"}}
    assert (first.path / "value.txt").read_text() == "9"


def test_config_preset_and_version_change_the_folder(tmp_path):
    calls = []
    square = make_stage(calls)
    paths = {square(Config(3), preset="smoke", context=pipeline.Context(tmp_path)).path,
             square(Config(4), preset="smoke", context=pipeline.Context(tmp_path)).path,
             square(Config(3, "b"), preset="smoke", context=pipeline.Context(tmp_path)).path,
             square(Config(3), preset="cpu", context=pipeline.Context(tmp_path)).path}
    assert len(paths) == 4 and len(calls) == 4
    bumped = pipeline.Stage("square", 2, square.function)
    assert bumped.path_for(Config(3), "smoke", tmp_path) != square.path_for(Config(3), "smoke", tmp_path)


def test_failure_leaves_nothing_and_rerun_computes(tmp_path):
    calls = []
    with pytest.raises(RuntimeError, match="boom"):
        make_stage(calls, fail=True)(Config(2), preset="smoke", context=pipeline.Context(tmp_path))
    left = sorted(p.name for p in (tmp_path / "smoke" / "square").iterdir())
    assert len(left) == 1 and left[0].startswith(".") and left[0].endswith(".lock")     # only the stage's lock file
    result = make_stage(calls)(Config(2), preset="smoke", context=pipeline.Context(tmp_path))
    assert result.value == {"square": 4} and not result.cached and len(calls) == 2


def test_bad_config_and_preset_are_rejected(tmp_path):
    square = make_stage([])

    @dataclass
    class Mutable:
        size: int
    with pytest.raises(TypeError, match="frozen dataclass"):
        square(Mutable(2), preset="smoke", context=pipeline.Context(tmp_path))
    with pytest.raises(TypeError, match="frozen dataclass"):
        square({"size": 2}, preset="smoke", context=pipeline.Context(tmp_path))
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        square(Config(2), preset="huge", context=pipeline.Context(tmp_path))


def test_resumable_stage_keeps_its_work_after_a_failure_and_continues(tmp_path):
    attempts = []

    @pipeline.stage("count", version=1, resumable="progress.txt")
    def count(config: Config, out_dir, context):
        progress = out_dir / "progress.txt"
        done = int(progress.read_text()) if progress.exists() else 0
        attempts.append(done)
        progress.write_text(str(done + 2))
        if done == 0:
            raise KeyboardInterrupt          # interrupted after saving some progress
        return {"done": done + 2}

    with pytest.raises(KeyboardInterrupt):
        count(Config(1), preset="smoke", context=pipeline.Context(tmp_path))
    target = count.path_for(Config(1), "smoke", tmp_path)
    assert not target.exists() and (target.parent / f"{target.name}.partial" / "progress.txt").exists()
    result = count(Config(1), preset="smoke", context=pipeline.Context(tmp_path))
    assert attempts == [0, 2] and result.value == {"done": 4} and not result.cached
    assert not (target.parent / f"{target.name}.partial").exists()
    assert count(Config(1), preset="smoke", context=pipeline.Context(tmp_path)).cached
