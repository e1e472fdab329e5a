"""The notebook-02 explorer: what it shows is what synth.generate draws for the options it shows."""
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from primps_core import synth  # noqa: E402
from primps_core.study import spectrum_analysis  # noqa: E402
from primps_core.viz import widgets  # noqa: E402

PHOTOS = {"freq": spectrum_analysis.SPECTRUM_GRID, "photos": -2.6 * np.log10(spectrum_analysis.SPECTRUM_GRID)}


class Handle:
    """Stands in for IPython's display handle: keeps what the figure was last updated to."""
    def __init__(self, first):
        self.shown = [first]

    def update(self, image):
        self.shown.append(image)


def explorer(monkeypatch, **overrides):
    handles, boxes = [], []

    def display(thing, display_id=False):
        if display_id:
            handles.append(Handle(thing))
            return handles[-1]
        boxes.append(thing)
    monkeypatch.setattr(widgets, "display", display)
    controls = widgets.synth_explorer(PHOTOS, **overrides)
    return controls, handles[0], boxes[0]


def test_every_state_of_the_controls_shows_generates_images_for_the_options_it_shows():
    for variant, law, shapes, salient, texture in itertools.product(
            synth.VARIANTS, synth.ALPHA_LAWS, (0, 20), (False, True), synth.TEXTURES):
        values = {**widgets.DEFAULTS, "variant": variant, "alpha_law": law, "n_shapes": shapes, "saliency": salient,
                  "shape_texture": texture, "resolution": 32, "seed": 5}
        shown, seed, resolution, options = widgets.shown_options(values)
        assert set(options) | {"variant", "seed", "resolution"} == widgets.applicable(values)
        expected = synth.generate(8, variant=shown, resolution=resolution, seed=seed, **options)
        np.testing.assert_array_equal(widgets.explorer_images(values), expected)
        title = widgets.explorer_title(values)
        assert title.startswith(f"{variant}, seed 5, 32 px") and f"n_shapes={shapes}" in title


def test_a_variants_defaults_draw_exactly_that_variant(monkeypatch):
    controls, handle, _ = explorer(monkeypatch, resolution=32)
    for variant in synth.VARIANTS:
        controls["variant"].value = variant
        values = {name: control.value for name, control in controls.items()}
        np.testing.assert_array_equal(widgets.explorer_images(values),
                                      synth.generate(8, variant=variant, resolution=32, seed=0))
        assert {name: values[name] for name in widgets.SHAPE_OPTIONS} == widgets.variant_defaults(variant)
        assert controls["shape_texture"].disabled == (variant == "ps-noise")     # nothing drawn on the noise
    plt.close("all")


def test_one_figure_updated_in_place_disabled_controls_and_errors_in_the_panel(monkeypatch):
    controls, handle, box = explorer(monkeypatch, resolution=32)
    assert len(handle.shown) == 1 and handle.shown[0].data.startswith(b"\x89PNG")
    controls["variant"].value = "ps-noise"                                  # one redraw for variant + its defaults
    assert len(handle.shown) == 2
    assert (controls["n_shapes"].value, controls["saliency"].value) == (0, False)
    assert controls["shape_texture"].disabled and controls["antialias"].disabled
    controls["alpha_law"].value = "natural"
    assert controls["alpha_range"].disabled and len(handle.shown) == 3
    controls["alpha_law"].value = "published"
    controls["alpha_range"].value = (0.0, 0.0)                              # impossible: said in the panel
    message = box.children[-1]
    assert len(handle.shown) == 4 and "alpha_range" in message.value     # the last good figure stays
    controls["alpha_range"].value = (1.0, 2.0)
    assert message.value == "" and len(handle.shown) == 5
    plt.close("all")
