"""The compiled CPU rasteriser draws the same bits as the torch tile rasteriser, on every variant and option."""
import numpy as np
import pytest
import torch

from primps_core import synth
from primps_core.synth import shapes

CASES = [(variant, 32, 16, {}) for variant in synth.VARIANTS] + [
    ("primitives-ps", 64, 16, {}),                          # 8 px tiles
    ("primitives-s", 64, 16, {}),
    ("primitives-ps", 8, 16, {}),
    ("primitives-ps", 37, 8, {}),                           # padded canvas, odd size
    ("primitives-ps", 256, 3, {}),
    ("primitives", 256, 3, {"shape_kinds": ["line"]}),      # long thin lines: the per-row spans
    ("primitives-ps", 32, 16, {"antialias": True}),         # anti-aliased capsules and ellipses
    ("primitives-s", 64, 16, {"antialias": True}),
    ("primitives", 256, 3, {"shape_kinds": ["line"], "antialias": True}),
    ("primitives-ps", 32, 16, {"geometry": "continuous"}),  # boxes for lines, a smaller texture field
    ("primitives-ps", 64, 16, {"geometry": "continuous", "antialias": True}),
    ("primitives-s", 37, 8, {"geometry": "continuous", "antialias": True, "flat_background": "colour"}),
    ("primitives-ps", 64, 16, {"n_shapes": 300}),
    ("primitives-ps", 32, 16, {"shape_texture": "solid", "alpha_law": "natural"}),
    ("primitives", 48, 16, {"shape_kinds": ["circle", "rectangle"], "n_shapes": 10}),
]


@pytest.mark.parametrize("variant, resolution, n, options", CASES)
def test_fused_and_tile_rasterisers_give_the_same_bits(variant, resolution, n, options):
    config = synth.make_config(variant, resolution, **options)
    indices = np.arange(40, 40 + n)
    with torch.inference_mode():
        fused = synth.render.paint(config, 11, indices, "cpu", "fused")
        tiles = synth.render.paint(config, 11, indices, "cpu", "tiles")
    assert fused.dtype == tiles.dtype == torch.float32 and fused.shape == tiles.shape
    assert torch.equal(fused, tiles)
    if config.n_shapes:                                    # the shapes were drawn: not just the background
        background = synth.make_config(variant, resolution, **{**options, "n_shapes": 0, "saliency": False})
        assert not torch.equal(fused, synth.render.paint(background, 11, indices, "cpu", "fused"))


def test_sqrt_is_correctly_rounded():
    # numpy's float32 sqrt is the IEEE one; torch's goes through MKL here and is not always.
    generator = np.random.default_rng(0)
    x = np.concatenate([generator.random(200_000) * 10.0 ** generator.integers(-40, 38, 200_000),
                        [0.0, 1e-45, 1.17e-38, 1.0, 2.0, 3.4e38]]).astype(np.float32)
    assert np.array_equal(shapes.sqrt(torch.from_numpy(x)).numpy(), np.sqrt(x))


@pytest.mark.parametrize("rasteriser, device, message", [("splines", "cpu", "rasteriser"), ("fused", "meta", "CPU only")])
def test_bad_rasteriser_is_named(rasteriser, device, message):
    config = synth.make_config("primitives", 16)
    with pytest.raises(ValueError, match=message):
        synth.render.paint(config, 0, np.arange(2), device, rasteriser)
