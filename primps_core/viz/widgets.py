"""The interactive synthesizer explorer of notebook 02 (ipywidgets)."""
from __future__ import annotations

import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from IPython.display import Image, display

from .. import synth
from ..synth.config import VARIANT_DEFAULTS
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
           title=f"alpha {alphas.mean():.2f} ± {alphas.std():.2f}")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())      # decades only: minor labels collide
    ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=9, y=1.03)
    return fig


SHAPE_OPTIONS = ("n_shapes", "saliency", "shape_texture")       # what a variant sets (synth.config.VARIANT_DEFAULTS)


def applicable(values: dict) -> set[str]:
    """The controls that change the images for these ``values``: the alpha range only under the
    published law; texture and anti-aliasing only when something is drawn on the background."""
    found = {"variant", "alpha_law", "n_shapes", "saliency", "seed", "resolution"}
    if values["alpha_law"] == "published":
        found.add("alpha_range")
    if values["n_shapes"] > 0 or values["saliency"]:
        found |= {"shape_texture", "antialias"}
    return found


def shown_options(values: dict) -> tuple[str, int, int, dict]:
    """(variant, seed, resolution, options) of the controls' ``values``: every applicable control's
    value, passed to ``synth.generate`` as it is shown (nothing of the variant's is left implicit)."""
    used = applicable(values)
    options = {k: v for k, v in values.items() if k in used and k not in ("variant", "seed", "resolution")}
    return values["variant"], values["seed"], values["resolution"], options


def explorer_images(values: dict, n: int = 8) -> np.ndarray:
    """The images the explorer shows for the controls' ``values``."""
    variant, seed, resolution, options = shown_options(values)
    return synth.generate(n, variant=variant, resolution=resolution, seed=seed, **options)


def explorer_title(values: dict) -> str:
    variant, seed, resolution, options = shown_options(values)
    settings = ", ".join(f"{k}={v}" for k, v in options.items())
    return f"{variant}, seed {seed}, {resolution} px: {settings}"


def _png(fig) -> Image:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return Image(data=buffer.getvalue())


def synth_explorer(photo_spectra: dict, **overrides):
    """Controls for the synthesizer's options above one figure (images and their mean spectrum)
    that every change redraws in place. Choosing a variant sets the shape options to that
    variant's defaults; controls that do not change the images are disabled. Returns the controls.

    The figure is a display with an id, so a notebook executed without a live frontend (papermill,
    nbval) shows the starting figure; in Jupyter each change replaces it."""
    start = {**DEFAULTS, **variant_defaults(overrides.get("variant", DEFAULTS["variant"])), **overrides}
    wide, label = widgets.Layout(width="360px"), {"description_width": "110px"}
    controls = {
        "variant": widgets.Dropdown(options=synth.VARIANTS, value=start["variant"], description="variant", style=label),
        "alpha_law": widgets.Dropdown(options=synth.ALPHA_LAWS, value=start["alpha_law"], description="alpha law",
                                      style=label),
        "alpha_range": widgets.FloatRangeSlider(value=start["alpha_range"], min=0.0, max=5.0, step=0.1,
                                                description="a, b range", layout=wide, style=label),
        "n_shapes": widgets.IntSlider(value=start["n_shapes"], min=0, max=300, step=10, description="shapes",
                                      layout=wide, style=label),
        "saliency": widgets.Checkbox(value=start["saliency"], description="salient object", style=label),
        "shape_texture": widgets.Dropdown(options=synth.TEXTURES, value=start["shape_texture"], description="texture",
                                          style=label),
        "antialias": widgets.Checkbox(value=start["antialias"], description="anti-aliasing", style=label),
        "seed": widgets.IntText(value=start["seed"], description="seed", style=label),
        "resolution": widgets.Dropdown(options=[32, 64, 128, 256], value=start["resolution"], description="pixels",
                                       style=label),
    }
    message = widgets.HTML()
    busy = []

    def values() -> dict:
        return {k: w.value for k, w in controls.items()}

    def figure():
        current = values()
        return _png(explorer_figure(explorer_images(current), photo_spectra, explorer_title(current)))

    def redraw(change=None):
        if busy:
            return
        if change is not None and change["owner"] is controls["variant"]:
            busy.append(True)                        # one redraw for the variant and its defaults
            try:
                for name, value in variant_defaults(change["new"]).items():
                    controls[name].value = value
            finally:
                busy.clear()
        used = applicable(values())
        for name, control in controls.items():
            control.disabled = name not in used
        try:
            handle.update(figure())
            message.value = ""
        except ValueError as error:      # an impossible combination: say which, keep the explorer alive
            message.value = f"<b>error:</b> {html.escape(str(error))}"

    for control in controls.values():
        control.observe(redraw, names="value")
    for name, control in controls.items():
        control.disabled = name not in applicable(values())
    names = list(controls)
    display(widgets.VBox([widgets.HBox([controls[k] for k in names[:3]]), widgets.HBox([controls[k] for k in names[3:6]]),
                          widgets.HBox([controls[k] for k in names[6:]]), message]))
    handle = display(figure(), display_id=True)
    return controls


def variant_defaults(variant: str) -> dict:
    """The shape options ``variant`` draws by default (``synth.config.VARIANT_DEFAULTS``)."""
    return {name: VARIANT_DEFAULTS[variant][name] for name in SHAPE_OPTIONS}
