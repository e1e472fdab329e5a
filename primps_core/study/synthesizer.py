"""What the synthesizer's images look like to the measures of notebook 01: the stage behind notebook 02.

For each synthesizer setting (the four variants with the published defaults, plus the natural
alpha law and hard-edged shapes) and each resolution, one cached stage generates images and
measures per image the spectral slope alpha (luminance and per channel, Hann window), the
axis/diagonal anisotropy, the channel correlations and the fraction of flat pixels, with the
same functions as the photo study (``spectrum_analysis.image_measures``); it also stores each
setting's mean radial spectrum and the salient-object coverage of many images.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import synth
from ..eval import spectrum
from ..paths import FIGURES_DIR, write_csv
from ..presets import Preset
from . import spectrum_analysis
from .pipeline import Context, stage

# (label, variant, options): the settings notebook 02 compares.
SETTINGS = (
    ("ps-noise", "ps-noise", ()),
    ("primitives", "primitives", ()),
    ("primitives-s", "primitives-s", ()),
    ("primitives-ps", "primitives-ps", ()),
    ("primitives-ps, natural law", "primitives-ps", (("alpha_law", "natural"),)),
    ("primitives, no anti-aliasing", "primitives", (("antialias", False),)),
)


@dataclass(frozen=True)
class SynthStudyConfig:
    resolutions: tuple[int, ...]
    images_per_setting: int
    coverage_images: int
    stats_digest: str                  # natural_stats.json feeds the natural law: a change invalidates the cache
    code_digest: str = ""              # the synthesizer's source: a change of its images invalidates the cache
    settings: tuple = SETTINGS
    band: tuple[float, float] = spectrum.DEFAULT_BAND
    seed: int = 0


def stats_digest() -> str:
    """SHA-256 (12 hex) of the natural_stats.json the natural alpha law reads."""
    path = FIGURES_DIR / "natural_stats.json"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def config_for(preset: Preset) -> SynthStudyConfig:
    """The study's config at a preset's sizes, for the current synthesizer and photo statistics."""
    return SynthStudyConfig(resolutions=preset.synth_resolutions, images_per_setting=preset.synth_images,
                            coverage_images=preset.coverage_images, stats_digest=stats_digest(),
                            code_digest=synth.code_digest())


def flat_fraction(images: np.ndarray) -> np.ndarray:
    """Per image, the fraction of interior pixels equal (all three channels) to their 4 neighbours."""
    core = images[:, 1:-1, 1:-1]
    equal = np.ones(core.shape[:3], bool)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = images[:, 1 + dy:images.shape[1] - 1 + dy, 1 + dx:images.shape[2] - 1 + dx]
        equal &= (core == neighbour).all(axis=3)
    return equal.mean(axis=(1, 2))


def generate_setting(setting: tuple, n: int, resolution: int, seed: int = 0) -> np.ndarray:
    """The first ``n`` images of a ``SETTINGS`` entry at ``resolution``."""
    _, variant, options = setting
    return synth.generate(n, variant=variant, resolution=resolution, seed=seed, **dict(options))


@stage("synthesizer", version=1)
def measure(config: SynthStudyConfig, out_dir: Path, context: Context) -> dict:
    """Write images.csv (per-image measures), spectra.csv (mean radial spectra) and coverage.csv."""
    rows, curves = [], {}
    for setting in tqdm(config.settings, desc="settings", disable=not context.progress):
        for resolution in config.resolutions:
            images = generate_setting(setting, config.images_per_setting, resolution, config.seed)
            flat = flat_fraction(images)
            for i, image in enumerate(images):
                rows.append({"setting": setting[0], "resolution": resolution, "index": i,
                             "flat_fraction": flat[i], **spectrum_analysis.image_measures(image, config.band)})
            curves[f"{setting[0]} @{resolution}"] = spectrum_analysis.mean_log_spectrum(images)
    write_csv(out_dir / "images.csv", rows)
    write_csv(out_dir / "spectra.csv", [{"freq": f, **{k: v[i] for k, v in curves.items()}}
                                                       for i, f in enumerate(spectrum_analysis.SPECTRUM_GRID)])
    coverage = {resolution: synth.salient_coverage(config.coverage_images, resolution=resolution, seed=config.seed)
                for resolution in config.resolutions}
    write_csv(out_dir / "coverage.csv", [{"resolution": r, "index": i, "coverage": c}
                                                        for r, values in coverage.items() for i, c in enumerate(values)])
    return {"n_rows": len(rows), "coverage_mean": {str(r): float(v.mean()) for r, v in coverage.items()}}


def summary_table(images: dict[str, np.ndarray], coverage: dict[str, np.ndarray], photos: dict[str, np.ndarray]) -> list[dict]:
    """One row per (setting, resolution) plus the photos: the numbers of ``figures/synth_stats.csv``."""
    def row(label, resolution, table, mask, cover):
        values = {key: table[key][mask] for key in ("alpha", "alpha_r", "alpha_g", "alpha_b", "anisotropy",
                                                    "corr_rg", "corr_gb", "corr_rb")}
        channel_alphas = np.stack([values["alpha_r"], values["alpha_g"], values["alpha_b"]])
        return {"source": label, "resolution": resolution, "n": int(mask.sum()),
                "alpha_mean": np.nanmean(values["alpha"]), "alpha_std": np.nanstd(values["alpha"], ddof=1),
                "channel_alpha_spread": np.nanmean(np.ptp(channel_alphas, axis=0)),
                "anisotropy_median": np.nanmedian(values["anisotropy"]),
                "corr_rg": np.nanmean(values["corr_rg"]), "corr_gb": np.nanmean(values["corr_gb"]),
                "corr_rb": np.nanmean(values["corr_rb"]),
                "flat_fraction": np.nanmean(table["flat_fraction"][mask]) if "flat_fraction" in table else np.nan,
                "salient_coverage_mean": cover}
    rows = [row("photos", "native", photos, np.ones(len(photos["alpha"]), bool), np.nan)]
    for label, *_ in SETTINGS:
        for resolution in np.unique(images["resolution"]).astype(int):
            mask = (images["setting"] == label) & (images["resolution"] == resolution)
            salient = label.startswith(("primitives-s", "primitives-ps"))
            cover = coverage["coverage"][coverage["resolution"] == resolution].mean() if salient else 0.0
            rows.append(row(label, int(resolution), images, mask, cover))
    return rows


def write_summary(rows: list[dict], path: Path) -> None:
    """``summary_table`` rows as CSV (atomically), floats rounded to 4 decimals."""
    rounded = [{k: round(float(v), 4) if isinstance(v, (float, np.floating)) else v for k, v in row.items()} for row in rows]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, rounded)
