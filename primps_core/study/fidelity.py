"""Does each variant draw the official code's distribution? The comparison table of notebook 02.

One cached stage draws, at the official code's 256 px, ``n`` images per side from each variant's
published default (``synth.generate``) and from its counterpart in the port of the official code
(``synth.official``), and tests every statistic of ``eval.fidelity`` with a two-sample
Kolmogorov-Smirnov test. The counterparts (``COUNTERPARTS``, evidence in notebook 02):

- ps-noise: ``rgb_noise`` + ``renormalize`` (the paper's PinkNoise);
- primitives: ``dead_leaves`` stopped before its salient object (no official function draws
  Primitives without an object: the nearest reading);
- primitives-s: ``dead_leaves`` (grey background, 100 shapes, a solid salient object);
- primitives-ps: ``pink_leaves`` (what the released pretraining dataset class calls).

The same counterparts at the study's training resolution (``small``, 32 px at the canonical
preset): each variant's default at that size (drawn larger and downsampled with Lanczos, see
``synth`` option ``drawn_at``) against the official 256 px images downsampled the same way, as
the targets and natural patches are made from photos; and, for the record, what the study's designs
1-3 trained on: the variant drawn at that size itself (``drawn_at="native"``, point-sampled).

Two geometric comparisons measure what images mix together: the salient object alone on a flat
background (primitives-s without shapes against ``dead_leaves`` with 0 iterations) and the area of
each of the 100 shapes drawn alone (``synth.shape_areas`` against ``official.particle_areas``).
Then each of the study's own options (``OPTIONS``) against the published default of primitives-ps
(or primitives, for the background colour), ours against ours: how far each improvement moves the
images.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import synth
from ..eval import fidelity
from ..paths import write_csv
from ..presets import Preset
from ..progress import bar as progress_bar
from ..synth import official, render
from .pipeline import Context, stage

RESOLUTION = official.SIZE
# variant -> (official function, its keyword arguments)
COUNTERPARTS = {
    "ps-noise": ("rgb_noise", {}),
    "primitives": ("dead_leaves", {"salient": False}),
    "primitives-s": ("dead_leaves", {}),
    "primitives-ps": ("pink_leaves", {}),
}
# (label, variant, options): the study's own improvements, each against the variant's published default
OPTIONS = (
    ("anti-aliased edges", "primitives-ps", (("antialias", True),)),
    ("natural alpha law", "primitives-ps", (("alpha_law", "natural"),)),
    ("per-channel normalisation", "primitives-ps", (("normalisation", "per-channel"),)),
    ("continuous geometry", "primitives-ps", (("geometry", "continuous"),)),
    ("colour background", "primitives", (("flat_background", "colour"),)),
)


@dataclass(frozen=True)
class FidelityConfig:
    images: int                        # images per side of every comparison
    code_digest: str                   # the synthesizer's source (the port included)
    small: int                         # the training resolution, where the counterparts are compared again
    resolution: int = RESOLUTION
    seed: int = 0


def config_for(preset: Preset) -> FidelityConfig:
    return FidelityConfig(images=preset.fidelity_images, code_digest=synth.code_digest(),
                          small=preset.train_resolution)


def small_comparison(variant: str, small: int, native: bool = False) -> str:
    """The name of a comparison at the training resolution in the table."""
    return f"{variant} at {small} px" + (", drawn at that size (designs 1-3)" if native else "")


def _rows(comparison: str, against: str, results: list[dict], n: int) -> list[dict]:
    return [{"comparison": comparison, "against": against, "n_per_side": n, **row} for row in results]


# version 2: the counterparts compared again at the training resolution (the port downsampled)
@stage("synth_fidelity", version=2)
def synth_fidelity_stage(config: FidelityConfig, out_dir: Path, context: Context) -> dict:
    """Write fidelity.csv: one row per (comparison, statistic) with both means, the KS distance and p."""
    n, size, seed, small = config.images, config.resolution, config.seed, config.small
    rows, small_rows = [], []
    for variant, (function, arguments) in progress_bar(COUNTERPARTS.items(), desc="variants", disable=not context.progress):
        ours = synth.generate(n, variant=variant, resolution=size, seed=seed)
        port = official.images(function, n, size=size, seed=seed, **arguments)
        rows += _rows(variant, _call(function, arguments), fidelity.compare(ours, port), n)
        port_small = downsampled(port, small)
        against = f"{_call(function, arguments)} at {size} px, downsampled"
        for native in (False, True):
            ours = synth.generate(n, variant=variant, resolution=small, seed=seed,
                                  **({"drawn_at": "native"} if native else {}))
            small_rows += _rows(small_comparison(variant, small, native), against,
                                fidelity.compare(ours, port_small), n)
    rows += small_rows
    ours = synth.generate(n, variant="primitives-s", resolution=size, seed=seed, n_shapes=0)
    port = official.images("dead_leaves", n, size=size, seed=seed, iterations=0)
    rows += _rows("salient object alone", "dead_leaves, 0 shapes", fidelity.compare(ours, port, fidelity.SALIENT_STATISTICS), n)
    ours = fidelity.shape_area_values(synth.shape_areas(n, variant="primitives", resolution=size, seed=seed), size)
    port = fidelity.shape_area_values(official.particle_areas(n, size, seed=seed), size)
    rows += _rows("100 shapes, each alone", "dead_leaves' shapes", fidelity.compare_values(ours, port), n)
    for label, variant, options in OPTIONS:
        changed = synth.generate(n, variant=variant, resolution=size, seed=seed, **dict(options))
        default = synth.generate(n, variant=variant, resolution=size, seed=seed + 1)
        rows += _rows(f"option: {label}", f"{variant}, published default", fidelity.compare(changed, default), n)
    write_csv(out_dir / "fidelity.csv", rows)
    return {"rows": len(rows), "counterpart_rows_below_0.01": sum(r["p"] < 0.01 for r in rows if is_counterpart(r))}


def at_training_resolution(row: dict) -> bool:
    """True for a row of the comparisons at the training resolution (see ``small_comparison``)."""
    return row["comparison"].split(",")[0].endswith(" px")


def is_counterpart(row: dict) -> bool:
    """True for a row that compares a variant's default with the official code (at 256 px, or at
    the training resolution as published), not an option or the designs-1-3 drawing."""
    return not row["comparison"].startswith("option") and "designs 1-3" not in row["comparison"]


def downsampled(images: np.ndarray, resolution: int) -> np.ndarray:
    """``images`` resized to ``resolution`` with the synthesizer's (and every photo's) Lanczos."""
    out = np.empty((len(images), resolution, resolution, 3), np.uint8)
    render.downsample(images, resolution, out)
    return out


def _call(function: str, arguments: dict) -> str:
    """How a counterpart is called, for the table: ``dead_leaves(salient=False)``."""
    return f"{function}({', '.join(f'{k}={v}' for k, v in arguments.items())})"


def vanishing_shapes(n: int, resolutions: tuple[int, ...], seed: int = 0) -> list[dict]:
    """What a small resolution does to the published 100 shapes (primitives' shapes, hard edges):
    per resolution and level, the share of shapes whose true area, their area on the 256 grid
    scaled, is under one pixel, and the share that draw no pixel at all (point sampling misses them)."""
    grid = synth.shape_areas(n, variant="primitives", resolution=RESOLUTION, seed=seed)
    rows = []
    for resolution in resolutions:
        drawn = synth.shape_areas(n, variant="primitives", resolution=resolution, seed=seed)
        true_area = grid * (resolution / RESOLUTION) ** 2
        for level in range(grid.shape[1]):
            rows.append({"resolution": resolution, "level": level,
                         "under_one_pixel": float((true_area[:, level] < 1).mean()),
                         "no_pixel": float((drawn[:, level] == 0).mean())})
    return rows


def markdown_table(rows: list[dict]) -> str:
    """fidelity.csv rows as one markdown table per comparison (means to 4 significant digits, p in
    scientific notation), p < 0.01 in bold."""
    blocks, comparisons = [], list(dict.fromkeys(row["comparison"] for row in rows))
    for comparison in comparisons:
        part = [row for row in rows if row["comparison"] == comparison]
        lines = [f"**{comparison}** against {part[0]['against']} ({int(part[0]['n_per_side'])} images per side)", "",
                 "| statistic | primps | other | KS distance | p |", "|---|---|---|---|---|"]
        for row in part:
            p = f"{float(row['p']):.1e}"
            lines.append(f"| {row['statistic']} | {float(row['mean_a']):.4g} | {float(row['mean_b']):.4g} | "
                         f"{float(row['ks']):.3f} | {f'**{p}**' if float(row['p']) < 0.01 else p} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
