"""Jobs on a Dask cluster (``Context(cluster=address)``): the same runs, file for file, as the local
worker processes, each job after the jobs it needs and on one torch thread."""
import json
import os
from pathlib import Path

import distributed
import pytest
import torch

from primps_core.data import images as image_files, sources
from primps_core.gan import training
from primps_core.study import runs, scheduler
from primps_core.study.pipeline import Context, Job

TIMING = {"images_per_s", "eval_s", "wall_s"}      # wall-clock fields: the only ones allowed to differ


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes. Their torch starts on two threads (it takes MKL's
    count, which Dask's nannies set to 1 unless told otherwise), so a run that did not set its own
    one thread would train, and report, on two."""
    environment = dict(os.environ)       # a nanny sets its workers' variables in this process too
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      env={"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}) as local:
            yield local.scheduler_address
    finally:
        os.environ.clear()
        os.environ.update(environment)


def _plain(value):
    """``value`` with its tensors as (dtype, shape, bytes) and its wall-clock fields left out."""
    if isinstance(value, torch.Tensor):
        return str(value.dtype), tuple(value.shape), value.contiguous().numpy().tobytes()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if key not in TIMING}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def contents(root: Path) -> dict[str, object]:
    """Every file under ``root`` by relative path: the JSON records of logs and results (timings
    apart), the tensors of checkpoints, the bytes of everything else (configs, sample grids,
    cached features, lock files)."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name == "log.jsonl":
            value = [_plain(json.loads(line)) for line in path.read_text().splitlines() if line]
        elif path.name == "result.json":
            value = _plain(json.loads(path.read_text()))
        elif path.name == training.CHECKPOINT:
            value = _plain(training.load_checkpoint(path))
        else:
            value = path.read_bytes()
        found[str(path.relative_to(root))] = value
    return found


def test_a_plan_on_a_cluster_writes_the_same_runs_as_local_workers(tmp_path, cluster):
    image_files.save_images(sources.load_images("emoji-food")[:12], tmp_path / "target.zip")   # few to embed
    jobs = [runs.transfer_job(str(tmp_path / "target.zip"), "primitives-ps", "smoke", seed=seed, iterations=2,
                              pretrain_iterations=4) for seed in (0, 1)]      # and the pretraining both need
    local = scheduler.run_jobs(jobs, workers=2, progress=False, context=Context(tmp_path / "local"))
    remote = scheduler.run_jobs(jobs, progress=False, context=Context(tmp_path / "dask", cluster=cluster))
    assert [r.path for r in remote] == [job.path(tmp_path / "dask") for job in jobs]
    assert not any(r.cached for r in local + remote)
    assert [_plain(r.value) for r in remote] == [_plain(r.value) for r in local]
    assert len(list((tmp_path / "dask" / "smoke" / "pretrain").glob("[!.]*"))) == 1      # one shared pretraining
    assert not list((tmp_path / "dask").rglob("*.partial"))
    ours, theirs = contents(tmp_path / "dask"), contents(tmp_path / "local")
    assert sorted(ours) == sorted(theirs) and any(name.endswith(training.CHECKPOINT) for name in ours)
    for name in ours:
        assert ours[name] == theirs[name], name
    again = scheduler.run_jobs(jobs, progress=False, context=Context(tmp_path / "dask", cluster=cluster))
    assert all(r.cached for r in again) and [r.value for r in again] == [r.value for r in remote]


def test_on_a_cluster_a_job_starts_once_its_needs_end_before_queued_ones_on_one_thread(tmp_path, cluster):
    """The local scheduler's order (tests/test_runs.py), with the workers' thread counts."""
    from scheduled_stage import After, Sleep, follow, step
    need = Sleep("pretraining", 0.5)
    jobs = [Job(follow, After("dependent", 0.2, need), "smoke"),
            Job(step, Sleep("long", 3.0), "smoke"), Job(step, Sleep("queued", 0.2), "smoke")]
    dependent, long, queued = (r.value for r in scheduler.run_jobs(jobs, progress=False,
                                                                   context=Context(tmp_path / "runs", cluster=cluster)))
    assert dependent["start"] >= dependent["need"]["end"]           # after what it needs
    assert dependent["end"] <= queued["start"] < long["end"]        # before the job queued earlier; not after all
    assert [run["threads"] for run in (dependent["need"], dependent, long, queued)] == [1, 1, 1, 1]


def test_a_cluster_is_an_address():
    with pytest.raises(ValueError, match="cluster must be the address of a Dask scheduler"):
        Context(cluster="")
    assert Context(cluster="tcp://10.0.0.1:8786").cluster == "tcp://10.0.0.1:8786"
