"""How far apart the embedded targets are, and how biased FID is at their sizes.

FID, KID (mean ± std over subsets) and precision/recall between every pair of embedded targets
(all images of each, 64 px), and between the two halves of each target: with 50-160 images in
2048 dimensions FID carries a large positive bias, which the halves show beside the unbiased KID.

    .venv/bin/python benchmarks/target_distances.py

Writes benchmarks/results/target_distances.md (about two minutes on 2 cores; features are cached
under runs/cache/features/).
"""
from __future__ import annotations

import datetime
import itertools
from pathlib import Path

from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.study import tables

RESULTS = Path(__file__).resolve().parent / "results" / "target_distances.md"


def row(name_a: str, images_a, name_b: str, images_b, with_pr: bool) -> dict:
    result = metrics.evaluate(images_a, images_b, ["fid", "kid"] + ["pr"] * with_pr, progress=False)
    return {"A": name_a, "B": name_b, "FID": tables.number(result["fid"], 1),
            "KID (mean ± std over subsets)": tables.plus_minus(result["kid_mean"], result["kid_std"], 3),
            "precision": tables.number(result["precision"]) if with_pr else "",
            "recall": tables.number(result["recall"]) if with_pr else ""}


def main() -> None:
    targets = {name: sources.load_images(name) for name in sources.TARGETS}
    rows = [row(a, targets[a], b, targets[b], True) for a, b in itertools.combinations(sources.TARGETS, 2)]
    for name, images in targets.items():
        half = (len(images) + 1) // 2
        rows.append(row(f"{name}, first {half}", images[:half], f"{name}, last {len(images) - half}", images[half:],
                        False))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    RESULTS.write_text(f"# Distances between the embedded targets ({date})\n\n"
                       "All images of each target at 64 px; standard FID Inception features; KID over 100 seeded "
                       "subsets; precision/recall with k = 3.\n\n" + tables.markdown(rows) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
