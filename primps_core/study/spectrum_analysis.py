"""The natural-image statistics study behind notebook 01 and ``natural_stats.json``.

One cached stage measures, on the embedded photographs: each photo's spectral slope alpha (with and
without a Hann window, on luminance and per channel), its orientation anisotropy and inter-channel
correlation; alpha of random crops at several sizes; and the same measures on white noise and on
the published Primitives-PS background noise for reference. ``natural_statistics`` condenses the
photo measurements into the JSON the synthesizer is calibrated to.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import paths
from ..data.photos import load_photos, random_patches
from ..eval import spectrum
from ..paths import read_csv, write_csv
from ..presets import Preset, get_preset
from ..progress import bar as progress_bar
from . import tables
from .pipeline import Context, Job, StageResult, stage

CHANNELS = ("r", "g", "b")
SPECTRUM_GRID = np.geomspace(0.01, 0.49, 40)   # common frequencies for averaging photo spectra
N_ANGLES = 36                                  # 5-degree orientation bins


@dataclass(frozen=True)
class SpectrumStudyConfig:
    patch_sizes: tuple[int, ...]
    patches_per_size: int
    reference_images: int
    reference_size: int
    photos_digest: str                 # changes when the photo set changes, invalidating the cache
    band: tuple[float, float] = spectrum.DEFAULT_BAND
    seed: int = 0


def photos_digest(directory: Path | None = None) -> str:
    """SHA-256 (12 hex) of PROVENANCE.csv and every photo listed there."""
    directory = Path(directory or paths.PHOTOS_DIR)
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        if path.suffix in (".jpg", ".csv"):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def config_for(preset: Preset) -> SpectrumStudyConfig:
    """The study's config at a preset's sizes, over the current embedded photos."""
    return SpectrumStudyConfig(patch_sizes=preset.patch_sizes, patches_per_size=preset.patches_per_size,
                               reference_images=preset.reference_images, reference_size=preset.reference_size,
                               photos_digest=photos_digest())


def image_measures(image: np.ndarray, band) -> dict:
    """Every per-image measure of the study for one uint8 RGB image."""
    batch = image[None]
    row = {"alpha": spectrum.fit_alpha(batch, band=band)[0],
           "alpha_nowindow": spectrum.fit_alpha(batch, window=None, band=band)[0],
           "anisotropy": spectrum.orientation_anisotropy(batch, band=band)[0]}
    colour = np.ptp(image.astype(int) - image[..., :1], axis=None) > 0
    correlation = spectrum.channel_correlation(batch)[0] if colour else np.full((3, 3), np.nan)
    for c, name in enumerate(CHANNELS):
        row[f"alpha_{name}"] = spectrum.fit_alpha(batch, band=band, channel=c)[0] if colour else np.nan
    row.update(corr_rg=correlation[0, 1], corr_rb=correlation[0, 2], corr_gb=correlation[1, 2])
    return row


def mean_log_spectrum(images, window: str | None = "hann") -> np.ndarray:
    """Mean over images of log10 radial power, resampled onto ``SPECTRUM_GRID`` (images of any size).

    Grid frequencies below an image's lowest ring or above its highest are NaN for that image and
    left out of the mean; NaN where no image reaches them (e.g. below 1/32 cycles/pixel at 32 px).
    """
    curves = []
    for image in images:
        freqs, power = spectrum.radial_power_spectrum(np.asarray(image)[None], window)
        curves.append(np.interp(np.log(SPECTRUM_GRID), np.log(freqs), np.log10(power[0]),
                                left=np.nan, right=np.nan))
    stacked = np.stack(curves)
    observed = ~np.isnan(stacked)
    total = np.where(observed, stacked, 0.0).sum(axis=0)
    return np.where(observed.any(axis=0), total / np.maximum(observed.sum(axis=0), 1), np.nan)


@stage("spectrum_analysis", version=2)
def spectrum_analysis_stage(config: SpectrumStudyConfig, out_dir: Path, context: Context) -> dict:
    """Measure photos, crops and reference noise; write photos.csv, patches.csv, references.csv,
    angular.csv and spectra.csv into ``out_dir``; return the natural statistics."""
    photos, records = load_photos()
    photo_rows = []
    for photo, record in zip(progress_bar(photos, desc="photos", disable=not context.progress), records):
        photo_rows.append({"file": record["file"], "mode": record["mode"], **image_measures(photo, config.band)})
    write_csv(out_dir / "photos.csv", photo_rows)

    patch_rows = []
    for size in progress_bar(config.patch_sizes, desc="patch sizes", disable=not context.progress):
        patches = random_patches(photos, size, config.patches_per_size, seed=config.seed)
        alphas = spectrum.fit_alpha(patches, band=config.band)
        patch_rows += [{"size": size, "alpha": a} for a in alphas]
    write_csv(out_dir / "patches.csv", patch_rows)

    n, size = config.reference_images, config.reference_size
    references = {
        "white noise": np.rint(np.clip(128 + 40 * np.random.default_rng(config.seed).standard_normal(
            (n, size, size, 3), dtype=np.float32), 0, 255)).astype(np.uint8),
        "published PS noise": spectrum.published_ps_noise(n, size, seed=config.seed),
    }
    reference_rows = [{"source": name, **image_measures(image, config.band)}
                      for name, images in references.items()
                      for image in progress_bar(images, desc=name, disable=not context.progress)]
    write_csv(out_dir / "references.csv", reference_rows)

    profiles = {"photos": np.mean([spectrum.angular_power_profile(p[None], N_ANGLES, band=config.band)[1][0]
                                   for p in photos], axis=0)}
    profiles.update({name: spectrum.angular_power_profile(images, N_ANGLES, band=config.band)[1].mean(axis=0)
                     for name, images in references.items()})
    angles = spectrum.angular_power_profile(photos[0][None], N_ANGLES, band=config.band)[0]
    write_csv(out_dir / "angular.csv", [{"angle": a, **{k: v[i] for k, v in profiles.items()}}
                                         for i, a in enumerate(angles)])

    curves = {"photos": mean_log_spectrum(photos)}
    curves.update({name: mean_log_spectrum(images) for name, images in references.items()})
    write_csv(out_dir / "spectra.csv", [{"freq": f, **{k: v[i] for k, v in curves.items()}}
                                         for i, f in enumerate(SPECTRUM_GRID)])
    return natural_statistics(read_csv(out_dir / "photos.csv"), read_csv(out_dir / "patches.csv"), config)


DESIGN = None      # notebook 01 measures; it registers no claims


def plan(preset: str) -> list[tuple[dict, Job]]:
    """Notebook 01's one job: the photo study at ``preset``'s sizes."""
    return [({"study": "spectrum_analysis"}, Job(spectrum_analysis_stage, config_for(get_preset(preset)), preset))]


def rows(plan_: list[tuple[dict, Job]], results: list[StageResult]) -> list[dict]:
    """One row per photo: every measure of ``photos.csv`` (the rows of ``figures/spectrum_alpha.csv``)."""
    (result,) = results
    columns = read_csv(result.path / "photos.csv")
    return [{key: values[i].item() for key, values in columns.items()} for i in range(len(columns["alpha"]))]


def _summary(values: np.ndarray) -> dict:
    values = values[np.isfinite(values)]
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"n": int(values.size), "mean": float(values.mean()), "std": float(values.std(ddof=1)) if values.size > 1 else None,
            "quantiles": {"5": q[0], "25": q[1], "50": q[2], "75": q[3], "95": q[4]}}


def mean_channel_correlation(table: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The 3x3 RGB correlation matrix averaged over the selected rows of a measures table."""
    matrix = np.eye(3)
    for (i, j), key in zip([(0, 1), (0, 2), (1, 2)], ["corr_rg", "corr_rb", "corr_gb"]):
        matrix[i, j] = matrix[j, i] = float(np.mean(table[key][rows]))
    return matrix


def natural_statistics(photos: dict[str, np.ndarray], patches: dict[str, np.ndarray],
                       config: SpectrumStudyConfig) -> dict:
    """Condense per-photo measures into the statistics the synthesizer's "natural" law draws from.

    ``alpha_channels`` holds the mean and covariance of (alpha_r, alpha_g, alpha_b) over colour
    photos, so per-channel slopes can be drawn jointly; ``channel_correlation`` the mean RGB
    correlation matrix; ``alpha_by_patch_size`` how alpha changes with crop size.
    """
    colour = photos["mode"] == "RGB"
    channel_alphas = np.stack([photos[f"alpha_{c}"][colour] for c in CHANNELS], axis=1)
    correlation = mean_channel_correlation(photos, colour)
    sizes = patches["size"].astype(int)
    return {
        "description": "Second-order statistics of the embedded photographs (data/photos), measured by "
                       "primps_core.study.spectrum_analysis with a Hann window; alpha is the slope of P(f) ~ f^-alpha.",
        "band_cycles_per_pixel": list(config.band),
        "n_photos": int(len(photos["alpha"])),
        "n_colour_photos": int(colour.sum()),
        "alpha_luminance": _summary(photos["alpha"]),
        "alpha_luminance_no_window": _summary(photos["alpha_nowindow"]),
        "alpha_channels": {"mean": channel_alphas.mean(axis=0).tolist(),
                           "cov": np.cov(channel_alphas, rowvar=False).tolist()},
        "channel_correlation": correlation.tolist(),
        "anisotropy_log10_ratio": _summary(np.log10(photos["anisotropy"])),
        "alpha_by_patch_size": {str(s): _summary(patches["alpha"][sizes == s]) for s in np.unique(sizes)},
    }


def write_outputs(study_dir: Path, statistics: dict, windowing: list[dict], out_dir: Path) -> None:
    """Publish the study: ``spectrum_alpha.csv`` (every per-photo measure), ``reference_noise.csv``
    (the same measures on white and published PS noise), ``windowing_bias.csv`` (``windowing_bias``'s
    rows) and ``natural_stats.json``."""
    out_dir = Path(out_dir)
    paths.atomic_write(out_dir / "spectrum_alpha.csv", lambda t: shutil.copyfile(study_dir / "photos.csv", t))
    paths.atomic_write(out_dir / "reference_noise.csv", lambda t: shutil.copyfile(study_dir / "references.csv", t))
    write_csv(out_dir / "windowing_bias.csv", windowing)
    paths.atomic_write(out_dir / "natural_stats.json", lambda t: Path(t).write_text(json.dumps(statistics, indent=2) + "\n"))


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 01's numbers, from the files ``write_outputs`` wrote to ``figures_dir``."""
    figures_dir = Path(figures_dir)
    stats = tables.read_json(figures_dir / "natural_stats.json")
    photos, noise = read_csv(figures_dir / "spectrum_alpha.csv"), read_csv(figures_dir / "reference_noise.csv")
    windowing = tables.csv_rows(figures_dir / "windowing_bias.csv")

    def slope_row(name, values):
        values = values[np.isfinite(values)]
        low, median, high = np.quantile(values, [0.05, 0.5, 0.95])
        return {"images": name, "n": len(values), "alpha (mean ± s.d.)": tables.plus_minus(values.mean(), values.std(ddof=1)),
                "median": tables.number(median), "5-95%": f"{tables.number(low)} to {tables.number(high)}"}

    slopes = [slope_row("photos, whole", photos["alpha"])]
    slopes += [{"images": f"photo crops, {size} px", "n": summary["n"],
                "alpha (mean ± s.d.)": tables.plus_minus(summary["mean"], summary["std"]),
                "median": tables.number(summary["quantiles"]["50"]),
                "5-95%": f"{tables.number(summary['quantiles']['5'])} to {tables.number(summary['quantiles']['95'])}"}
               for size, summary in sorted(stats["alpha_by_patch_size"].items(), key=lambda item: int(item[0]))]
    slopes += [slope_row(name, noise["alpha"][noise["source"] == name]) for name in ("published PS noise", "white noise")]

    colour = photos["mode"] == "RGB"
    published = noise["source"] == "published PS noise"

    def structure(table, mask):
        alphas = np.stack([table[f"alpha_{c}"][mask] for c in CHANNELS])
        return {"alpha R / G / B": " / ".join(tables.number(np.nanmean(a)) for a in alphas),
                "spread of channel alphas within an image (s.d.)": tables.number(np.nanmean(np.nanstd(alphas, axis=0))),
                "channel correlation R-G / G-B / R-B": " / ".join(
                    tables.number(np.nanmean(table[key][mask])) for key in ("corr_rg", "corr_gb", "corr_rb")),
                "axis / diagonal power (median)": tables.number(np.nanmedian(table["anisotropy"][mask])),
                "images with more power along the axes": tables.percent(np.mean(table["anisotropy"][mask] > 1))}
    ours, theirs = structure(photos, colour), structure(noise, published)
    colour_rows = [{"measure": key, f"colour photos ({colour.sum()})": ours[key],
                    f"published PS noise ({published.sum()})": theirs[key]} for key in ours]

    shift = photos["alpha_nowindow"] - photos["alpha"]
    by_window = {(row["true_alpha"], row["window"]): row for row in windowing}
    window_rows = [{"true alpha": tables.number(alpha, 1),
                    "bias, no window": tables.plus_minus(by_window[alpha, "none"]["bias"], by_window[alpha, "none"]["stderr"]),
                    "bias, Hann window": tables.plus_minus(by_window[alpha, "hann"]["bias"], by_window[alpha, "hann"]["stderr"])}
                   for alpha in sorted({row["true_alpha"] for row in windowing})]
    window_rows.append({"true alpha": "photos: no window minus Hann",
                        "bias, no window": f"mean {tables.number(shift.mean())}, largest {tables.number(np.abs(shift).max())}",
                        "bias, Hann window": f"s.d. of alpha {tables.number(np.std(photos['alpha_nowindow'], ddof=1))} "
                                             f"without, {tables.number(np.std(photos['alpha'], ddof=1))} with"})
    return {"Spectral slope alpha per image (Hann window)": slopes,
            "Colour and orientation": colour_rows,
            "Windowing: fitted minus true alpha on non-periodic crops of known-alpha noise (mean ± s.e.)": window_rows}


def windowing_bias(true_alphas=(1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0), n: int = 32, field: int = 512,
                   crop: int = 128, band=spectrum.DEFAULT_BAND) -> list[dict]:
    """Bias of fit_alpha with and without a Hann window on non-periodic crops of known-alpha noise.

    For each true alpha, ``n`` periodic fields of ``field`` px are cropped to ``crop`` px (so the
    crops are not periodic) and fitted both ways. Rows: true_alpha, window, bias (mean fitted -
    true) and its standard error.
    """
    rows = []
    for true_alpha in true_alphas:
        crops = spectrum.power_law_noise(n, field, true_alpha, seed=int(10 * true_alpha))[:, :crop, :crop]
        for window in (None, "hann"):
            fitted = spectrum.fit_alpha(crops, window=window, band=band)
            rows.append({"true_alpha": true_alpha, "window": window or "none",
                         "bias": float(fitted.mean() - true_alpha),
                         "stderr": float(fitted.std(ddof=1) / np.sqrt(n))})
    return rows
