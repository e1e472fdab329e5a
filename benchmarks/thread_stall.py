"""Thread stall: smoke pretraining on an idle machine and with another process busy on one core.

Item 3 of the issue "your own photos, as they come": with another process on one of 2 cores, smoke
pretraining took 40x longer on torch's default 2 threads than on one. This benchmark times

    python -m primps_core pretrain --source primitives-ps --preset smoke --iterations N --runs <fresh temporary folder>

in a subprocess (a new runs folder each time, so nothing is cached), for each thread setting, on the
idle machine and with a busy loop (``python -c "while True: pass"``, not pinned) that the benchmark
starts before the run (in a session of its own, like another user's process) and kills after: 2
threads with libgomp's default wait (spinning about 3 ms before sleeping: ``GOMP_SPINCOUNT=300000``,
what an unset ``OMP_WAIT_POLICY`` gives, spelled out so that the command line's own choice cannot
change it), 2 threads with ``OMP_WAIT_POLICY=PASSIVE``, 1 thread, and the command line's default
(``primps_core.threads.plan``: the free cores, measured as the run starts, spinning since each
thread then has a core; PASSIVE only when there are more threads than free cores). Idle and
loaded runs alternate, ``--repeats`` times each, and the fastest is kept; a run longer than
``--timeout`` is stopped, reported as "> N s" and not repeated. Then, once each, the same settings
on the cpu preset's training step (``--step-rate``: images/s of ``STEPS`` steps after a warm-up),
where a second thread pays on an idle machine, to show what each wait policy costs there.

The machine is shared: each run first waits (up to ``--quiet-wait`` seconds) until other processes
keep under half a core busy, and the tables say how busy they were before and during the runs.
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
    "new default: the free cores, spinning while each thread has a core": {},
}
QUIET = 0.5            # busy cores of other processes under which the machine counts as idle
STEPS = 16             # timed training steps of --step-rate (one of them a lazy-R1 step)
STEP_TIMEOUT = 40.0    # seconds after which a --step-rate run counts as stalled


def pretrain_command(iterations: int, runs: str) -> list[str]:
    return [sys.executable, "-m", "primps_core", "pretrain", "--source", "primitives-ps", "--preset", "smoke",
            "--iterations", str(iterations), "--runs", runs]


def step_rate() -> float:
    """Images/s of the cpu preset's pretraining step on Primitives-PS in this process, over ``STEPS``
    steps after three of warm-up."""
    from primps_core import synth
    from primps_core.data import sources
    from primps_core.gan import training
    from primps_core.study import runs
    config = runs.train_config(sources.resolve("primitives-ps"), "cpu", 0)
    trainer = training.Trainer(config)
    reals = synth.generate(config.batch_size, variant="primitives-ps", resolution=config.model.resolution)
    for _ in range(3):
        trainer.step(reals)
    start = time.perf_counter()
    for _ in range(STEPS):
        trainer.step(reals)
    return STEPS * config.batch_size / (time.perf_counter() - start)


def time_run(command: list[str], setting: dict[str, str], timeout: float) -> tuple[float, str | None]:
    """(wall seconds, stdout) of ``command`` in ``setting``'s environment, or (inf, None) past ``timeout``."""
    environment = {k: v for k, v in os.environ.items() if k not in OPENMP_VARIABLES} | setting
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("inf"), None
    if done.returncode != 0:
        raise RuntimeError(f"{command[1:4]} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - start, done.stdout


def quiet(limit: float) -> float:
    """Wait up to ``limit`` seconds for other processes to keep under ``QUIET`` cores busy (the
    machine is shared); returns the busy cores last measured, over half a second."""
    deadline = time.monotonic() + limit
    busy = threads.busy_cores(os.sched_getaffinity(0), 0.5)
    while busy >= QUIET and time.monotonic() < deadline:
        busy = threads.busy_cores(os.sched_getaffinity(0), 0.5)
    return busy


def run_once(command: list[str], setting: dict[str, str], loaded: bool, timeout: float, args, pause_new) -> dict:
    """One timed run of ``command``, idle or ``loaded``, once the machine is quiet, with the cores
    other processes kept busy (the most of: as it started, on average during it). The default's
    thread count is chosen under the run's own conditions, just before it starts."""
    pause_new()
    others = quiet(args.quiet_wait)
    start = time.perf_counter(), busy_seconds(), children_seconds()
    with busy_loop() if loaded else contextlib.nullcontext():
        setting = {"OMP_NUM_THREADS": str(threads.free_cores())} | setting
        seconds, out = time_run(command, setting, timeout)
    wall, busy, ours = (end - begin for end, begin in zip((time.perf_counter(), busy_seconds(), children_seconds()),
                                                          start))
    return {"seconds": seconds, "out": out, "threads": int(setting["OMP_NUM_THREADS"]),
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


def measure(args, pause_new) -> tuple[dict, dict]:
    """The runs of every setting, idle and loaded alternately: smoke pretraining ``args.repeats``
    times each (a run past the timeout is not repeated), then the cpu preset's step once each."""
    pretraining = {label: {"idle": [], "loaded": []} for label in SETTINGS}
    for label, setting in SETTINGS.items():
        for _ in range(args.repeats):
            for condition, runs in pretraining[label].items():
                if not runs or runs[-1]["seconds"] != float("inf"):
                    with tempfile.TemporaryDirectory() as folder:
                        runs.append(run_once(pretrain_command(args.iterations, folder), setting,
                                             condition == "loaded", args.timeout, args, pause_new))
                    print("pretrain", condition, label, runs[-1]["seconds"], flush=True)
    steps = {label: {condition: [run_once([sys.executable, __file__, "--step-rate"], setting, condition == "loaded",
                                          STEP_TIMEOUT, args, pause_new)] for condition in ("idle", "loaded")}
             for label, setting in SETTINGS.items()}
    return pretraining, steps


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


def seconds_cell(runs: list[dict], timeout: float) -> str:
    """The fastest pretraining run: wall seconds (the run's own wall_s)."""
    best = min(runs, key=lambda run: run["seconds"])
    if best["seconds"] == float("inf"):
        return f"> {timeout:.0f}"
    return f"{best['seconds']:.1f} ({json.loads(best['out'].strip().splitlines()[-1])['wall_s']:.1f})"


def slowdown(cells: dict[str, list[dict]], timeout: float) -> str:
    idle, loaded = (min(run["seconds"] for run in cells[condition]) for condition in ("idle", "loaded"))
    return f"> {timeout / idle:.1f}x" if loaded == float("inf") else f"{loaded / idle:.2f}x"


def rate_cell(run: dict) -> str:
    return "stalled" if run["seconds"] == float("inf") else f"{float(run['out']):.0f}"


def label_of(label: str, cells: dict[str, list[dict]], setting: dict[str, str]) -> str:
    """The row's label; the default's with the thread counts it chose."""
    if "OMP_NUM_THREADS" in setting:
        return label
    chose = (f"{'/'.join(str(t) for t in sorted({run['threads'] for run in runs}))} {condition}"
             for condition, runs in cells.items())
    return f"{label} (chose {', '.join(chose)})"


def table(pretraining: dict, steps: dict, args, pids: list[int]) -> str:
    """The results file: how it was measured, then one row per setting in each table."""
    example = " ".join(pretrain_command(args.iterations, "<fresh temporary folder>")[1:])
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
    for (label, cells), setting in zip(pretraining.items(), SETTINGS.values()):
        environment = " ".join(f"{k}={v}" for k, v in setting.items()) or "OMP_NUM_THREADS=<free cores>"
        others = max(run["others"] for runs in cells.values() for run in runs)
        lines.append(f"| {label_of(label, cells, setting)} | `{environment}` | "
                     f"{seconds_cell(cells['idle'], args.timeout)} | {seconds_cell(cells['loaded'], args.timeout)} | "
                     f"{slowdown(cells, args.timeout)} | {others:.2f} |")
    lines += ["", f"The cpu preset's pretraining step (its model, batch and R1; `thread_stall.py --step-rate`: "
                  f"images/s of {STEPS} steps after 3 of warm-up, one run each; stalled: not done in "
                  f"{STEP_TIMEOUT:.0f} s), where a second thread pays on an idle machine:", "",
              "| setting | idle images/s | loaded images/s | others' busy cores |", "|---|---|---|---|"]
    for (label, cells), setting in zip(steps.items(), SETTINGS.values()):
        others = max(run["others"] for runs in cells.values() for run in runs)
        lines.append(f"| {label_of(label, cells, setting)} | {rate_cell(cells['idle'][0])} | "
                     f"{rate_cell(cells['loaded'][0])} | {others:.2f} |")
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
    parser.add_argument("--step-rate", action="store_true", help="only print the images/s of the cpu preset's "
                                                                 "step in this process (what the benchmark runs)")
    args = parser.parse_args()
    if args.step_rate:
        print(step_rate())
        return
    with paused(args.pause) as pause_new:
        pretraining, steps = measure(args, pause_new)
        stopped = pause_new()
    text = table(pretraining, steps, args, stopped)
    atomic_write(RESULTS / "thread_stall.md", lambda temporary: Path(temporary).write_text(text))
    print(text)


if __name__ == "__main__":
    main()
