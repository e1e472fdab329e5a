"""Thread stall: smoke pretraining on an idle machine and with another process busy on one core.

Item 3 of the issue "your own photos, as they come": with another process on one of 2 cores, smoke
pretraining took 40x longer on torch's default 2 threads than on one. This benchmark times

    python -m primps_core pretrain --source primitives-ps --preset smoke --iterations N --runs <fresh temporary folder>

in a subprocess (a new runs folder each time, so nothing is cached), for each thread setting, on the
idle machine and with a busy loop (``python -c "while True: pass"``, not pinned) that the benchmark
starts before the run (in a session of its own, like another user's process) and kills after: 2
threads with libgomp's default wait (spinning about 3 ms before sleeping: ``GOMP_SPINCOUNT=300000``,
what an unset ``OMP_WAIT_POLICY`` gives, spelled out so that the command line's own PASSIVE default
cannot change it), 2 threads with ``OMP_WAIT_POLICY=PASSIVE``, 1 thread, and the command line's
default (``primps_core.threads``: the free cores, measured as the run starts, and PASSIVE). Idle and
loaded runs alternate, ``--repeats`` times each, and the fastest is kept; a run longer than
``--timeout`` is stopped, reported as "> N s" and not repeated. The machine is shared: each run
first waits (up to ``--quiet-wait`` seconds) until other processes keep under half a core busy, and
the table says how busy they were before and during the runs.

Processes whose command line matches ``--pause`` (a long background pilot, by default) and their
children, including those that start meanwhile (looked for before each run), are stopped (SIGSTOP)
for the whole benchmark, so that "idle" is idle, and resumed (SIGCONT) when it ends, however it
ends (error, Ctrl-C, SIGTERM; not SIGKILL).

    .venv/bin/python benchmarks/thread_stall.py [--iterations 100] [--repeats 2] [--timeout 90]
        [--quiet-wait 15] [--pause pretrain_horizon]

Writes benchmarks/results/thread_stall.md.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from primps_core import threads
from primps_core.paths import atomic_write
from primps_core.study.reproduce import cpu_model

RESULTS = Path(__file__).resolve().parent / "results"
OPENMP_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
SETTINGS = {           # row label: the command's environment (no OMP_NUM_THREADS: threads.free_cores() decides)
    "2 threads, libgomp's default wait (spins ~3 ms)": {"OMP_NUM_THREADS": "2", "GOMP_SPINCOUNT": "300000"},
    "2 threads, PASSIVE wait": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "new default: the free cores, PASSIVE wait": {"OMP_WAIT_POLICY": "PASSIVE"},
}
QUIET = 0.5            # busy cores of other processes under which the machine counts as idle


def command(iterations: int, runs: str) -> list[str]:
    return [sys.executable, "-m", "primps_core", "pretrain", "--source", "primitives-ps", "--preset", "smoke",
            "--iterations", str(iterations), "--runs", runs]


def time_run(setting: dict[str, str], iterations: int, timeout: float) -> tuple[float, float | None]:
    """(wall seconds of the command, the run's own ``wall_s``), or (inf, None) past ``timeout``."""
    environment = {k: v for k, v in os.environ.items() if k not in OPENMP_VARIABLES} | setting
    with tempfile.TemporaryDirectory() as runs:
        start = time.perf_counter()
        try:
            done = subprocess.run(command(iterations, runs), env=environment, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return float("inf"), None
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"pretrain failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])["wall_s"]


def quiet(limit: float) -> float:
    """Wait up to ``limit`` seconds for other processes to keep under ``QUIET`` cores busy (the
    machine is shared); returns the busy cores last measured, over half a second."""
    deadline = time.monotonic() + limit
    busy = threads.busy_cores(os.sched_getaffinity(0), 0.5)
    while busy >= QUIET and time.monotonic() < deadline:
        busy = threads.busy_cores(os.sched_getaffinity(0), 0.5)
    return busy


def run_once(setting: dict[str, str], condition: str, args, pause_new) -> dict:
    """One timed run of ``setting`` idle or loaded, once the machine is quiet, with the cores other
    processes kept busy (the most of: as it started, on average during it). The default's thread
    count is chosen under the run's own conditions, just before it starts."""
    pause_new()
    others = quiet(args.quiet_wait)
    start = time.perf_counter(), busy_seconds(), children_seconds()
    with busy_loop() if condition == "loaded" else contextlib.nullcontext():
        setting = {"OMP_NUM_THREADS": str(threads.free_cores())} | setting
        seconds, run_s = time_run(setting, args.iterations, args.timeout)
    wall, busy, ours = (end - begin for end, begin in zip((time.perf_counter(), busy_seconds(), children_seconds()),
                                                          start))
    return {"seconds": seconds, "run_s": run_s, "threads": int(setting["OMP_NUM_THREADS"]),
            "others": max(others, (busy - ours) / wall)}


def busy_seconds() -> float:
    """CPU seconds all processes have had since boot, with the time a hypervisor gave to other
    machines (steal): /proc/stat's first line less idle and I/O wait."""
    user, nice, system, _, _, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_seconds() -> float:
    """CPU seconds of this process's finished children: the runs and the busy loops."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(args, pause_new) -> dict[str, dict[str, list[dict]]]:
    """The runs of every setting, idle and loaded alternately, ``args.repeats`` times each (a run
    past the timeout is not repeated)."""
    results = {label: {"idle": [], "loaded": []} for label in SETTINGS}
    for label, setting in SETTINGS.items():
        for _ in range(args.repeats):
            for condition, runs in results[label].items():
                if not runs or runs[-1]["seconds"] != float("inf"):
                    runs.append(run_once(setting, condition, args, pause_new))
                    print(condition, label, runs[-1], flush=True)
    return results


@contextlib.contextmanager
def busy_loop():
    """Another process keeping one core busy (running before the block starts), killed when it ends.
    It starts a session of its own, as another user's or terminal's process has: Linux schedules
    each session as a group (autogroup), and a loop in the run's group would take less from it."""
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        time.sleep(0.5)
        yield
    finally:
        loop.kill()
        loop.wait()


def matching(pattern: str) -> list[int]:
    """Processes whose command line matches ``pattern``, then all their descendants; never this
    process or its ancestors (whose command line may quote the pattern)."""
    ancestors, pid = set(), os.getpid()
    while pid > 1:
        ancestors.add(pid)
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    found = [int(p) for p in subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()]
    found = [p for p in found if p not in ancestors]
    for parent in found:                          # the list grows as children are found: a breadth-first walk
        found += [int(p) for p in subprocess.run(["pgrep", "-P", str(parent)], capture_output=True,
                                                 text=True).stdout.split() if int(p) not in found]
    return found


def send(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def paused(pattern: str):
    """Stop the processes ``matching(pattern)`` for the block and resume them however it ends
    (SIGTERM ends the block like Ctrl-C). Yields a function that also stops those started since
    (called before each run) and returns every pid stopped so far."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    stopped: list[int] = []

    def pause_new() -> list[int]:
        new = [pid for pid in matching(pattern) if pid not in stopped] if pattern else []
        stopped.extend(new)                       # listed before the signal: whatever is stopped is resumed
        send(new, signal.SIGSTOP)
        return stopped
    try:
        pause_new()
        yield pause_new
    finally:
        send(stopped, signal.SIGCONT)
        signal.signal(signal.SIGTERM, previous)


def cell(runs: list[dict], timeout: float) -> str:
    """The fastest run: wall seconds (the run's own wall_s)."""
    best = min(runs, key=lambda run: run["seconds"])
    return f"> {timeout:.0f}" if best["seconds"] == float("inf") else f"{best['seconds']:.1f} ({best['run_s']:.1f})"


def ratio(cells: dict[str, list[dict]], timeout: float) -> str:
    idle, loaded = (min(run["seconds"] for run in cells[condition]) for condition in ("idle", "loaded"))
    return f"> {timeout / idle:.1f}x" if loaded == float("inf") else f"{loaded / idle:.2f}x"


def table(results: dict[str, dict[str, list[dict]]], args, pids: list[int]) -> str:
    """The results file: how it was measured, then one row per setting."""
    example = " ".join(command(args.iterations, "<fresh temporary folder>")[1:])
    lines = [f"# Thread stall: smoke pretraining idle and with one core busy ({datetime.date.today()})", "",
             f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} cores); torch {importlib.metadata.version('torch')} "
             f"(its bundled GNU OpenMP, libgomp); `benchmarks/thread_stall.py --iterations {args.iterations} "
             f"--repeats {args.repeats} --timeout {args.timeout:.0f}`.", "",
             f"Each cell: wall seconds of `<environment> python {example}` (a new runs folder each time), the "
             f"fastest of {args.repeats} (a run past {args.timeout:.0f} s is stopped and not repeated), and in "
             f"parentheses the run's own `wall_s` (training and its evaluations, without Python's start). Idle: "
             f"{len(pids)} background process(es) matching `{args.pause}` stopped, and each run waits (up to "
             f"{args.quiet_wait:.0f} s) until other processes keep under {QUIET} cores busy (the machine is "
             f"shared; the last column is the most they kept busy as a run started or on average during one). "
             f"Loaded: also a busy loop (`python -c \"while True: pass\"`, not pinned, in a session of its own "
             f"like another user's process) during the run. The new default's thread count is "
             f"`threads.free_cores()` measured as its run starts, passed as OMP_NUM_THREADS.", "",
             "| setting | environment | idle s | loaded s | loaded / idle | others' busy cores |",
             "|---|---|---|---|---|---|"]
    for (label, cells), setting in zip(results.items(), SETTINGS.values()):
        environment = " ".join(f"{k}={v}" for k, v in setting.items())
        if "OMP_NUM_THREADS" not in setting:
            label += " (chose " + ", ".join(f"{'/'.join(str(t) for t in sorted({run['threads'] for run in runs}))} "
                                            f"{condition}" for condition, runs in cells.items()) + ")"
        others = max(run["others"] for runs in cells.values() for run in runs)
        lines.append(f"| {label} | `{environment}` | {cell(cells['idle'], args.timeout)} | "
                     f"{cell(cells['loaded'], args.timeout)} | {ratio(cells, args.timeout)} | {others:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100, help="pretraining iterations of each run")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each setting and condition (the fastest kept)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds after which a run is stopped")
    parser.add_argument("--quiet-wait", type=float, default=15.0, help="most seconds a run waits for the other "
                                                                       "processes to quiet down")
    parser.add_argument("--pause", default="pretrain_horizon", help="stop processes matching this (pgrep -f) "
                                                                    "while measuring; '' for none")
    args = parser.parse_args()
    with paused(args.pause) as pause_new:
        results = measure(args, pause_new)
        stopped = pause_new()
    text = table(results, args, stopped)
    atomic_write(RESULTS / "thread_stall.md", lambda temporary: Path(temporary).write_text(text))
    print(text)


if __name__ == "__main__":
    main()
