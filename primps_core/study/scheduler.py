"""Many stage runs at once: in local worker processes (the default), or on a Dask cluster.

``run_jobs(jobs, context=...)`` runs (or loads) every job (a ``pipeline.Job``: a stage, its config, its
preset), each as soon as the jobs it needs (a transfer's pretraining run, recursively) have
finished. Where the runs go is the context's: by default worker processes on this machine (one
torch thread each: two single-threaded trainings on 2 cores do about 15% more images/s than one
two-threaded one); with ``Context(cluster="tcp://host:8786")`` the workers of that Dask scheduler,
which must see the runs folder at the same path (a shared filesystem) and run the same
environment. Both executors share one scheduling loop (``_schedule``), so which job goes next
never depends on where the jobs run, and neither do a run's numbers (one torch thread wherever it
trains; the stage locks keep two processes, on one machine or many, from computing the same
stage). ``distributed`` is imported only for a cluster, so a
machine with PyTorch alone (scripts/device_study.sh's) runs the local path.
"""
from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterator

import torch

from ..data import sources
from ..eval import metrics
from ..progress import bar as progress_bar
from .pipeline import Context, Job, StageResult
from .runs import feature_cache, transfer_stage

RUN_THREADS = 1       # torch threads per run, wherever it runs (a run's numbers depend on it)
CLUSTER_POLL_S = 10.0  # on a cluster, how often the loop looks again for workers that joined


@contextlib.contextmanager
def _threads(count: int):
    """Run the block with ``count`` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _start_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _run_on_cluster_worker(job: Job, context: Context) -> StageResult:
    """A job as a Dask task: on ``RUN_THREADS`` torch threads, set in the thread that trains (a
    Dask worker runs tasks in a thread pool, and its process may have been started with any
    OMP_NUM_THREADS). Never restored: a task that restored its predecessor's count could change
    the count of a run still going in another thread of the same worker."""
    torch.set_num_threads(RUN_THREADS)
    return job.run(context)


def balanced_workers(jobs: int, cores: int) -> int:
    """One worker per core, or one more when that finishes equal jobs sooner: 5 jobs on 2 cores
    take 3 rounds with 2 workers but 2.5 round-times with 3 (3 sharing 2 cores, then 2)."""
    def makespan(workers: int) -> float:
        full, rest = divmod(jobs, workers)
        return full * max(1.0, workers / cores) + (max(1.0, rest / cores) if rest else 0.0)
    return min((cores, cores + 1), key=lambda workers: (makespan(workers), workers))


def _embed_targets(jobs: list[Job], context: Context) -> None:
    """Cache the Inception features of every transfer target once, here, before workers need them."""
    for target, resolution in dict.fromkeys((job.config.train.source, job.config.train.model.resolution)
                                            for job in jobs if job.stage is transfer_stage):
        metrics.features(sources.load_images(target, resolution), progress=False, device=context.device,
                         cache_dir=feature_cache(context))


def _with_needs(jobs: list[Job]) -> list[Job]:
    """``jobs`` and everything they need, recursively, each once and after the jobs it needs."""
    order: dict[Job, None] = {}

    def visit(job: Job) -> None:
        if job not in order:
            for need in job.needs():
                visit(need)
            order[job] = None
    for job in jobs:
        visit(job)
    return list(order)


def run_jobs(jobs: list[Job], workers: int | None = None, progress: bool = True,
             context: Context | None = None) -> list[StageResult]:
    """Run (or load) every job, in parallel workers; results in the order of ``jobs``.

    A job starts as soon as the jobs it needs (a transfer's pretraining run, recursively) have
    finished, so no two workers ever compute the same stage and no worker waits for unrelated runs
    to end. Of the jobs ready to start, one that others wait for goes first, then the order of
    ``jobs`` (put the longest first: fewer workers idle at the end). The targets' features are
    computed once, here, before the transfers start.

    ``context`` says where the runs live, on which device they train and where they run: without
    ``context.cluster``, in worker processes on this machine (``workers`` of them, by default
    ``balanced_workers``; with one worker, or one run left to compute, the runs go in this
    process); with it, on the workers of that Dask scheduler (as many at a time as they have
    threads, at most ``workers``; the workers must see ``context.root`` at the same path).
    Every run trains on one torch thread wherever it runs: float sums depend on the thread count,
    so this keeps a run's numbers independent of how many others were pending and of where it ran.
    ``progress`` shows a bar over the runs (and, for runs in this process, over their iterations).
    """
    context = dataclasses.replace(context or Context(), progress=progress)
    quiet = dataclasses.replace(context, runs_dir=context.root, progress=False, cluster=None)   # the workers'
    order = _with_needs(jobs)
    pending = [job for job in order if not job.done(context.root)]
    results: dict[Job, StageResult] = {}
    if pending and context.cluster:
        _embed_targets(pending, context)
        with _dask_executor(context.cluster, workers) as executor:
            results = _schedule(pending, executor, quiet, progress)
    else:
        count = min(workers or balanced_workers(len(pending), os.cpu_count() or 1), len(pending))
        if count > 1:
            _embed_targets(pending, context)
            with _process_executor(count) as executor:
                results = _schedule(pending, executor, quiet, progress)
    with _threads(RUN_THREADS):
        results.update((job, job.run(context)) for job in order if job not in results)
    return [results[job] for job in jobs]


@dataclasses.dataclass
class _Executor:
    """Where ``_schedule`` sends jobs: ``slots()`` runs may go at once, ``submit(job, context)``
    returns a future (``result()``, hashable), ``wait(futures)`` returns those that have finished
    (possibly none, to let the loop look at ``slots()`` again)."""
    slots: Callable[[], int]
    submit: Callable
    wait: Callable


@contextlib.contextmanager
def _process_executor(count: int) -> Iterator[_Executor]:
    """``count`` spawned worker processes on this machine, each on ``RUN_THREADS`` torch threads."""
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(RUN_THREADS,))
    try:
        yield _Executor(slots=lambda: count, submit=lambda job, context: pool.submit(job.run, context),
                        wait=lambda futures: wait(futures, return_when=FIRST_COMPLETED).done)
    finally:                 # on an error, do not wait for the queued jobs
        pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _dask_executor(address: str, most: int | None) -> Iterator[_Executor]:
    """The workers of the Dask scheduler at ``address``: as many runs at a time as they have threads
    (read again after every finished run and every ``CLUSTER_POLL_S``, so workers that join
    later, an adaptive cluster's, get work; at least one, so a run waits for a first worker).
    Each task is keyed by its stage folder, so a scheduler that other clients share computes a
    stage once."""
    import distributed
    client = distributed.Client(address, set_as_default=False)

    def slots() -> int:
        threads = max(1, sum(client.nthreads().values()))
        return min(threads, most) if most else threads

    def submit(job: Job, context: Context):
        return client.submit(_run_on_cluster_worker, job, context, pure=False,
                             key=f"{job.stage.name}-{job.preset}-{job.path(context.root).name}")

    def finished(futures) -> set:
        try:
            with client.as_current():        # this client, never a default one the caller may have made
                return distributed.wait(list(futures), timeout=CLUSTER_POLL_S, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return set()
    try:
        yield _Executor(slots=slots, submit=submit, wait=finished)
    finally:                 # releases the futures: queued jobs are dropped, running ones end on their worker
        client.close()


def _schedule(pending: list[Job], executor: _Executor, context: Context, progress: bool) -> dict[Job, StageResult]:
    """Compute ``pending`` (each after the jobs of ``pending`` it needs) on ``executor``, at most
    ``executor.slots()`` at a time so that a job that becomes ready can go before the queued ones."""
    computing = set(pending)
    blocking = {job: computing.intersection(job.needs()) for job in pending}
    wanted = {need for needs in blocking.values() for need in needs}
    rank = {job: (job not in wanted, k) for k, job in enumerate(pending)}
    results, running = {}, {}
    with progress_bar(total=len(pending), desc="runs", unit="run", disable=not progress) as bar:
        while blocking or running:
            ready = sorted((job for job, needs in blocking.items() if not needs), key=rank.get)
            for job in ready[:max(0, executor.slots() - len(running))]:
                del blocking[job]
                running[executor.submit(job, context)] = job
            for future in executor.wait(running):
                job = running.pop(future)
                results[job] = future.result()
                for needs in blocking.values():
                    needs.discard(job)
                bar.update()
    return results
