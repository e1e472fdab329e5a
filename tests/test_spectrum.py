"""Spectrum module: known answers on synthetic noise, windowing, and input errors."""
import numpy as np
import pytest

from primps_core.eval import spectrum


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0])
def test_fit_alpha_recovers_power_law_noise(alpha):
    noise = spectrum.power_law_noise(16, 128, alpha, seed=7)
    fitted = spectrum.fit_alpha(noise, window=None)
    assert abs(fitted.mean() - alpha) < 0.05
    assert np.all(np.abs(fitted - alpha) < 0.25)


def test_white_noise_has_alpha_near_zero():
    white = np.random.default_rng(0).standard_normal((16, 128, 128))
    assert abs(spectrum.fit_alpha(white, window=None).mean()) < 0.05
    assert abs(spectrum.fit_alpha(white).mean()) < 0.05


def test_hann_window_reduces_edge_bias_on_non_periodic_crops():
    # Crops of a larger periodic field are not periodic: their border jump adds f^-2 power.
    crops = spectrum.power_law_noise(16, 512, 3.5, seed=3)[:, :128, :128]
    bias_plain = spectrum.fit_alpha(crops, window=None).mean() - 3.5
    bias_hann = spectrum.fit_alpha(crops).mean() - 3.5
    assert bias_plain < -0.3
    assert abs(bias_hann) < 0.1


def test_radial_spectrum_of_a_cosine_peaks_at_its_frequency():
    size, cycles = 64, 8
    x = np.arange(size)
    image = np.cos(2 * np.pi * cycles * x / size)[None, :].repeat(size, 0)
    freqs, power = spectrum.radial_power_spectrum(image[None], window=None)
    assert freqs.shape == (size // 2,) and power.shape == (1, size // 2)
    assert np.argmax(power[0]) == cycles - 1          # ring k = 8 at 8/64 cycles/pixel
    assert np.isclose(freqs[cycles - 1], cycles / size, rtol=0.02)
    # Parseval: total power of the two coefficients = sum of squares of the image.
    rings = power[0] * np.bincount(np.rint(np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size))) * size)
                                   .astype(int).ravel(), minlength=size // 2 + 1)[1:size // 2 + 1]
    assert np.isclose(rings.sum(), np.sum(image**2), rtol=1e-9)


def test_uint8_colour_uses_luminance_and_channel_selects():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    lum = rgb.astype(float) @ spectrum.LUMA_WEIGHTS
    _, from_rgb = spectrum.radial_power_spectrum(rgb)
    _, from_lum = spectrum.radial_power_spectrum(lum)
    np.testing.assert_allclose(from_rgb, from_lum)
    _, green = spectrum.radial_power_spectrum(rgb, channel=1)
    np.testing.assert_allclose(green, spectrum.radial_power_spectrum(rgb[..., 1].astype(float))[1])


def test_isotropic_form_is_isotropic_and_published_form_follows_its_exponents():
    iso = spectrum.power_law_noise(8, 128, 2.0, seed=0)
    assert abs(np.log10(spectrum.orientation_anisotropy(iso, window=None)).mean()) < 0.05
    # a = b: the angular profile is scale-free, so the radial slope is exactly 2a.
    same = spectrum.power_law_noise(16, 128, anisotropy=(1.0, 1.0), seed=0)
    assert abs(spectrum.fit_alpha(same, window=None).mean() - 2.0) < 0.05
    assert np.all(spectrum.orientation_anisotropy(same, window=None) > 1.2)
    # a < b: below 1 cycle/pixel |fy|^2 < |fy|, so the filter 1/(|fx| + |fy|^2) is larger along the
    # fy axis: vertical frequencies (90 deg) carry more power than horizontal ones (0 deg).
    angles, profile = spectrum.angular_power_profile(
        spectrum.power_law_noise(8, 128, anisotropy=(1.0, 2.0), seed=0), 4, window=None)
    assert list(angles) == [0, 45, 90, 135]
    assert profile.mean(0)[2] > 2 * profile.mean(0)[0]


def test_power_law_noise_shapes_determinism_and_per_image_alpha():
    a = spectrum.power_law_noise(3, 32, [1.0, 2.0, 3.0], seed=5, channels=3)
    assert a.shape == (3, 32, 32, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, spectrum.power_law_noise(3, 32, [1.0, 2.0, 3.0], seed=5, channels=3))
    np.testing.assert_allclose(a.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(axis=(1, 2)), 1, atol=1e-4)
    steep = spectrum.power_law_noise(8, 128, [[1.0], [3.0]] * 4, seed=2)
    fitted = spectrum.fit_alpha(steep, window=None)
    assert np.all(fitted[1::2] > fitted[0::2] + 1.5)


def test_published_noise_is_uint8_full_range_with_uncorrelated_channels():
    noise = spectrum.published_ps_noise(32, 64, seed=0)
    assert noise.dtype == np.uint8 and noise.shape == (32, 64, 64, 3)
    assert np.all(noise.min(axis=(1, 2)) == 0) and np.all(noise.max(axis=(1, 2)) == 255)
    off_diagonal = spectrum.channel_correlation(noise)[:, [0, 0, 1], [1, 2, 2]]
    assert abs(off_diagonal.mean()) < 0.05


def test_channel_correlation_against_numpy_corrcoef():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(2, 16, 16, 1))
    images = np.concatenate([base, base + rng.normal(size=base.shape), rng.normal(size=base.shape)], axis=-1)
    for image, matrix in zip(images, spectrum.channel_correlation(images)):
        np.testing.assert_allclose(matrix, np.corrcoef(image.reshape(-1, 3), rowvar=False), atol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: spectrum.fit_alpha(np.zeros((8, 8))), "shape"),
    (lambda: spectrum.fit_alpha(np.zeros((1, 32, 32, 3)), channel=3), "channel"),
    (lambda: spectrum.fit_alpha(np.zeros((1, 32, 32)), band=(0.3, 0.1)), "band"),
    (lambda: spectrum.fit_alpha(np.zeros((1, 8, 8)), band=(0.3, 0.35)), "at least 3"),
    (lambda: spectrum.fit_alpha(np.zeros((1, 32, 32)), window="hamming"), "window"),
    (lambda: spectrum.fit_alpha(np.array([[["a"]]])), "numeric"),
    (lambda: spectrum.power_law_noise(2, 32, 2.0, anisotropy=(1, 1), seed=0), "exactly one"),
    (lambda: spectrum.power_law_noise(0, 32, 2.0, seed=0), "n must"),
    (lambda: spectrum.power_law_noise(2, 32.5, 2.0, seed=0), "size must"),
    (lambda: spectrum.power_law_noise(2, 32, -1.0, seed=0), "non-negative"),
    (lambda: spectrum.power_law_noise(2, 32, [1.0, 2.0, 3.0], seed=0), "broadcast"),
])
def test_bad_input_raises_one_clear_error(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_power_law_noise_image_does_not_depend_on_batch_size():
    # Generated in chunks from one stream: the first images of a long batch equal a short batch.
    long = spectrum.power_law_noise(40, 16, 2.0, seed=9, channels=3)
    np.testing.assert_array_equal(long[:3], spectrum.power_law_noise(3, 16, 2.0, seed=9, channels=3))
