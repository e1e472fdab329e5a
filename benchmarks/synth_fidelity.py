"""How far is each synthesizer variant from the official code? Two-sample tests against the port.

For each variant with an official counterpart (``synth.official``: ps-noise and rgb_noise +
renormalize, primitives-ps and pink_leaves, primitives-s and dead_leaves, whose solid salient
object on shapes over a flat background is the nearest official function), ``n`` images per side
at one resolution, every statistic of ``eval.fidelity`` (means and the Kolmogorov-Smirnov
p-value). A p-value under 0.01 names a statistic where the variant's default does not yet draw
the official distribution.

    .venv/bin/python benchmarks/synth_fidelity.py [--n 1000] [--resolution 256]

Writes benchmarks/results/synth_fidelity.md.
"""
from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from primps_core import synth
from primps_core.eval import fidelity
from primps_core.synth import official

RESULTS = Path(__file__).resolve().parent / "results" / "synth_fidelity.md"
COUNTERPARTS = {"ps-noise": "rgb_noise", "primitives-ps": "pink_leaves", "primitives-s": "dead_leaves"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--resolution", type=int, default=256)
    args = parser.parse_args()
    start = time.perf_counter()
    lines = [f"# Synthesizer variants against the port of the official code ({datetime.date.today()})", "",
             f"{args.n} images per side at {args.resolution} px; primps_core.synth.generate with each variant's "
             f"defaults (seed 0) against synth.official (seeds 0..{args.n - 1}); two-sample Kolmogorov-Smirnov "
             f"test per statistic (eval.fidelity).", ""]
    for variant, function in COUNTERPARTS.items():
        ours = synth.generate(args.n, variant=variant, resolution=args.resolution, seed=0)
        port = official.images(function, args.n, size=args.resolution, seed=0)
        lines += [f"**{variant}** against `{function}`:", "",
                  "| statistic | primps mean | official mean | KS distance | p-value |", "|---|---|---|---|---|"]
        for row in fidelity.compare(ours, port):
            lines.append(f"| {row['statistic']} | {row['mean_a']:.4g} | {row['mean_b']:.4g} | {row['ks']:.3f} | "
                         f"{row['p']:.1e} |")
        lines.append("")
        print("\n".join(lines[-16:]), flush=True)
    lines.append(f"{(time.perf_counter() - start) / 60:.1f} min in all.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
