"""benchmarks/reproduce_budget.py: each job counted once, in the first notebook that runs it, and
the projection's arithmetic on known stage times (an unfinished job costs the median of its kind)."""
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "reproduce_budget.py"


@pytest.fixture(scope="module")
def budget():
    spec = importlib.util.spec_from_file_location("reproduce_budget", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Train:
    iterations: int


@dataclass(frozen=True)
class Config:
    train: Train


@dataclass(frozen=True)
class Stage:
    name: str


@dataclass
class FakeJob:
    """What the benchmark reads of a pipeline.Job: its folder, its needs, its stage and config."""
    folder: Path
    name: str
    iterations: int
    seconds: float | None = None                 # None: not finished
    required: list = field(default_factory=list)

    def __post_init__(self):
        self.stage, self.config = Stage(self.name), Config(Train(self.iterations))
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.seconds is not None:
            (self.folder / "result.json").write_text(json.dumps({"wall_s": self.seconds}))

    def path(self):
        return self.folder

    def needs(self):
        return self.required


def test_each_job_belongs_to_the_first_notebook_that_runs_it(budget, tmp_path):
    shared = FakeJob(tmp_path / "pretrain", "pretrain", 1000, seconds=600.0)
    first = FakeJob(tmp_path / "a", "transfer", 600, seconds=300.0, required=[shared])
    second = FakeJob(tmp_path / "b", "transfer", 600, required=[shared])
    owned = budget.first_runs({"03": [first], "05": [second, first]})
    assert [job.folder.name for job in owned["03"]] == ["pretrain", "a"]      # needs first
    assert [job.folder.name for job in owned["05"]] == ["b"]


def test_projection_adds_recorded_times_and_estimates_the_rest_by_kind(budget, tmp_path):
    done = [FakeJob(tmp_path / f"t{i}", "transfer", 600, seconds=s) for i, s in enumerate((100.0, 300.0, 1400.0))]
    pending = FakeJob(tmp_path / "pending", "transfer", 600)
    stranger = FakeJob(tmp_path / "stranger", "transfer", 9999)           # no finished job of its kind
    owned = {"04": done, "05": [pending, stranger]}
    rows = budget.projection(owned, workers=2, recorded=budget.recorded_times(owned))
    first, second = rows
    assert (first["jobs"], first["finished"], first["recorded_s"], first["estimated_s"]) == (3, 3, 1800.0, 0.0)
    assert first["projected_h"] == pytest.approx(1800.0 / 2 / 3600)
    assert (second["finished"], second["unknown"], second["estimated_s"]) == (0, 1, 300.0)   # the median of its kind
    assert second["projected_h"] == pytest.approx(300.0 / 2 / 3600)


def test_a_job_whose_folder_is_gone_counts_with_its_ledgered_time(budget, tmp_path):
    root = tmp_path / "runs"
    gone = FakeJob(root / "cpu" / "transfer" / "aaa", "transfer", 600)             # no result.json any more
    here = FakeJob(root / "cpu" / "transfer" / "bbb", "transfer", 600, seconds=200.0)
    pending = FakeJob(root / "cpu" / "transfer" / "ccc", "transfer", 600)
    ledger = {"cpu/transfer/aaa": 400.0, "cpu/transfer/bbb": 999.0}                # the folder wins over the ledger
    owned = {"04": [gone, here, pending]}
    (row,) = budget.projection(owned, workers=1, recorded=budget.recorded_times(owned, ledger))
    assert (row["finished"], row["recorded_s"], row["estimated_s"]) == (2, 600.0, 300.0)


def test_the_ledger_keeps_other_presets_and_gone_folders_and_reads_back_what_it_wrote(budget, tmp_path):
    root = tmp_path / "runs"
    gone = FakeJob(root / "cpu" / "pretrain" / "aaa", "pretrain", 1000)
    untimed = FakeJob(root / "cpu" / "dp_query" / "bbb", "dp_query", 0)
    (untimed.folder / "result.json").write_text("{}")                                # finished, no wall_s
    fresh = FakeJob(root / "cpu" / "pretrain" / "ccc", "pretrain", 1000, seconds=50.0)
    pending = FakeJob(root / "cpu" / "pretrain" / "ddd", "pretrain", 1000)
    old = {"cpu/pretrain/aaa": 700.0, "cpu/pretrain/zzz": 1.0, "smoke/pretrain/aaa": 2.0}   # zzz: no longer planned
    new = budget.updated_ledger(old, budget.recorded_times({"03": [gone, untimed, fresh, pending]}, old), "cpu")
    assert set(new) == {"cpu/pretrain/aaa", "cpu/dp_query/bbb", "cpu/pretrain/ccc", "smoke/pretrain/aaa"}
    assert new["cpu/pretrain/aaa"] == 700.0 and new["cpu/pretrain/ccc"] == 50.0
    path = tmp_path / "stage_times.csv"
    budget.write_csv(path, [{"job": key, "wall_s": new[key]} for key in sorted(new)])
    back = budget.read_ledger(path)
    assert set(back) == set(new) and np.isnan(back["cpu/dp_query/bbb"]) and back["smoke/pretrain/aaa"] == 2.0


def test_the_evaluation_share_sums_each_notebooks_scoring_time_over_its_runs_time(budget, tmp_path):
    scored = [FakeJob(tmp_path / name, "transfer", 600, seconds=seconds) for name, seconds in (("a", 100.0), ("b", 300.0))]
    for job, evals in zip(scored, ((5.0, 10.0), (20.0, 25.0))):
        (job.folder / "result.json").write_text(json.dumps({"wall_s": job.seconds, "curve": [
            {"iteration": k, "eval_s": s} for k, s in enumerate(evals)]}))
    unscored = FakeJob(tmp_path / "c", "dp_run", 600, seconds=999.0)               # no curve: not counted
    pending = FakeJob(tmp_path / "d", "transfer", 600)
    shares = budget.evaluation_share({"04": scored + [unscored, pending], "07": [unscored]})
    assert shares == {"04": (60.0, 400.0)}
    text = budget.report("cpu", 2, [], {}, shares)
    assert "| 04 | 0.02 | 0.11 | 15% |" in text


def test_a_notebook_whose_runs_are_of_untimed_kinds_keeps_its_row_and_one_with_no_timed_job_its_measured_time(
        budget, tmp_path):
    untimed = {"04": [FakeJob(tmp_path / "a", "transfer", 3900)], "01": [FakeJob(tmp_path / "b", "spectrum", 1)]}
    (tmp_path / "b" / "result.json").write_text("{}")                              # finished, no wall time
    rows = budget.projection(untimed, workers=2, recorded=budget.recorded_times(untimed))
    assert [(r["notebook"], r["unknown"], r["projected_h"]) for r in rows] == [("04", 1, 0.0), ("01", 0, 0.0)]
    text = budget.report("cpu", 2, rows, {"01": 0.5})
    assert "| 04 | 1 | 0 | 0.00 | 0.00 (1 of a kind not timed yet, not counted) | 0.00 | - |" in text
    assert "Whole run (projected where trained, measured otherwise): 0.50 hours." in text
