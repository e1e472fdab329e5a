"""Two-sample statistics of image sets (eval/fidelity.py): known answers and a known difference."""
import numpy as np

from primps_core import synth
from primps_core.eval import fidelity, spectrum
from primps_core.synth import official


def test_axis_share_and_flat_share_known_answers():
    x = np.arange(32)
    along_x = np.broadcast_to((127 + 100 * np.cos(2 * np.pi * 3 * x / 32))[None, :, None], (32, 32, 3))
    diagonal = 127 + 100 * np.cos(2 * np.pi * 3 * x / 32)[:, None] * np.cos(2 * np.pi * 5 * x / 32)[None, :]
    images = np.stack([along_x, np.repeat(diagonal[..., None], 3, axis=2)]).round().astype(np.uint8)
    np.testing.assert_allclose(fidelity.axis_power_share(images), [1.0, 0.0], atol=1e-3)
    flat = np.zeros((2, 16, 16, 3), np.uint8)
    flat[1, :, 8:] = 200                                     # one vertical edge: column 7 differs from 8
    np.testing.assert_allclose(fidelity.flat_share(flat), [1.0, 14 / 15])
    stds = fidelity.channel_stds(np.stack([np.zeros((8, 8)), np.tile([0, 255], 32).reshape(8, 8), np.full((8, 8), 9)],
                                          axis=2)[None].astype(np.uint8))
    np.testing.assert_allclose(stds, [[0.0, 0.0, 0.5]], atol=1e-12)


def test_a_set_against_itself_and_the_global_against_the_per_channel_normalisation():
    """Two draws of one generator differ only by chance; the official noise (one min-max over all
    channels) against the per-channel normalisation of spectrum.published_ps_noise is told apart
    by the weakest channel's amplitude on 60 images per side."""
    port = official.images("rgb_noise", 60, size=32, seed=0)
    again = official.images("rgb_noise", 60, size=32, seed=1000)
    same = {row["statistic"]: row for row in fidelity.compare(port, again)}
    assert set(same) == set(fidelity.STATISTICS)
    assert np.median([row["p"] for row in same.values()]) > 0.1
    per_channel = spectrum.published_ps_noise(60, 32, seed=0)
    differ = {row["statistic"]: row for row in fidelity.compare(port, per_channel)}
    assert differ["weakest channel std"]["p"] < 1e-6
    assert differ["weakest channel std"]["mean_a"] < differ["weakest channel std"]["mean_b"] / 2


def test_the_published_defaults_draw_the_official_noise_and_the_study_options_do_not():
    """At 256 px, ps-noise's defaults (one min-max over the channels, the official zero frequency)
    are told apart from the port of the official code by none of the statistics (80 images per
    side); per-channel normalisation and the pure power law on the axes are, on several."""
    from primps_core import synth
    port = official.images("rgb_noise", 80, size=256, seed=0)
    faithful = synth.generate(80, variant="ps-noise", resolution=256, seed=0)
    assert min(row["p"] for row in fidelity.compare(faithful, port)) > 0.01
    ours = {row["statistic"]: row["p"] for row in fidelity.compare(
        synth.generate(80, variant="ps-noise", resolution=256, seed=0, normalisation="per-channel",
                       zero_frequency="none"), port)}
    assert ours["weakest channel std"] < 1e-6 and sum(p < 0.01 for p in ours.values()) >= 3


def test_published_geometry_draws_the_official_salient_object_and_shape_sizes():
    """The salient object alone on a grey background and the areas of the 100 shapes drawn alone, at
    256 px, 60 images per side: no statistic tells the default apart from the port; the continuous
    geometry (a centred object, continuous sizes) is told apart."""
    from primps_core import synth
    port = official.images("dead_leaves", 60, size=256, seed=0, iterations=0)
    ours = synth.generate(60, variant="primitives-s", resolution=256, seed=0, n_shapes=0)
    assert min(r["p"] for r in fidelity.compare(ours, port, fidelity.SALIENT_STATISTICS)) > 0.01
    port_areas = fidelity.shape_area_values(official.particle_areas(60, 256, seed=0), 256)
    ours_areas = fidelity.shape_area_values(synth.shape_areas(60, variant="primitives", resolution=256), 256)
    assert min(r["p"] for r in fidelity.compare_values(ours_areas, port_areas)) > 0.01
    continuous = synth.shape_areas(60, variant="primitives", resolution=256, geometry="continuous")
    rows = fidelity.compare_values(fidelity.shape_area_values(continuous, 256), port_areas)
    assert max(r["ks"] for r in rows) > 0.1 and min(r["p"] for r in rows) < 1e-4


def test_object_statistics_known_answers():
    images = np.zeros((1, 16, 16, 3), np.uint8)
    images[0, 4:8, 2:14] = 90                                  # 4 rows x 12 columns
    values = fidelity.measure(images, fidelity.SALIENT_STATISTICS)
    np.testing.assert_allclose([values[k][0] for k in ("salient coverage", "salient centre, row", "salient centre, column",
                                                       "salient height", "salient width")],
                               [48 / 256, 6 / 16, 8 / 16, 4 / 16, 12 / 16])


def test_statistics_measured_in_chunks_equal_the_whole_set_at_once():
    images = synth.generate(fidelity.CHUNK * 2 + 5, variant="primitives-ps", resolution=32, seed=3)
    chunked = fidelity.measure(images)
    for name, function in fidelity.STATISTICS.items():
        np.testing.assert_array_equal(chunked[name], np.asarray(function(images), dtype=np.float64), err_msg=name)
