"""The interactive synthesizer explorer of notebook 02 (ipywidgets)."""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from .. import synth
from ..eval import spectrum
from ..study import spectrum_analysis

DEFAULTS = dict(variant="primitives-ps", alpha_law="published", alpha_range=(0.5, 3.5), n_shapes=100,
                saliency=True, shape_texture="ps-noise", antialias=False, seed=0, resolution=64)


def explorer_figure(images: np.ndarray, photo_spectra: dict, title: str):
    """Eight images and their mean radial spectrum against the photos', with the alpha of each image."""
    fig = plt.figure(figsize=(12, 3.4))
    grid = fig.add_gridspec(2, 6, width_ratios=[1, 1, 1, 1, 0.25, 2.6])
    for k, image in enumerate(images[:8]):
        ax = fig.add_subplot(grid[k // 4, k % 4])
        ax.imshow(image, interpolation="nearest")
        ax.axis("off")
    ax = fig.add_subplot(grid[:, 5])
    freqs = spectrum_analysis.SPECTRUM_GRID
    anchor = np.argmin(np.abs(np.log(freqs / 0.1)))
    curve = spectrum_analysis.mean_log_spectrum(images)
    ax.plot(photo_spectra["freq"], photo_spectra["photos"] - photo_spectra["photos"][anchor], "k--", label="photos")
    ax.plot(freqs, curve - curve[anchor], "C3", lw=2, label="these images")
    alphas = spectrum.fit_alpha(images)
    ax.set(xscale="log", xlabel="cycles/pixel", ylabel="log10 relative power",
           title=f"alpha {alphas.mean():.2f} +- {alphas.std():.2f}")
    ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=9)
    return fig


def _draw(photo_spectra: dict, values: dict) -> None:
    options = dict(values)
    variant, seed, resolution = options.pop("variant"), options.pop("seed"), options.pop("resolution")
    if options["alpha_law"] == "natural":
        options.pop("alpha_range")
    images = synth.generate(8, variant=variant, resolution=resolution, seed=seed, **options)
    title = f"{variant} " + ", ".join(f"{k}={v}" for k, v in options.items())
    explorer_figure(images, photo_spectra, title)
    plt.show()


def synth_explorer(photo_spectra: dict, **overrides):
    """Controls for every synthesizer option; each change redraws grid and spectrum in a panel.

    The figure of the starting values is drawn into the cell itself, so a notebook executed
    without a live frontend (papermill, nbval) still shows it; the widgets need a live kernel.
    """
    start = {**DEFAULTS, **overrides}
    controls = {
        "variant": widgets.Dropdown(options=synth.VARIANTS, value=start["variant"], description="variant"),
        "alpha_law": widgets.Dropdown(options=synth.ALPHA_LAWS, value=start["alpha_law"], description="alpha law"),
        "alpha_range": widgets.FloatRangeSlider(value=start["alpha_range"], min=0.0, max=5.0, step=0.1, description="a, b range"),
        "n_shapes": widgets.IntSlider(value=start["n_shapes"], min=0, max=300, step=10, description="shapes"),
        "saliency": widgets.Checkbox(value=start["saliency"], description="salient object"),
        "shape_texture": widgets.Dropdown(options=synth.TEXTURES, value=start["shape_texture"], description="texture"),
        "antialias": widgets.Checkbox(value=start["antialias"], description="anti-aliasing"),
        "seed": widgets.IntText(value=start["seed"], description="seed"),
        "resolution": widgets.Dropdown(options=[32, 64, 128, 256], value=start["resolution"], description="pixels"),
    }
    panel = widgets.Output()

    def redraw(_change=None):
        with panel:
            panel.clear_output(wait=True)
            try:
                _draw(photo_spectra, {k: w.value for k, w in controls.items()})
            except ValueError as error:      # an impossible combination: say which, keep the explorer alive
                print(f"error: {error}")

    for control in controls.values():
        control.observe(redraw, names="value")
    _draw(photo_spectra, {k: w.value for k, w in controls.items()})
    display(widgets.VBox([widgets.HBox(list(controls.values())[:5]), widgets.HBox(list(controls.values())[5:]), panel]))
