"""Figure helpers shared by the notebooks: consistent saving and image grids."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..eval import transfer_tables
from ..eval.transfer_tables import summary
from ..paths import atomic_write
from ..study import decisive, transfer


def save_figure(fig, out_dir: Path, name: str, pdf: bool = False) -> Path:
    """Save ``fig`` as ``out_dir/name.png`` (and ``.pdf``) atomically; return the PNG path."""
    for suffix in ([".png", ".pdf"] if pdf else [".png"]):
        atomic_write(Path(out_dir) / f"{name}{suffix}", lambda temporary: fig.savefig(temporary, dpi=130, bbox_inches="tight"))
    return Path(out_dir) / f"{name}.png"


def image_grid(images, ncols: int = 8, titles=None, size: float = 1.4):
    """A figure showing ``images`` (uint8 HxWx3 arrays of any sizes) in a grid."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * (1.15 if titles else 1)))
    for k, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], interpolation="lanczos" if min(images[k].shape[:2]) > 64 else "nearest")
            if titles:
                ax.set_title(titles[k], fontsize=6)
    fig.subplots_adjust(wspace=0.04, hspace=0.2 if titles else 0.04)
    return fig


def labelled_rows(rows: dict, size: float = 1.4):
    """A figure with one row of images per entry of ``rows`` ({label: images}), the label at the left."""
    labels = list(rows)
    ncols = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(labels), ncols, figsize=(ncols * size + 1.2, len(labels) * size), squeeze=False)
    for r, label in enumerate(labels):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(rows[label]):
                image = rows[label][c]
                ax.imshow(image, interpolation="nearest" if image.shape[0] <= 64 else "antialiased")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(wspace=0.04, hspace=0.04)
    return fig


def format_rows(rows: list[dict], columns) -> str:
    """A plain-text table of ``columns`` of ``rows``; floats to 3 decimals."""
    def cell(value):
        return f"{value:.3f}" if isinstance(value, (float, np.floating)) else str(value)
    table = [list(columns)] + [[cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[k]) for line in table) for k in range(len(columns))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in table)


def mean_and_seeds(ax, rows: list[dict], names, metric: str, colour) -> dict[str, dict]:
    """For each setting in ``names`` (rows keyed by ``setting``): the final mean ± std over seeds of
    ``metric`` ("fid" or "kid") as a large marker with a bar, and each seed as a small dot beside
    it. ``colour(name)`` picks the colours. Returns the summary per setting."""
    table = {r["setting"]: r for r in summary(rows, by=("setting",))}
    key = "fid" if metric == "fid" else "kid_mean"
    for x, name in enumerate(names):
        ax.errorbar(x, table[name][f"{metric}_mean"], yerr=table[name][f"{metric}_std"], fmt="o", ms=9, capsize=5,
                    color=colour(name), zorder=3)
        seeds = [r[key] for r in rows if r["setting"] == name]
        ax.plot([x + 0.18] * len(seeds), seeds, "k.", ms=4, zorder=3)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    return table


ARM_COLOURS = {"primitives-ps": "C1", "natural-patches": "C2", "scratch": "0.4"}


def curve_panels(panels: list[tuple[str, dict]]):
    """One axis per (title, {arm: [(iterations, KIDs) per unit]}): each unit thin, the mean over
    units thick (the units share their evaluation iterations)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for axis, (title, arms) in zip(axes[0], panels):
        for arm, curves in arms.items():
            colour = ARM_COLOURS.get(arm)
            for iterations, values in curves:
                axis.plot(iterations, values, color=colour, alpha=0.35, linewidth=0.8)
            if curves:
                axis.plot(curves[0][0], np.mean([values for _, values in curves], axis=0), color=colour, linewidth=2,
                          label=f"{arm} ({len(curves)} units)")
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("iteration")
        axis.set_ylabel("KID")
        axis.legend(fontsize=7)
    fig.tight_layout()
    return fig


def decisive_figures(outcome: dict, out_dir: Path) -> None:
    """The decisive experiment's curves (pretraining, then fine-tuning on each primary target) and
    samples (``study.decisive.run``'s outcome), saved into ``out_dir``."""
    panels = [("pretraining, against held-out source images", decisive.arm_curves(outcome["pretrain"]))]
    panels += [(f"fine-tuning on {target}", decisive.arm_curves(outcome["transfer"], target=target))
               for target in decisive.PRIMARY_TARGETS]
    save_figure(curve_panels(panels), out_dir, decisive.FILES["curves"])
    save_figure(labelled_rows(outcome["samples"], size=0.9), out_dir, decisive.FILES["samples"])
    plt.close("all")


SECONDARY_COLOURS = {"scratch": "0.4", "natural-patches": "C2", "primitives-ps": "C1"}


def secondary_figures(rows: list[dict], samples: dict, fid_samples: int, out_dir: Path) -> list[Path]:
    """Notebook 04's secondary grid (``study.transfer``): FID and KID curves per target and init
    (mean ± s.d. over fine-tuning seeds), the final scores as bars with each seed's dot, and real
    images beside each init's samples (``samples``: ``transfer.real_and_samples``); saved into
    ``out_dir`` as ``transfer.SECONDARY_FIGURES``."""
    targets, inits = transfer.TARGETS, transfer.INITS
    curves = transfer_tables.mean_curves(rows)
    fig, axes = plt.subplots(2, len(targets), figsize=(4 * len(targets), 6.5), squeeze=False)
    for column, target in enumerate(targets):
        for init in inits:
            curve = curves[target, init]
            for row, metric in enumerate(("fid", "kid_mean")):
                axes[row, column].plot(curve["iters"], curve[metric], "o-", color=SECONDARY_COLOURS[init], label=init)
                axes[row, column].fill_between(curve["iters"], curve[metric] - curve[f"{metric}_std"],
                                               curve[metric] + curve[f"{metric}_std"], color=SECONDARY_COLOURS[init],
                                               alpha=0.2)
        axes[0, column].set_title(target)
        axes[1, column].set_xlabel("fine-tuning iteration")
    axes[0, 0].set_ylabel(f"FID ({fid_samples} samples)")
    axes[1, 0].set_ylabel("KID")
    axes[0, 0].legend(frameon=False, fontsize=8)
    curves_name, final_name, samples_name = transfer.SECONDARY_FIGURES
    written = [save_figure(fig, out_dir, curves_name)]
    table, finals = transfer_tables.summary(rows), transfer_tables.final_rows(rows)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    width = 0.8 / len(inits)
    for k, init in enumerate(inits):
        x = np.arange(len(targets)) + (k - (len(inits) - 1) / 2) * width
        for ax, metric in zip(axes, ("fid", "kid")):
            pick = {r["target"]: r for r in table if r["init"] == init}
            ax.bar(x, [pick[t][f"{metric}_mean"] for t in targets], width, yerr=[pick[t][f"{metric}_std"] for t in targets],
                   capsize=3, color=SECONDARY_COLOURS[init], label=init)
            key = "fid" if metric == "fid" else "kid_mean"
            for j, target in enumerate(targets):
                values = [r[key] for r in finals if r["target"] == target and r["init"] == init]
                ax.plot([x[j]] * len(values), values, "k.", ms=3)
    for ax, name in zip(axes, ("FID", "KID")):
        ax.set_xticks(np.arange(len(targets)), targets)
        ax.set_ylabel(f"final {name}")
    axes[0].legend(frameon=False, fontsize=8, ncol=len(inits), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    written.append(save_figure(fig, out_dir, final_name))
    written.append(save_figure(labelled_rows(samples, size=0.9), out_dir, samples_name))
    plt.close("all")
    return written
