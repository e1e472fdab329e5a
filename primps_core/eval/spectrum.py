"""Second-order statistics of images: radial power spectra, their slope alpha, 1/f noise.

Natural photographs have a radially averaged power spectrum that falls as ``P(f) ~ f^-alpha`` with
alpha near 2. This module measures that slope (``radial_power_spectrum``, ``fit_alpha``), the
orientation and colour structure around it (``angular_power_profile``, ``channel_correlation``),
and synthesises noise with a prescribed spectrum (``power_law_noise``), including the anisotropic
form ``1 / (|fx|^a + |fy|^b)`` that the published Primitives-PS code uses for its backgrounds.

Conventions: images are arrays (N, H, W) or (N, H, W, C), uint8 or float; frequencies are in
cycles per pixel (Nyquist = 0.5), so numbers are comparable across resolutions; colour images are
reduced to luminance (ITU-R BT.601 weights) unless ``channel=`` picks one channel.
"""
from __future__ import annotations

import numpy as np

from .. import checks

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
# Default fitting band in cycles/pixel. The low edge skips the lowest rings, which a Hann window
# blurs into the (removed) DC term and which hold few Fourier coefficients; the high edge stays
# below the band where JPEG quantisation and the Lanczos downscale of the photos bend the spectrum.
DEFAULT_BAND = (0.05, 0.35)
WINDOWS = ("hann", None)
CHUNK = 32   # images per FFT batch: bounds memory for large batches, results do not depend on it


def _checked(images) -> np.ndarray:
    """``images`` as an array, or one clear error if it is not a batch of numeric images."""
    array = np.asarray(images)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"images must be a numeric array, got dtype {array.dtype}")
    if array.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {array.shape}")
    if array.shape[0] == 0 or min(array.shape[1:3]) < 4:
        raise ValueError(f"images must hold at least one image of at least 4x4 pixels, got {array.shape}")
    return array


def _image_planes(images, channel: int | None = None) -> np.ndarray:
    """Validate ``images`` and return one float64 plane per image, shape (N, H, W)."""
    array = _checked(images).astype(np.float64)
    if array.ndim == 3:
        if channel not in (None, 0):
            raise ValueError(f"channel={channel} given for single-channel images of shape {array.shape}")
        return array
    n_channels = array.shape[-1]
    if channel is not None:
        return array[..., checks.integer(channel, "channel", 0, n_channels - 1)]
    if n_channels == 1:
        return array[..., 0]
    if n_channels not in (3, 4):
        raise ValueError(f"colour images must have 1, 3 or 4 channels, got {n_channels}")
    return array[..., :3] @ LUMA_WEIGHTS


def _window(height: int, width: int, window: str | None) -> np.ndarray:
    if checks.choice(window, "window", WINDOWS) is None:
        return np.ones((height, width))
    return np.outer(np.hanning(height), np.hanning(width))


def power_spectrum_2d(images, window: str | None = "hann", channel: int | None = None) -> np.ndarray:
    """Per-image 2-D power spectrum |FFT|^2, shape (N, H, W), in numpy's FFT frequency order.

    The image mean is removed before windowing and the power is divided by the window's energy
    (sum of w^2), so a window does not change the overall power level, only the leakage.
    """
    planes = _image_planes(images, channel)
    planes = planes - planes.mean(axis=(1, 2), keepdims=True)
    taper = _window(*planes.shape[1:], window)
    spectrum = np.fft.fft2(planes * taper)
    return np.abs(spectrum) ** 2 / np.sum(taper**2)


def _chunked_spectra(images, window, channel):
    """``power_spectrum_2d`` over ``images`` a chunk at a time, bounding memory for large batches."""
    for start in range(0, len(images), CHUNK):
        yield power_spectrum_2d(images[start:start + CHUNK], window, channel)


def _frequency_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(fy, fx) in cycles/pixel for every coefficient of an (H, W) FFT."""
    return np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")


def _ring_index(height: int, width: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Ring number of every coefficient (|f| * S rounded, S = min(H, W)) and each ring's mean |f|."""
    fy, fx = _frequency_grid(height, width)
    radius = np.hypot(fx, fy)
    size = min(height, width)
    rings = np.rint(radius * size).astype(int)
    n_rings = size // 2
    counts = np.bincount(rings.ravel(), minlength=n_rings + 1)[: n_rings + 1]
    sums = np.bincount(rings.ravel(), weights=radius.ravel(), minlength=n_rings + 1)[: n_rings + 1]
    return rings, sums[1:] / counts[1:], n_rings


def radial_power_spectrum(images, window: str | None = "hann", channel: int | None = None):
    """Radially averaged power spectrum of each image.

    Returns ``(freqs, power)``: ``freqs`` (K,) is the mean radial frequency (cycles/pixel) of each
    ring k = 1..min(H, W)//2 (ring k holds the coefficients with round(|f| * min(H, W)) == k), and
    ``power`` (N, K) the mean power in that ring. DC is excluded. Use ``window=None`` for periodic
    images (synthetic noise); photographs need the default Hann window, otherwise the jump between
    opposite borders adds a spurious f^-2 component.
    """
    images = _checked(images)
    rings, freqs, n_rings = _ring_index(*images.shape[1:3])
    flat = rings.ravel()
    keep = (flat >= 1) & (flat <= n_rings)
    counts = np.bincount(flat[keep], minlength=n_rings + 1)[1:]
    power = np.concatenate([
        [np.bincount(flat[keep], weights=s.ravel()[keep], minlength=n_rings + 1)[1:] for s in spectra]
        for spectra in _chunked_spectra(images, window, channel)])
    return freqs, power / counts


def _check_band(band) -> tuple[float, float]:
    fmin, fmax = band
    if not 0 < fmin < fmax <= 0.5 * np.sqrt(2):
        raise ValueError(f"band must satisfy 0 < fmin < fmax <= 0.707 cycles/pixel, got {band}")
    return float(fmin), float(fmax)


def fit_power_law(freqs: np.ndarray, power: np.ndarray, band=DEFAULT_BAND) -> tuple[np.ndarray, np.ndarray]:
    """Fit log P = c - alpha log f per row of ``power`` over ``band``; return (alpha, c).

    Weighted least squares with weights 1/f, so every octave of the band counts equally (linear
    rings crowd at high frequency, where compression and resampling artefacts live).
    """
    fmin, fmax = _check_band(band)
    in_band = (freqs >= fmin) & (freqs <= fmax)
    if in_band.sum() < 3:
        raise ValueError(f"band {band} holds {in_band.sum()} frequency rings; at least 3 are needed "
                         f"(images of {2 * len(freqs)} px reach {freqs[0]:.3f}..{freqs[-1]:.3f} cycles/pixel)")
    x = np.log(freqs[in_band])
    y = np.log(np.maximum(np.atleast_2d(power)[:, in_band], np.finfo(float).tiny))
    w = 1.0 / freqs[in_band]
    xm = np.sum(w * x) / w.sum()
    ym = (y @ w) / w.sum()
    slope = ((y - ym[:, None]) @ (w * (x - xm))) / np.sum(w * (x - xm) ** 2)
    return -slope, ym - slope * xm


def fit_alpha(images, window: str | None = "hann", band=DEFAULT_BAND, channel: int | None = None) -> np.ndarray:
    """Spectral slope alpha of each image (P(f) ~ f^-alpha), shape (N,).

    A weighted least-squares line through log power vs log frequency of the radially averaged
    spectrum, over ``band`` in cycles/pixel (default ``DEFAULT_BAND`` = 0.05..0.35). White noise
    gives alpha = 0; photographs about 2.
    """
    freqs, power = radial_power_spectrum(images, window, channel)
    return fit_power_law(freqs, power, band)[0]


def angular_power_profile(images, n_angles: int = 36, window: str | None = "hann",
                          band=DEFAULT_BAND, channel: int | None = None):
    """Relative power per orientation of each image.

    Each coefficient's power is divided by its ring's mean (so the steep radial fall-off does not
    weigh in), then averaged over ``band`` within ``n_angles`` orientation bins covering 0..180
    degrees (0 = horizontal frequency, i.e. vertical edges). Returns ``(angles_deg, profile)`` with
    profile (N, n_angles); an isotropic image has a flat profile at 1.
    """
    fmin, fmax = _check_band(band)
    images = _checked(images)
    shape = images.shape[1:3]
    rings, _, n_rings = _ring_index(*shape)
    fy, fx = _frequency_grid(*shape)
    radius = np.hypot(fx, fy)
    in_band = ((radius >= fmin) & (radius <= fmax) & (rings >= 1) & (rings <= n_rings)).ravel()
    angle = np.degrees(np.arctan2(fy, fx)).ravel() % 180.0
    width = 180.0 / n_angles
    bins = (np.floor(angle / width + 0.5).astype(int) % n_angles)[in_band]   # bin 0 centred on 0 degrees
    ring_of = rings.ravel()[in_band]
    counts = np.bincount(bins, minlength=n_angles)
    if counts.min() == 0:
        raise ValueError(f"band {band} leaves orientation bins empty at {shape} px; use fewer angles")
    profiles = []
    for spectrum in (s for spectra in _chunked_spectra(images, window, channel) for s in spectra):
        values = spectrum.ravel()[in_band]
        ring_mean = np.bincount(ring_of, weights=values) / np.maximum(np.bincount(ring_of), 1)
        relative = values / np.maximum(ring_mean[ring_of], np.finfo(float).tiny)
        profiles.append(np.bincount(bins, weights=relative, minlength=n_angles) / counts)
    return np.arange(n_angles) * width, np.stack(profiles)


def orientation_anisotropy(images, window: str | None = "hann", band=DEFAULT_BAND,
                           half_width_deg: float = 15.0, channel: int | None = None) -> np.ndarray:
    """Ratio of power along the image axes to power along the diagonals, per image (N,).

    Mean relative power within ``half_width_deg`` of 0 and 90 degrees over the mean within the same
    width of 45 and 135 degrees; 1 for isotropic images, above 1 when horizontal and vertical
    structure dominate (the "oblique effect" of photographs of built and gravity-shaped scenes).
    """
    angles, profile = angular_power_profile(images, 36, window, band, channel)
    distance_to_axis = np.minimum(angles % 90.0, 90.0 - angles % 90.0)
    axes = distance_to_axis <= half_width_deg
    diagonals = np.abs(distance_to_axis - 45.0) <= half_width_deg
    return profile[:, axes].mean(axis=1) / profile[:, diagonals].mean(axis=1)


def channel_correlation(images) -> np.ndarray:
    """Pearson correlation between the colour channels of each image, shape (N, C, C)."""
    array = np.asarray(images, dtype=np.float64)
    if array.ndim != 4 or array.shape[-1] < 2:
        raise ValueError(f"channel_correlation needs colour images (N, H, W, C>=2), got shape {array.shape}")
    flat = array.reshape(array.shape[0], -1, array.shape[-1])
    flat = flat - flat.mean(axis=1, keepdims=True)
    cov = np.einsum("npc,npd->ncd", flat, flat)
    std = np.sqrt(np.maximum(np.einsum("ncc->nc", cov), np.finfo(float).tiny))
    return cov / (std[:, :, None] * std[:, None, :])


def _per_image_channel(values, n: int, channels: int, name: str) -> np.ndarray:
    """Broadcast a number, an (n,) array or an (n, channels) array to (n, channels)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    try:
        array = np.broadcast_to(array, (n, channels))
    except ValueError:
        raise ValueError(f"{name} must be a number or broadcast to (n, channels) = ({n}, {channels}), "
                         f"got shape {np.shape(values)}") from None
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {values}")
    return array


def power_law_noise(n: int, size: int, alpha=None, *, seed: int, channels: int = 1, anisotropy=None) -> np.ndarray:
    """Gaussian noise with a prescribed power spectrum, each image/channel standardised to mean 0, std 1.

    White Gaussian noise is filtered in Fourier space (random phase, Rayleigh amplitudes), so the
    expected power is exactly the squared filter:
    - ``alpha``: isotropic, amplitude |F| ~ f^(-alpha/2), i.e. P(f) ~ f^-alpha on average;
    - ``anisotropy=(a, b)``: the published Primitives-PS form, amplitude 1 / (|fx|^a + |fy|^b) with
      fx, fy in cycles/pixel (power falls as f^-2a along x and f^-2b along y).
    ``alpha`` or ``a``/``b`` may be numbers or arrays broadcasting to (n, channels), for a different
    spectrum per image and channel. The images are periodic: measure them with ``window=None``.
    Returns float32 (n, size, size) for one channel, else (n, size, size, channels).
    """
    if (alpha is None) == (anisotropy is None):
        raise ValueError("give exactly one of alpha= or anisotropy=(a, b)")
    for name, value, low in (("n", n, 1), ("size", size, 4), ("channels", channels, 1)):
        checks.integer(value, name, low)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.rfftfreq(size), indexing="ij")
    if alpha is not None:
        exponent = _per_image_channel(alpha, n, channels, "alpha")[:, :, None, None]
        radius = np.hypot(fx, fy)
        radius[0, 0] = 1.0

        def filters(rows: slice) -> np.ndarray:
            return radius ** (-exponent[rows] / 2.0)
    else:
        if len(anisotropy) != 2:
            raise ValueError(f"anisotropy must be a pair (a, b), got {anisotropy!r}")
        a = _per_image_channel(anisotropy[0], n, channels, "anisotropy a")[:, :, None, None]
        b = _per_image_channel(anisotropy[1], n, channels, "anisotropy b")[:, :, None, None]

        def filters(rows: slice) -> np.ndarray:
            denominator = np.abs(fx) ** a[rows] + np.abs(fy) ** b[rows]
            denominator[..., 0, 0] = 1.0
            return 1.0 / denominator
    rng = np.random.default_rng(seed)
    noise = np.empty((n, size, size, channels), dtype=np.float32)
    for start in range(0, n, CHUNK):     # chunks bound memory; the draws equal one draw of all n
        rows = slice(start, min(start + CHUNK, n))
        white = rng.standard_normal((rows.stop - start, channels, size, size))
        gain = filters(rows)
        gain[..., 0, 0] = 0.0            # zero mean
        chunk = np.fft.irfft2(np.fft.rfft2(white) * gain, s=(size, size))
        chunk -= chunk.mean(axis=(2, 3), keepdims=True)
        chunk /= np.maximum(chunk.std(axis=(2, 3), keepdims=True), np.finfo(float).tiny)
        noise[rows] = np.moveaxis(chunk, 1, -1)
    return noise[..., 0] if channels == 1 else noise


def published_ps_noise(n: int, size: int, *, seed: int) -> np.ndarray:
    """Backgrounds as the published Primitives-PS code makes them: uint8 (n, size, size, 3).

    Each channel independently: a, b ~ U[0.5, 3.5], anisotropic 1 / (|fx|^a + |fy|^b) noise,
    min-max normalised to 0..255. Channels are therefore uncorrelated.
    """
    rng = np.random.default_rng([seed, 1])
    a, b = rng.uniform(0.5, 3.5, size=(2, n, 3))
    noise = power_law_noise(n, size, anisotropy=(a, b), seed=seed, channels=3)
    low = noise.min(axis=(1, 2), keepdims=True)
    high = noise.max(axis=(1, 2), keepdims=True)
    return np.rint(255.0 * (noise - low) / np.maximum(high - low, 1e-12)).astype(np.uint8)
