"""Figures of the many-classes study (notebook 08): scores per setting, and generated images per class."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..data import class_sources, glyphs
from ..data.images import grey_to_rgb
from ..study import many_classes_parts as parts
from .plots import labelled_rows

ARM_COLOURS = {("scratch", "off"): "0.45", ("scratch", "on"): "0.15", ("primitives-ps", "off"): "C1",
               ("primitives-ps", "on"): "C3"}
METRICS = (("accuracy", "class accuracy"), ("removed_accuracy", "accuracy on the removed classes"),
           ("fid", "FID"), ("intra_fid", "intra-class FID"))


def metric_figure(rows: list[dict], references: list[dict], dataset: str):
    """Each score of ``dataset``'s runs against the setting, one series per (init, self-supervision):
    the mean over seeds with one standard deviation, each seed a dot; real HQ images scored alike
    dashed, real LQ images dash-dotted, chance dotted (``references``: the study's reference rows)."""
    rows = [row for row in rows if row["dataset"] == dataset]
    real = {row["images"]: row for row in references if row["dataset"] == dataset}
    settings = list(dict.fromkeys(row["setting"] for row in rows))
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS) + 1.5, 3.6))
    for axis, (metric, name) in zip(axes, METRICS):
        for k, (arm, colour) in enumerate(ARM_COLOURS.items()):
            offset = (k - 1.5) * 0.08
            for x, setting in enumerate(settings):
                values = [row[metric] for row in rows if (row["init"], row["self_supervision"], row["setting"])
                          == (*arm, setting)]
                if not values:
                    continue
                axis.scatter(np.full(len(values), x + offset), values, s=8, color=colour, alpha=0.5, lw=0)
                axis.errorbar(x + offset, np.mean(values), yerr=np.std(values, ddof=1) if len(values) > 1 else 0,
                              fmt="o", ms=5, capsize=2, color=colour,
                              label=f"{arm[0]}, SS {arm[1]}" if x == 0 else None)
        axis.axhline(real["real HQ"][metric], color="k", ls="--", lw=0.8, label="real HQ images")
        axis.axhline(real["real LQ"][metric], color="k", ls="-.", lw=0.8, label="real LQ images")
        if "accuracy" in metric:
            axis.axhline(real["real HQ"]["chance"], color="0.6", ls=":", lw=0.8, label="chance")
        axis.set_xticks(range(len(settings)), settings, rotation=20, fontsize=8)
        axis.set_ylabel(name)
    axes[-1].legend(*axes[0].get_legend_handles_labels(), fontsize=7, frameon=False, loc="upper left",
                    bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def class_grid_figure(outcome: dict, dataset: str, seed: int = 0, per_class: int = 3):
    """A class-by-sample grid per arm of ``dataset`` (``outcome``: ``study.many_classes.run``'s):
    one row per setting, self-supervision and init (seed ``seed``), ``per_class`` generated images
    of each intra-class FID class side by side, class after class; real HQ test images of the same
    classes on top."""
    scale = outcome["scales"][dataset]
    rows = {"real HQ (test)": parts.real_samples(scale, per_class)}
    for (run_dataset, setting, ss, init, run_seed), result in outcome["runs"].items():
        if (run_dataset, run_seed) == (dataset, seed):
            rows[f"{setting}, SS {ss}, {init}"] = parts.samples(result, scale, per_class)
    return labelled_rows({label: grey_to_rgb(images) for label, images in rows.items()}, size=0.5)


def data_figure(scale: parts.Scale, shown: int = 10, seed: int = 0):
    """The dataset: ``shown`` classes of the subset (columns) as each font face draws them (glyphs),
    then an HQ training image and an LQ image of each."""
    source = class_sources.image_source(scale.dataset)
    subset = source.subset(scale.classes)
    subset = subset[np.unique(np.round(np.linspace(0, len(subset) - 1, min(shown, len(subset)))).astype(int))]
    rows = {}
    if isinstance(source, class_sources.GlyphImages):
        _, _, faces = glyphs.load_glyphs()
        rows = {face: source.table[subset, k] for k, face in enumerate(faces)}
    rows["HQ image"] = source.draw(subset, 1, "hq", seed)[0]
    rows["LQ image"] = class_sources.low_quality_images(source, subset, 1, seed)[0]
    return labelled_rows({label: grey_to_rgb(images) for label, images in rows.items()}, size=0.55)
