"""Figures of the DP-synthesis study (notebook 07): metrics against epsilon, membership AUC, samples,
and PrivImage's semantic query."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from ..data.fashion import CLASSES
from ..data.images import grey_to_rgb
from ..dp import semantic
from ..study import dp_synthesis
from .plots import labelled_rows

SOURCE_COLOURS = {"none": "0.4", "primitives-ps": "C1", "natural-patches": "C2", "primitives-ps-selected": "C3",
                  "natural-patches-selected": "C0"}


def _epsilons(rows: list[dict]) -> list[float]:
    return sorted({row["epsilon"] for row in rows}, key=lambda e: (math.isinf(e), e))


def _label(epsilon: float) -> str:
    return "non-private" if math.isinf(epsilon) else f"ε = {epsilon:g}"


def _models(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["model"] for row in rows))


def _points(axis, rows: list[dict], epsilons: list[float], metric: str) -> None:
    """One line per source: the mean over seeds at each epsilon with one s.d., each seed a dot."""
    for k, source in enumerate(dict.fromkeys(row["source"] for row in rows)):
        offset, positions, means, stds = (k - 2) * 0.06, [], [], []
        for x, epsilon in enumerate(epsilons):
            values = [row[metric] for row in rows if row["source"] == source and row["epsilon"] == epsilon]
            if values:
                positions.append(x + offset)
                means.append(np.mean(values))
                stds.append(np.std(values, ddof=1) if len(values) > 1 else 0.0)
                axis.plot([x + offset] * len(values), values, ".", color=SOURCE_COLOURS[source], ms=3)
        axis.errorbar(positions, means, yerr=stds, marker="o", capsize=3, color=SOURCE_COLOURS[source], label=source)


def metric_figure(rows: list[dict], reference: dict):
    """Downstream accuracy and FID against epsilon, a row of panels per model, one line per source:
    mean over seeds, a bar of one standard deviation, each seed a dot; real training images dashed."""
    models = _models(rows)
    fig, axes = plt.subplots(len(models), 2, figsize=(13.5, 3.8 * len(models)), squeeze=False)
    for model, (left, right) in zip(models, axes):
        mine = [row for row in rows if row["model"] == model]
        epsilons = _epsilons(mine)                          # a model's own grid: no empty columns
        for axis, metric, name in ((left, "accuracy", "downstream accuracy"), (right, "fid", "FID")):
            _points(axis, mine, epsilons, metric)
            axis.axhline(reference[metric], color="k", ls="--", lw=0.8, label="real training images")
            if metric == "accuracy":
                axis.axhline(dp_synthesis.CHANCE, color="0.6", ls=":", lw=0.8, label="chance")
            axis.set_xticks(range(len(epsilons)), [_label(e) for e in epsilons])
            axis.set_ylabel(name)
            axis.set_title(model, fontsize=9)
        right.legend(*left.get_legend_handles_labels(), fontsize=7, frameon=False, loc="upper left",
                     bbox_to_anchor=(1.01, 1.0))                  # beside the panels, clear of the data
    fig.tight_layout()
    return fig


def membership_figure(rows: list[dict], reference: dict):
    """GAN-Leaks AUC (training images against test images) of every run against epsilon, with its
    bootstrap 95% interval, a panel per model; 0.5 is chance, releasing real training images dashed."""
    models = _models(rows)
    fig, axes = plt.subplots(1, len(models), figsize=(8 * len(models), 3.8), squeeze=False)
    for model, axis in zip(models, axes[0]):
        mine = [row for row in rows if row["model"] == model]
        epsilons = _epsilons(mine)
        for k, source in enumerate(dict.fromkeys(row["source"] for row in mine)):
            for x, epsilon in enumerate(epsilons):
                chosen = [row for row in mine if row["source"] == source and row["epsilon"] == epsilon]
                for j, row in enumerate(chosen):
                    axis.errorbar(x + (k - 2) * 0.12 + j * 0.03, row["mia_auc"],
                                  yerr=[[row["mia_auc"] - row["mia_auc_lo"]], [row["mia_auc_hi"] - row["mia_auc"]]],
                                  fmt="o", ms=3, color=SOURCE_COLOURS[source], label=source if j == 0 and x == 0 else None)
        axis.axhline(0.5, color="0.6", ls=":", lw=0.8)
        axis.axhline(reference["mia_auc"], color="k", ls="--", lw=0.8, label="real training images released")
        axis.set_xticks(range(len(epsilons)), [_label(e) for e in epsilons])
        axis.set_ylabel("membership AUC (GAN-Leaks)")
        axis.set_title(model, fontsize=9)
        axis.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def samples_figure(outcome: dict, real: np.ndarray, per_class: int = 2):
    """Rows of samples, ``per_class`` per class in class order: real test images, then every model,
    source and epsilon (seed 0)."""
    grey = {"real (test)": real}
    for model, source, epsilon in dict.fromkeys((row["model"], row["source"], row["epsilon"]) for row in outcome["rows"]):
        grey[f"{model}: {source}, {_label(epsilon)}"] = dp_synthesis.samples(outcome["runs"][model, source, epsilon, 0],
                                                                             per_class)
    return labelled_rows({label: grey_to_rgb(images) for label, images in grey.items()}, size=0.6)


def selection_figure(queries: dict):
    """PrivImage's noised histogram for each pool (rows: Fashion-MNIST classes, columns: the pool's
    semantic classes), the selected columns outlined."""
    fig, axes = plt.subplots(1, len(queries), figsize=(6.5 * len(queries), 4), squeeze=False)
    for axis, (pool, query) in zip(axes[0], queries.items()):
        counts = np.asarray(query["noisy_counts"])
        image = axis.imshow(counts, aspect="auto", cmap="viridis")
        for column in query["selected"]:
            axis.add_patch(plt.Rectangle((column - 0.5, -0.5), 1, len(CLASSES), fill=False, ec="r", lw=1.5))
        axis.set_yticks(range(len(CLASSES)), CLASSES, fontsize=7)
        if pool == "primitives-ps":
            names = [f"{c['n_shapes']} shapes, α {c['alpha_range'][0]:g}-{c['alpha_range'][1]:g}"
                     for c in semantic.SYNTHETIC_CLASSES]
            axis.set_xticks(range(len(names)), names, rotation=70, ha="right", fontsize=6)
            axis.set_xlabel("semantic class (Primitives-PS setting)")
        else:
            axis.set_xlabel("semantic class (pretraining photo)")
        axis.set_title(f"{pool}: selected {len(query['selected'])} of {query['semantic_classes']}", fontsize=9)
        fig.colorbar(image, ax=axis, label="noised count")
    fig.tight_layout()
    return fig
