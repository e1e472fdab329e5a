"""The synthesizer study behind notebook 02: measures with known answers and the cached stage."""
import numpy as np

from primps_core.paths import read_csv
from primps_core.study import synthesizer as study_synthesizer
from primps_core.study.pipeline import Context


def test_flat_fraction_known_answers():
    flat = np.full((1, 8, 8, 3), 7, np.uint8)
    checker = (np.indices((8, 8)).sum(axis=0) % 2 * 255).astype(np.uint8)[None, ..., None].repeat(3, axis=3)
    half = flat.copy()
    half[0, :, 4:] = 200                     # two flat halves: only the two columns at the seam differ
    np.testing.assert_allclose(study_synthesizer.flat_fraction(np.concatenate([flat, checker, half])), [1.0, 0.0, 4 / 6])


def test_stage_measures_every_setting_and_the_summary_covers_them(tmp_path):
    config = study_synthesizer.SynthStudyConfig(resolutions=(32, 48), images_per_setting=3, coverage_images=20,
                                          stats_digest=study_synthesizer.stats_digest())
    result = study_synthesizer.synthesizer_stage(config, preset="smoke", context=Context(tmp_path))
    images = read_csv(result.path / "images.csv")
    coverage = read_csv(result.path / "coverage.csv")
    assert len(images["alpha"]) == len(study_synthesizer.SETTINGS) * 2 * 3
    assert len(coverage["coverage"]) == 40 and 0.15 < coverage["coverage"].mean() < 0.5
    photos = {key: np.array([2.5, 2.7]) for key in ("alpha", "alpha_r", "alpha_g", "alpha_b", "anisotropy",
                                                    "corr_rg", "corr_gb", "corr_rb")}
    spectra = read_csv(result.path / "spectra.csv")
    photo_spectra = {"freq": spectra["freq"], "photos": spectra["primitives @48"]}   # the photos' curve, made up
    patches = {"size": np.array([32, 32, 64]), "alpha": np.array([3.0, 3.4, 2.0])}
    rows = study_synthesizer.summary_table(images, coverage, photos, spectra, photo_spectra, patches)
    assert len(rows) == 2 + len(study_synthesizer.SETTINGS) * 2               # photos, crops of 32 px, settings
    by_source = {(r["source"], r["resolution"]): r for r in rows}
    assert by_source["photo crops", 32]["n"] == 2 and by_source["photo crops", 32]["alpha_mean"] == 3.2
    assert by_source["ps-noise", 48]["flat_fraction"] < 0.01 and by_source["primitives", 48]["salient_coverage_mean"] == 0.0
    assert by_source["primitives-s", 32]["salient_coverage_mean"] > 0.15
    assert by_source["primitives", 48]["high_frequency_excess"] == 0.0           # its own curve as the photos'
    assert by_source["primitives, anti-aliased", 48]["high_frequency_excess"] < 0    # soft edges: less fine detail
    study_synthesizer.write_summary(rows, tmp_path / "out" / "synth_stats.csv")
    assert read_csv(tmp_path / "out" / "synth_stats.csv")["source"][0] == "photos"


def test_high_frequency_excess_known_answer():
    freqs = np.geomspace(0.01, 0.49, 40)
    photos = -2.0 * np.log10(freqs)                         # alpha 2
    shallower = -1.0 * np.log10(freqs)                      # alpha 1: more power at high frequencies
    top = freqs > study_synthesizer.HIGH_FREQUENCY
    anchor = freqs[np.argmin(np.abs(np.log(freqs / study_synthesizer.ANCHOR)))]
    expected = np.mean(np.log10(freqs[top] / anchor) * -1.0 + np.log10(freqs[top] / anchor) * 2.0)
    assert np.isclose(study_synthesizer.high_frequency_excess(shallower, photos, freqs), expected) and expected > 0
