"""Peak memory of the synth command writing a large dataset: a million 32 px images by default.

Runs ``python -m primps_core synth`` in a subprocess and reads the child's peak resident set size
from the kernel (``getrusage(RUSAGE_CHILDREN)``); the target is under 2 GB whatever ``--n``.

    .venv/bin/python benchmarks/synth_memory.py [--n 1000000] [--resolution 32] [--format zip]

Writes benchmarks/results/synth_memory.md (the dataset itself goes to a temporary folder).
"""
from __future__ import annotations

import argparse
import datetime
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "synth_memory.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--format", default="zip", choices=["zip", "npz", "folder"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"set.{args.format}" if args.format != "folder" else Path(folder) / "set"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "primps_core", "synth", "--variant", "primitives-ps", "--n", str(args.n),
                        "--resolution", str(args.resolution), "--out", str(out), "--format", args.format], check=True)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in ([out] if out.is_file() else out.rglob("*")) if p.is_file())
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    text = "\n".join([
        f"# synth command memory ({datetime.date.today()})", "",
        "| images | resolution | format | wall time | images/s | output size | peak RSS |",
        "|---|---|---|---|---|---|---|",
        f"| {args.n:,} | {args.resolution} px | {args.format} | {seconds:.0f} s | {args.n / seconds:,.0f} | "
        f"{size / 2**30:.2f} GiB | {peak_mb:,.0f} MB |", ""])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
