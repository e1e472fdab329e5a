"""The compiled CPU rasteriser draws the same bits as the torch tile rasteriser, on every variant and option."""
import numpy as np
import pytest
import torch

from primps_core import synth
from primps_core.synth import raster_fused, shapes

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


def test_quantisation_rounds_half_to_even_and_clamps_as_torch():
    generator = np.random.default_rng(0)
    images = generator.uniform(-20.0, 280.0, (2, 3, 6, 6)).astype(np.float32)
    images[0, :, 0, :] = np.array([-0.5, 0.5, 1.5, 2.5, 254.5, 255.5], np.float32)        # ties go to even
    images[1, :, 0, :] = np.array([-0.0, 0.49999997, 0.50000006, 254.49998, 255.49998, 1e9], np.float32)
    out = np.zeros((2, 6, 6, 3), np.uint8)
    raster_fused.quantise(images, out)
    expected = torch.from_numpy(images).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(out, expected)
    assert list(out[0, 0, :, 0]) == [0, 0, 2, 2, 254, 255]


@pytest.mark.parametrize("variant", ["primitives-ps", "primitives"])
def test_images_do_not_depend_on_how_a_chunk_is_split_into_painted_parts(variant, monkeypatch):
    whole = synth.generate(7, variant=variant, resolution=37, seed=3, rasteriser="tiles")
    monkeypatch.setattr(raster_fused, "NOISE_PIXELS", 2 * 37 * 37)               # parts of 2 images
    assert np.array_equal(synth.generate(7, variant=variant, resolution=37, seed=3, batch_size=7), whole)
