"""Torch's CPU threads: how many, and how idle ones wait, so that a busy machine never stalls a run.

PyTorch's CPU wheel parallelises with the GNU OpenMP runtime it bundles (``torch/lib/libgomp.so.1``,
linked by ``libtorch_cpu.so``). Two things of its defaults multiply a run's time when another
process holds one of the cores (benchmarks/results/thread_stall.md):

* one thread per core, busy or not: every parallel region ends at a barrier that waits for the
  thread sharing a core with the other process, i.e. for a scheduler time slice (milliseconds)
  after regions of microseconds; ``default_threads`` counts only the cores not busy;
* libgomp's wait policy: a thread that has finished its share spins (about 3 ms by default) before
  it sleeps, taking the core from the very thread it waits for. Sleeping at once
  (``OMP_WAIT_POLICY=PASSIVE``) bounds that loss (2 threads of smoke pretraining took 1.8x their
  idle time with a core busy, against more than 8x spinning) but costs a wake-up at every parallel
  region: on the benchmark's idle 2-core machine, 2 PASSIVE threads ran the cpu preset's training
  step at 93 images/s against 156 spinning. So ``plan`` keeps the spinning where every thread has a
  free core of its own (the default count) and makes threads sleep at once where there are more
  threads than free cores (``--threads`` or ``OMP_NUM_THREADS`` above them). A load that arrives
  during a run is not seen: start long runs with ``--threads 1`` on a machine others will use.

libgomp reads ``OMP_WAIT_POLICY`` (and ``GOMP_SPINCOUNT``) once, when ``import torch`` loads it: a
value set later in the process changes nothing. So a command calls ``plan(threads)`` before anything
imports torch, and ``configure(count)`` once it runs.
"""
from __future__ import annotations

import numbers
import os
import sys
import time

SAMPLE_S = 0.1       # seconds over which the cores' busy time is measured (the clock ticks at 100 Hz)


def set_wait_policy() -> bool:
    """Make OpenMP's idle threads sleep instead of spin (``OMP_WAIT_POLICY=PASSIVE``), unless the
    environment already names a policy (the user's choice wins). Returns whether it can still take
    effect: False when torch, hence libgomp, was imported before this call."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "torch" not in sys.modules


def plan(threads: int | None = None) -> int:
    """The torch thread count for a command (``threads``, or ``default_threads()``), decided before
    torch loads; with more threads than free cores, OpenMP's idle threads are made to sleep at once
    (``set_wait_policy``), otherwise they keep libgomp's spinning (see the module docstring)."""
    count = default_threads() if threads is None else check_count(threads)
    if count > free_cores():
        set_wait_policy()
    return count


def busy_cores(cores: set[int], seconds: float = SAMPLE_S) -> float:
    """How many of ``cores`` other processes keep busy now: the sum of each core's non-idle share
    of the next ``seconds`` (from /proc/stat, while this thread sleeps). Where /proc/stat cannot be
    read (not Linux), the 1-minute load average, which lags a change of load by about a minute."""
    try:
        before = _core_times(cores)
        time.sleep(seconds)
        after = _core_times(cores)
    except OSError:
        return os.getloadavg()[0]
    busy = 0.0
    for core, (idle, total) in after.items():
        elapsed = total - before[core][1]
        busy += 1.0 - (idle - before[core][0]) / elapsed if elapsed > 0 else 0.0
    return busy


def _core_times(cores: set[int]) -> dict[int, tuple[int, int]]:
    """(idle ticks, all ticks) of each of ``cores`` since boot, from /proc/stat; steal time counts
    as busy (a virtual machine's core that the host gave to someone else)."""
    times = {}
    with open("/proc/stat") as stat:
        for line in stat:
            name, *ticks = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, ticks[:8])
                times[int(name[3:])] = (idle + iowait, user + nice + system + idle + iowait + irq + softirq + steal)
    return times


def free_cores() -> int:
    """The cores this process may run on (its affinity: taskset, a container's cpuset) less those
    other processes keep busy now, at least one."""
    cores = os.sched_getaffinity(0)
    return max(1, len(cores) - round(busy_cores(cores)))


def default_threads() -> int:
    """Torch threads for a command without ``--threads``: ``OMP_NUM_THREADS`` where the user set it,
    else the free cores shared among the processes torchrun started on this machine
    (``LOCAL_WORLD_SIZE``), at least one each. Fewer threads than cores costs at most their ratio
    on a machine that is idle; more threads than free cores stalls (about 40x for smoke runs)."""
    chosen = os.environ.get("OMP_NUM_THREADS", "")
    if chosen.isdigit() and int(chosen) >= 1:
        return int(chosen)
    return max(1, free_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def check_count(threads) -> int:
    """``threads`` as an int, or a ValueError saying what a thread count must be."""
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"the number of torch threads (--threads) must be a whole number, at least 1; got {threads!r}")
    return int(threads)


def configure(threads: int | None = None) -> int:
    """Run torch on ``threads`` intra-op threads (None: ``default_threads()``), and as many
    inter-op threads where torch still allows it (only before its first parallel work); returns
    the count used."""
    count = default_threads() if threads is None else check_count(threads)
    import torch
    torch.set_num_threads(count)
    try:
        torch.set_num_interop_threads(count)
    except RuntimeError:                 # already set, or inter-op work has started: keep torch's
        pass
    return count
