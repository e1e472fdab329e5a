"""How much the float16-rounded FID network of scripts/device_study.sh changes FID and KID.

The GPU machine receives at most 64 MiB, so the device study scores with the stock Inception
network's weights rounded to float16 (``metrics.save_half_precision_inception``) and cast back to
float32. Here both networks score the same pairs of embedded targets (all images, 64 px).

    .venv/bin/python benchmarks/half_inception.py

Writes benchmarks/results/half_inception.md (a few minutes on 2 cores).
"""
from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.study import tables

RESULTS = Path(__file__).resolve().parent / "results" / "half_inception.md"
PAIRS = (("landscapes", "galaxies"), ("faces-100", "emoji-animals"))


def scores(network: metrics.InceptionFeatures, a, b) -> dict:
    fa, fb = network(a, progress=False), network(b, progress=False)
    return {**metrics.METRICS["fid"](fa, fb), **metrics.METRICS["kid"](fa, fb)}


def main() -> None:
    stock = metrics.InceptionFeatures(backend="torchscript")
    with tempfile.TemporaryDirectory() as folder:
        os.environ[metrics.INCEPTION_ENV] = str(metrics.save_half_precision_inception(Path(folder) / "half.pt"))
        half = metrics.InceptionFeatures(backend="torchscript")
        del os.environ[metrics.INCEPTION_ENV]
    rows = []
    for name_a, name_b in PAIRS:
        a, b = sources.load_images(name_a), sources.load_images(name_b)
        full, rounded = scores(stock, a, b), scores(half, a, b)
        rows.append({"A": name_a, "B": name_b, "FID, stock": tables.number(full["fid"], 2),
                     "FID, float16 weights": tables.number(rounded["fid"], 2),
                     "relative difference": f"{abs(rounded['fid'] - full['fid']) / full['fid']:.1e}",
                     "KID, stock": tables.number(full["kid_mean"], 4),
                     "KID, float16 weights": tables.number(rounded["kid_mean"], 4),
                     "KID relative difference": f"{abs(rounded['kid_mean'] - full['kid_mean']) / full['kid_mean']:.1e}"})
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    RESULTS.write_text(f"# FID network with float16 weights against the stock one ({date})\n\n"
                       "All images of each target at 64 px; TorchScript network on CPU; KID over 100 seeded subsets.\n\n"
                       + tables.markdown(rows) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
