"""Synthesizer: determinism, what each variant adds, spectra, geometry, anti-aliasing, argument errors."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from primps_core import paths, synth
from primps_core.eval import spectrum
from primps_core.synth import generate, salient_coverage, raster_tiles, shapes

NATURAL = json.loads((paths.FIGURES_DIR / "natural_stats.json").read_text())
NATIVE = "native"       # drawn at the asked size itself: the tests of what the rasterisers draw


def flat_fraction(images: np.ndarray) -> np.ndarray:
    """Per image, the fraction of inner pixels equal (all channels) to all four neighbours."""
    x = images.astype(np.int16)
    centre = x[:, 1:-1, 1:-1]
    same = np.ones(centre.shape[:3], dtype=bool)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = x[:, 1 + dy:x.shape[1] - 1 + dy, 1 + dx:x.shape[2] - 1 + dx]
        same &= np.all(centre == neighbour, axis=-1)
    return same.mean(axis=(1, 2))


def channel_alphas(images: np.ndarray) -> np.ndarray:
    """Spectral slope of each image and channel (N, 3); the synthetic fields are periodic."""
    return np.stack([spectrum.fit_alpha(images, window=None, channel=c) for c in range(3)], axis=1)


# ---------------------------------------------------------------------------------------------
# Output and determinism
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", synth.VARIANTS)
def test_shape_dtype_and_variation(variant):
    images = generate(6, variant=variant, resolution=32, seed=1)
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8
    assert len({im.tobytes() for im in images}) == 6
    assert not np.array_equal(images, generate(6, variant=variant, resolution=32, seed=2))


def test_ps_noise_spans_the_full_range_over_the_channels_or_per_channel():
    images = generate(8, drawn_at=NATIVE, variant="ps-noise", resolution=32)               # published: one min-max for all
    assert np.all(images.min(axis=(1, 2, 3)) == 0) and np.all(images.max(axis=(1, 2, 3)) == 255)
    assert np.any(images.max(axis=(1, 2)) < 255)                          # the weaker channels do not reach it
    per_channel = generate(8, drawn_at=NATIVE, variant="ps-noise", resolution=32, normalisation="per-channel")
    assert np.all(per_channel.min(axis=(1, 2)) == 0) and np.all(per_channel.max(axis=(1, 2)) == 255)


@pytest.mark.parametrize("variant", ["primitives-ps", "primitives-s"])
def test_images_do_not_depend_on_batching_or_splitting(variant):
    whole = generate(10, variant=variant, resolution=32, seed=5, start=20)
    assert np.array_equal(whole, generate(10, variant=variant, resolution=32, seed=5, start=20))
    parts = np.concatenate([generate(3, variant=variant, resolution=32, seed=5, start=20),
                            generate(7, variant=variant, resolution=32, seed=5, start=23)])
    assert np.array_equal(whole, parts)
    for batch_size in (1, 7, 64):
        assert np.array_equal(whole, generate(10, variant=variant, resolution=32, seed=5, start=20,
                                              batch_size=batch_size))


def test_images_do_not_depend_on_resolution_padding_or_tile_size(monkeypatch):
    config, indices = synth.make_config("primitives-ps", 36), np.arange(4)
    whole = synth.render.paint(config, 2, indices, "cpu", "tiles")   # 36 px: the canvas is padded to whole tiles
    monkeypatch.setattr(raster_tiles, "tile_size", lambda resolution: 8)
    assert torch.equal(whole, synth.render.paint(config, 2, indices, "cpu", "tiles"))


def test_images_do_not_depend_on_torch_thread_count():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = generate(12, resolution=48, seed=9, batch_size=5)
        torch.set_num_threads(2)
        two = generate(12, resolution=48, seed=9, batch_size=5)
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(one, two)
    assert torch.get_num_threads() == threads


def test_images_are_identical_in_a_fresh_process():
    code = ("import sys, numpy as np; from primps_core.synth import generate; "
            "sys.stdout.buffer.write(generate(3, resolution=32, seed=4, start=7).tobytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert out == generate(3, resolution=32, seed=4, start=7).tobytes()


# ---------------------------------------------------------------------------------------------
# What each variant adds
# ---------------------------------------------------------------------------------------------

def test_ps_noise_has_no_flat_regions_and_primitives_has_large_ones():
    assert flat_fraction(generate(8, drawn_at=NATIVE, variant="ps-noise", resolution=64)).max() < 0.05
    assert flat_fraction(generate(8, drawn_at=NATIVE, variant="primitives", resolution=64)).min() > 0.2


@pytest.mark.parametrize("options, rim", [({}, 0.01), ({"geometry": "continuous", "antialias": True}, 0.06)])
def test_salient_object_is_painted_over_the_same_shapes_where_its_coverage_says(options, rim):
    plain = generate(16, drawn_at=NATIVE, variant="primitives", resolution=64, **options)
    salient = generate(16, drawn_at=NATIVE, variant="primitives-s", resolution=64, **options)
    changed = np.any(salient != plain, axis=-1)
    assert np.all(changed.mean(axis=(1, 2)) > 0.1)
    for image, mask in zip(salient, changed):                             # one flat colour inside
        inside = image[mask if not options else np.zeros_like(mask)]
        assert len(np.unique(inside, axis=0)) <= 1
    coverage = salient_coverage(16, resolution=64, **options)
    assert np.abs(changed.mean(axis=(1, 2)) - coverage).max() < rim     # anti-aliasing: the rim changes too


def test_primitives_ps_textures_the_salient_object_with_noise():
    images = generate(8, variant="primitives-ps", resolution=64)
    centre = images[:, 26:38, 26:38]
    assert flat_fraction(centre).max() < 0.3


def test_variants_share_the_salient_geometry():
    # The object covers the same pixels whether it is flat (primitives-s) or textured (primitives-ps).
    flat = np.any(generate(8, variant="primitives-s", resolution=32, seed=3)
                  != generate(8, variant="primitives", resolution=32, seed=3), axis=-1)
    textured = np.any(generate(8, variant="primitives-ps", resolution=32, seed=3)
                      != generate(8, variant="primitives-ps", resolution=32, seed=3, saliency=False), axis=-1)
    assert flat.mean() > 0.2 and np.mean(flat == textured) > 0.98


def test_published_background_alpha_lies_in_the_configured_law():
    images = generate(16, variant="primitives-ps", resolution=128, n_shapes=0, saliency=False,
                      alpha_range=(1.0, 1.5))
    alpha = channel_alphas(images)              # amplitude exponents 1..1.5: power slopes 2..3
    assert alpha.min() > 1.8 and alpha.max() < 3.2
    assert abs(np.corrcoef(images[..., 0].ravel(), images[..., 1].ravel())[0, 1]) < 0.3


def test_steep_published_spectra_are_exact_before_quantisation():
    config = synth.make_config("ps-noise", 128, alpha_range=(3.0, 3.5))
    fields = synth.noise.ps_noise(0, np.arange(12), 1, 128, config, "cpu").permute(0, 2, 3, 1).numpy()
    alpha = channel_alphas(fields)
    assert alpha.min() > 5.7 and alpha.max() < 7.3


def test_natural_law_matches_photo_alphas_and_channel_correlation():
    images = generate(32, variant="ps-noise", resolution=64, alpha_law="natural")
    correlation = spectrum.channel_correlation(images).mean(axis=0)
    np.testing.assert_allclose(correlation, NATURAL["channel_correlation"], atol=0.1)
    np.testing.assert_allclose(channel_alphas(images).mean(axis=0), NATURAL["alpha_channels"]["mean"], atol=0.3)
    published = spectrum.channel_correlation(generate(32, variant="ps-noise", resolution=64)).mean(axis=0)
    assert np.abs(published[np.triu_indices(3, 1)]).max() < 0.25


def test_natural_law_accepts_statistics_as_a_dict():
    stats = {"alpha_channels": {"mean": [1.0, 1.0, 1.0], "cov": np.eye(3).tolist()},
             "channel_correlation": np.eye(3).tolist()}
    images = generate(16, variant="ps-noise", resolution=64, alpha_law="natural", stats=stats)
    assert channel_alphas(images).mean() < 1.6
    assert np.abs(spectrum.channel_correlation(images).mean(axis=0)[np.triu_indices(3, 1)]).max() < 0.25


# ---------------------------------------------------------------------------------------------
# Geometry, kinds, anti-aliasing
# ---------------------------------------------------------------------------------------------

def test_salient_geometry_is_the_same_at_every_resolution():
    # published: circles of radius 64..95 of 256 (0.196..0.44 of the image), rectangles of sides
    # 96..191 with a corner at 32..127 (0.14..0.56); the continuous geometry covers 0.15..0.5
    small, large = salient_coverage(256, resolution=32), salient_coverage(256, resolution=256)
    assert abs(small.mean() - large.mean()) < 0.01 and np.abs(small - large).max() < 0.05
    assert 0.28 < large.mean() < 0.34 and large.min() > 0.13 and large.max() < 0.57
    small, large = (salient_coverage(64, resolution=r, geometry="continuous", antialias=True) for r in (32, 128))
    assert abs(small.mean() - large.mean()) < 0.01 and np.abs(small - large).max() < 0.05
    assert 0.27 < large.mean() < 0.35 and large.min() > 0.15 and large.max() < 0.5


@pytest.mark.parametrize("variant", synth.VARIANTS)
def test_a_small_image_is_the_image_drawn_at_four_times_its_side_then_lanczos(variant):
    from PIL import Image
    drawn = generate(5, variant=variant, resolution=128, seed=2, start=7, drawn_at=NATIVE)
    expected = np.stack([np.asarray(Image.fromarray(image).resize((32, 32), Image.Resampling.LANCZOS))
                         for image in drawn])
    np.testing.assert_array_equal(generate(5, variant=variant, resolution=32, seed=2, start=7), expected)
    assert synth.make_config(variant, 64).drawn_at == 256 and synth.make_config(variant, 512).drawn_at == 512
    assert synth.make_config(variant, 32, drawn_at=256).drawn_at == 256
    with pytest.raises(ValueError, match=r"drawn_at \(or 'native'\) must be an integer in 32\.\.4096, got 16"):
        synth.make_config(variant, 32, drawn_at=16)


@pytest.mark.parametrize("variant", ["primitives", "primitives-s"])
def test_published_shapes_at_32_px_are_the_256_px_picture_point_sampled(variant):
    # Pixel (i, j) of a 32 px image is centred on grid pixel (8i, 8j) of the official 256 grid.
    small, large = generate(16, variant=variant, resolution=32, drawn_at=NATIVE), generate(16, variant=variant, resolution=256)
    assert np.mean(np.all(small == large[:, ::8, ::8], axis=-1)) > 0.995
    assert np.mean(np.all(small == generate(16, variant=variant, resolution=32, seed=1, drawn_at=NATIVE), axis=-1)) < 0.2


@pytest.mark.parametrize("variant", ["primitives", "primitives-s"])
def test_continuous_shapes_are_the_same_picture_at_every_resolution(variant):
    # Geometry is in fractions of the width and edges are box-filtered, so a 128 px image averaged
    # over 4x4 blocks is (up to the order of blended edges) the 32 px image of the same index.
    options = dict(variant=variant, geometry="continuous", antialias=True, flat_background="colour")
    small = generate(16, resolution=32, **options).astype(float)
    large = generate(16, resolution=128, **options).astype(float)
    reduced = large.reshape(16, 32, 4, 32, 4, 3).mean(axis=(2, 4))
    assert np.abs(reduced - small).mean() < 6
    assert np.abs(reduced - generate(16, resolution=32, seed=1, **options)).mean() > 50


def test_kind_frequencies_follow_the_published_weights():
    table = synth.shapes.shape_table(0, np.arange(200), synth.make_config("primitives", 32), "cpu")
    np.testing.assert_allclose(np.bincount(table.family, minlength=3) / table.family.size, [1 / 7, 4 / 7, 2 / 7],
                               atol=0.01)
    lines = synth.shapes.shape_table(0, np.arange(4), synth.make_config("primitives", 32, shape_kinds=["line"]),
                                    "cpu")
    assert np.all(lines.family == 0)


def test_antialiasing_blends_edges_and_can_be_switched_off():
    options = dict(variant="primitives", resolution=64, n_shapes=1, shape_kinds=("circle",), seed=1)
    smooth, hard = generate(12, drawn_at=NATIVE, antialias=True, **options), generate(12, drawn_at=NATIVE, **options)
    colours = [len(np.unique(im.reshape(-1, 3), axis=0)) for im in (*smooth, *hard)]
    assert all(c <= 2 for c in colours[12:])
    assert sum(c > 2 for c in colours[:12]) >= 9


def checkerboards(images: np.ndarray) -> int:
    """Number of 2x2 blocks coloured like a checkerboard (a b / b a with a != b)."""
    x = images.astype(np.int32) @ np.array([1, 256, 65536])
    a, b, c, d = x[:, :-1, :-1], x[:, :-1, 1:], x[:, 1:, :-1], x[:, 1:, 1:]
    return int(((a == d) & (b == c) & (a != b)).sum())


def test_rectangles_without_antialiasing_are_axis_aligned():
    # Hard-edged slanted edges step diagonally (checkerboard 2x2 blocks); axis-aligned rectangles
    # never do, unless two of them share a colour (probability ~2^-24).
    kinds = dict(variant="primitives", resolution=64, antialias=False)
    assert checkerboards(generate(8, drawn_at=NATIVE, shape_kinds=["rectangle"], **kinds)) == 0
    assert checkerboards(generate(8, drawn_at=NATIVE, shape_kinds=["ellipse"], **kinds)) > 0
    assert checkerboards(generate(8, drawn_at=NATIVE, shape_kinds=["line"], **kinds)) > 0


def ink(kind: str, **geometry) -> float:
    """Mean total coverage of one shape drawn on a 64 px canvas (4 px tiles), over 64 sub-pixel shifts.

    Anti-aliasing samples a one-pixel ramp at pixel centres; averaged over positions, its ink is the
    ramp's integral, which the sub-pixel gains match to the shape's area.
    """
    shift = torch.tensor([(i / 8, j / 8) for i in range(8) for j in range(8)])
    n = len(shift)
    canvas = raster_tiles.TileCanvas.from_images(torch.zeros(n, 1, 64, 64), 4)
    image = torch.arange(n)
    g = {k: torch.full((n,), float(v)) for k, v in geometry.items()}
    if kind == "ellipse":
        cy, cx = g["cy"] + shift[:, 0], g["cx"] + shift[:, 1]
        direction = torch.full((n,), np.cos(0.3)), torch.full((n,), np.sin(0.3))
        box = shapes.support(cy, cx, *shapes.ellipse_extent(g["a"], g["b"], *direction))
        tiles = raster_tiles.box_tiles(canvas, image, *box)
        coefficients = torch.cat([shapes.ellipse_coefficients(cy, cx, g["a"], g["b"], *direction), box])
        coverage = raster_tiles.ellipse_coverage(tiles, coefficients[:, tiles.owner], True)
    else:
        p0 = torch.stack([g["y0"], g["x0"]], 1) + shift
        p1 = torch.stack([g["y1"], g["x1"]], 1) + shift
        tiles = raster_tiles.band_tiles(canvas, image, p0, p1, g["half"])
        delta = p1 - p0
        length = delta.norm(dim=1)
        coefficients = shapes.box_coefficients((p0[:, 0] + p1[:, 0]) / 2, (p0[:, 1] + p1[:, 1]) / 2, length / 2,
                                                   g["half"], delta[:, 1] / length, delta[:, 0] / length)
        coverage = raster_tiles.box_coverage(tiles, coefficients[:, tiles.owner], True)
    raster_tiles.composite(canvas, raster_tiles.Layer.paint_over(tiles, coverage, torch.ones(len(tiles.ids), 1)))
    return canvas.to_images().sum().item() / n


@pytest.mark.parametrize("a, b, tolerance", [(10, 10, 0.005), (12, 5, 0.01), (3, 1.5, 0.03)])
def test_antialiased_ellipses_hold_their_area(a, b, tolerance):
    # The one-pixel ramp is centred on the edge: it neither adds nor removes ink (up to pi/12 px^2).
    assert ink("ellipse", cy=32.3, cx=31.8, a=a, b=b) == pytest.approx(np.pi * a * b, rel=tolerance)


@pytest.mark.parametrize("radius", [0.05, 0.15, 0.3, 0.7])
def test_subpixel_dots_and_lines_keep_their_area(radius):
    # Without the sub-pixel gains a ramp would spread a dot of radius 0.05 over 22x its area.
    assert ink("ellipse", cy=32.0, cx=32.0, a=radius, b=radius) == pytest.approx(np.pi * radius**2, rel=0.07)
    line = ink("line", y0=20.2, x0=10.7, y1=40.1, x1=50.3, half=radius / 2)
    assert line == pytest.approx(np.hypot(19.9, 39.6) * radius, rel=0.03)


def test_thin_ellipses_keep_roughly_their_area():
    # The gain of the widest cross-section over-inks the thinner ends: a known, bounded excess.
    assert 1.0 < ink("ellipse", cy=32.3, cx=31.8, a=2.0, b=0.1) / (np.pi * 0.2) < 1.6


def test_thick_lines_hold_their_area():
    assert ink("line", y0=20.2, x0=10.7, y1=40.1, x1=50.3, half=2.0) == pytest.approx(np.hypot(19.9, 39.6) * 4, rel=0.01)


def test_noise_spectra_are_isotropic_where_the_filter_is():
    # With a == b the filter is symmetric in x and y; the kx = 0 column of a half spectrum needs its
    # sqrt(2) weight to carry as much power as the ky = 0 row.
    config = synth.make_config("ps-noise", 64, alpha_range=(1.5, 1.5))
    fields = synth.noise.ps_noise(0, np.arange(64), 1, 64, config, "cpu").numpy()
    power = np.abs(np.fft.fft2(fields - fields.mean(axis=(2, 3), keepdims=True))) ** 2
    vertical, horizontal = power[..., 1:9, 0].mean(), power[..., 0, 1:9].mean()
    assert 0.85 < vertical / horizontal < 1.15


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(variant="dead-leaves"), ValueError, "variant must be one of"),
    (dict(resolution=4), ValueError, "resolution must be an integer in 8"),
    (dict(resolution=32.0), TypeError, "resolution must be an integer"),
    (dict(n=0), ValueError, "n must be an integer >= 1"),
    (dict(seed=-1), ValueError, "seed must be"),
    (dict(start=-2), ValueError, "start must be"),
    (dict(batch_size=0), ValueError, "batch_size must be"),
    (dict(colour="red"), TypeError, "unknown option 'colour'"),
    (dict(alpha_range=(3.0, 1.0)), ValueError, "alpha_range must satisfy"),
    (dict(alpha_range="wide"), ValueError, "alpha_range must be a pair"),
    (dict(alpha_range=(0.5, 3.5), alpha_law="natural"), ValueError, "alpha_range is only used"),
    (dict(stats={}), ValueError, "stats is only used with alpha_law='natural'"),
    (dict(alpha_law="natural", stats={"alpha_channels": {}}), ValueError, "stats must hold"),
    (dict(alpha_law="photo"), ValueError, "alpha_law must be one of"),
    (dict(shape_kinds=["triangle"]), ValueError, "shape_kinds must be a non-empty subset"),
    (dict(shape_kinds="circle"), TypeError, "shape_kinds must be a collection"),
    (dict(n_shapes=-1), ValueError, "n_shapes must be"),
    (dict(saliency="yes"), TypeError, "saliency must be True or False"),
    (dict(shape_texture="wood"), ValueError, "shape_texture must be one of"),
])
def test_bad_arguments_name_the_parameter(kwargs, error, message):
    kwargs = {"n": 2, **kwargs}
    with pytest.raises(error, match=message):
        generate(kwargs.pop("n"), **kwargs)
