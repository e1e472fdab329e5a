"""The natural-statistics stage's measures and summary, on images with known answers."""
import numpy as np

from primps_core.eval import spectrum
from primps_core.study import spectrum_analysis


def test_image_measures_known_noise_and_greyscale():
    colour = np.stack([np.rint(np.clip(128 + 40 * spectrum.power_law_noise(1, 128, a, seed=s), 0, 255))
                       for a, s in ((1.0, 0), (2.0, 1), (3.0, 2))], axis=-1)[0].astype(np.uint8)
    row = spectrum_analysis.image_measures(colour, spectrum.DEFAULT_BAND)
    assert row["alpha_r"] < row["alpha_g"] < row["alpha_b"]
    assert abs(row["corr_rg"]) < 0.2
    grey = np.repeat(colour[..., :1], 3, axis=-1)
    grey_row = spectrum_analysis.image_measures(grey, spectrum.DEFAULT_BAND)
    assert np.isnan(grey_row["alpha_r"]) and np.isnan(grey_row["corr_gb"])
    assert np.isclose(grey_row["alpha"], spectrum.fit_alpha(grey[None, ..., 0])[0])


def test_natural_statistics_summarises_colour_photos_only():
    photos = {"mode": np.array(["RGB", "RGB", "L"]), "alpha": np.array([2.0, 3.0, 4.0]),
              "alpha_nowindow": np.array([2.0, 3.0, 4.0]), "anisotropy": np.array([1.0, 10.0, 100.0]),
              "alpha_r": np.array([2.0, 3.0, np.nan]), "alpha_g": np.array([2.5, 3.5, np.nan]),
              "alpha_b": np.array([3.0, 4.0, np.nan]), "corr_rg": np.array([0.8, 0.6, np.nan]),
              "corr_rb": np.array([0.5, 0.7, np.nan]), "corr_gb": np.array([0.9, 0.9, np.nan])}
    patches = {"size": np.array([32, 32, 64]), "alpha": np.array([1.0, 3.0, 2.0])}
    config = spectrum_analysis.SpectrumStudyConfig((32, 64), 2, 1, 32, "x")
    stats = spectrum_analysis.natural_statistics(photos, patches, config)
    assert stats["n_photos"] == 3 and stats["n_colour_photos"] == 2
    assert stats["alpha_luminance"]["mean"] == 3.0
    assert np.allclose(stats["alpha_channels"]["mean"], [2.5, 3.0, 3.5])
    assert np.allclose(stats["channel_correlation"], [[1, 0.7, 0.6], [0.7, 1, 0.9], [0.6, 0.9, 1]])
    assert np.isclose(stats["anisotropy_log10_ratio"]["mean"], 1.0)
    assert stats["alpha_by_patch_size"]["32"]["mean"] == 2.0 and stats["alpha_by_patch_size"]["64"]["n"] == 1


def test_windowing_bias_shows_edge_bias_only_without_window():
    rows = spectrum_analysis.windowing_bias(true_alphas=(3.5,), n=8, field=256, crop=96)
    bias = {r["window"]: r["bias"] for r in rows}
    assert bias["none"] < -0.3 and abs(bias["hann"]) < 0.15
