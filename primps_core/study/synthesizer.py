"""What the synthesizer's images look like to the measures of notebook 01: the stage behind notebook 02.

For each synthesizer setting (the four variants with the published defaults, plus the natural
alpha law and anti-aliased shapes) and each resolution, one cached stage generates images and
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

from .. import synth
from ..eval import spectrum
from ..paths import FIGURES_DIR, read_csv, write_csv
from ..presets import Preset, get_preset
from ..progress import bar as progress_bar
from . import fidelity, spectrum_analysis, tables
from .pipeline import Context, Job, StageResult, stage

HIGH_FREQUENCY = 0.35    # cycles/pixel: the band where hard edges and aliasing add power (Nyquist 0.5)
ANCHOR = 0.1             # cycles/pixel: spectra are compared after shifting them to meet here

# (label, variant, options): the settings notebook 02 compares.
SETTINGS = (
    ("ps-noise", "ps-noise", ()),
    ("primitives", "primitives", ()),
    ("primitives-s", "primitives-s", ()),
    ("primitives-ps", "primitives-ps", ()),
    ("primitives-ps, natural law", "primitives-ps", (("alpha_law", "natural"),)),
    ("primitives, anti-aliased", "primitives", (("antialias", True),)),
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
def synthesizer_stage(config: SynthStudyConfig, out_dir: Path, context: Context) -> dict:
    """Write images.csv (per-image measures), spectra.csv (mean radial spectra) and coverage.csv."""
    rows, curves = [], {}
    for setting in progress_bar(config.settings, desc="settings", disable=not context.progress):
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


def high_frequency_excess(curve: np.ndarray, photo_curve: np.ndarray, freqs: np.ndarray) -> float:
    """Mean log10 power above ``HIGH_FREQUENCY`` of ``curve`` relative to the photos', both mean radial
    spectra (on ``freqs``) shifted to meet at ``ANCHOR``: in decades, > 0 where the images carry more
    fine detail (edges, aliasing) than photographs."""
    anchor = np.argmin(np.abs(np.log(freqs / ANCHOR)))
    top = freqs > HIGH_FREQUENCY
    return float(np.nanmean((curve - curve[anchor])[top] - (photo_curve - photo_curve[anchor])[top]))


def summary_table(images: dict[str, np.ndarray], coverage: dict[str, np.ndarray], photos: dict[str, np.ndarray],
                  spectra: dict[str, np.ndarray], photo_spectra: dict[str, np.ndarray],
                  patches: dict[str, np.ndarray]) -> list[dict]:
    """One row per (setting, resolution), plus the whole photos and their crops of the same sizes:
    the numbers of ``figures/synth_stats.csv``.

    ``images``, ``coverage`` and ``spectra`` are the stage's CSVs, ``photos``, ``photo_spectra`` and
    ``patches`` notebook 01's (``photos.csv``, ``spectra.csv``, ``patches.csv``); crops carry only
    their slope."""
    def row(label, resolution, table, mask, cover, excess):
        values = {key: table[key][mask] for key in ("alpha", "alpha_r", "alpha_g", "alpha_b", "anisotropy",
                                                    "corr_rg", "corr_gb", "corr_rb")}
        channel_alphas = np.stack([values["alpha_r"], values["alpha_g"], values["alpha_b"]])
        low, high = np.percentile(cover, [5, 95]) if len(cover) else (np.nan, np.nan)
        return {"source": label, "resolution": resolution, "n": int(mask.sum()),
                "alpha_mean": np.nanmean(values["alpha"]), "alpha_std": np.nanstd(values["alpha"], ddof=1),
                "channel_alpha_spread": np.nanmean(np.ptp(channel_alphas, axis=0)),
                "anisotropy_median": np.nanmedian(values["anisotropy"]),
                "corr_rg": np.nanmean(values["corr_rg"]), "corr_gb": np.nanmean(values["corr_gb"]),
                "corr_rb": np.nanmean(values["corr_rb"]),
                "flat_fraction": np.nanmean(table["flat_fraction"][mask]) if "flat_fraction" in table else np.nan,
                "salient_coverage_mean": np.mean(cover) if len(cover) else (np.nan if label == "photos" else 0.0),
                "salient_coverage_p5": low, "salient_coverage_p95": high, "high_frequency_excess": excess}
    rows = [row("photos", "native", photos, np.ones(len(photos["alpha"]), bool), np.array([]), 0.0)]
    for size in np.unique(images["resolution"]).astype(int):
        crops = patches["alpha"][patches["size"] == size]
        if len(crops):
            rows.append({**{key: np.nan for key in rows[0]}, "source": "photo crops", "resolution": int(size),
                         "n": len(crops), "alpha_mean": np.nanmean(crops), "alpha_std": np.nanstd(crops, ddof=1)})
    for label, *_ in SETTINGS:
        for resolution in np.unique(images["resolution"]).astype(int):
            mask = (images["setting"] == label) & (images["resolution"] == resolution)
            salient = label.startswith(("primitives-s", "primitives-ps"))
            cover = coverage["coverage"][coverage["resolution"] == resolution] if salient else np.array([])
            excess = high_frequency_excess(spectra[f"{label} @{resolution}"], photo_spectra["photos"], spectra["freq"])
            rows.append(row(label, int(resolution), images, mask, cover, excess))
    return rows


DESIGN = None      # notebook 02 measures; it registers no claims


def plan(preset: str) -> list[tuple[dict, Job]]:
    """Notebook 02's jobs: the synthesizer's statistics, its fidelity to the official code, and
    notebook 01's photo study it compares them with."""
    sizes = get_preset(preset)
    return [({"study": "synthesizer"}, Job(synthesizer_stage, config_for(sizes), preset)),
            ({"study": "fidelity"}, Job(fidelity.synth_fidelity_stage, fidelity.config_for(sizes), preset)),
            *spectrum_analysis.plan(preset)]


def rows(plan_: list[tuple[dict, Job]], results: list[StageResult]) -> list[dict]:
    """``summary_table`` from the finished jobs of ``plan``: the rows of ``figures/synth_stats.csv``."""
    found = {labels["study"]: result.path for (labels, _), result in zip(plan_, results)}
    synth_tables = {name: read_csv(found["synthesizer"] / f"{name}.csv") for name in ("images", "coverage", "spectra")}
    photo_tables = {name: read_csv(found["spectrum_analysis"] / f"{name}.csv") for name in ("photos", "spectra", "patches")}
    return summary_table(synth_tables["images"], synth_tables["coverage"], photo_tables["photos"], synth_tables["spectra"],
                         photo_tables["spectra"], photo_tables["patches"])


def write_summary(rows: list[dict], path: Path) -> None:
    """``summary_table`` rows as CSV (atomically), floats rounded to 4 decimals."""
    rounded = [{k: round(float(v), 4) if isinstance(v, (float, np.floating)) else v for k, v in row.items()} for row in rows]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, rounded)


def key_tables(figures_dir: Path) -> dict[str, tables.Table]:
    """Notebook 02's numbers, from ``synth_stats.csv``."""
    rows = tables.csv_rows(Path(figures_dir) / "synth_stats.csv")
    resolutions = sorted({int(row["resolution"]) for row in rows if row["source"] != "photos"})
    low, high = resolutions[0], resolutions[-1]
    by = {(row["source"], row["resolution"]): row for row in rows}
    photos = by["photos", "native"]

    def crop_alpha(size: int) -> str:
        crops = by.get(("photo crops", str(size)))
        return tables.plus_minus(crops["alpha_mean"], crops["alpha_std"]) if crops else "n/a"

    table = [{"setting": f"photos (crops of {low} / {high} px; whole photos)", f"alpha at {low} px": crop_alpha(low),
              f"alpha at {high} px": crop_alpha(high), f"R-G correlation ({high} px)": tables.number(photos["corr_rg"]),
              f"flat pixels ({high} px)": "", f"excess power above {HIGH_FREQUENCY} c/px at {low} px (decades)": "0",
              "salient object: mean coverage (5-95%)": ""}]
    for label, *_ in SETTINGS:
        small, large = by[label, str(low)], by[label, str(high)]
        cover = (f"{tables.percent(large['salient_coverage_mean'], 1)} ({tables.percent(large['salient_coverage_p5'])}-"
                 f"{tables.percent(large['salient_coverage_p95'])})" if large["salient_coverage_mean"] > 0 else "")
        table.append({"setting": label, f"alpha at {low} px": tables.plus_minus(small["alpha_mean"], small["alpha_std"]),
                      f"alpha at {high} px": tables.plus_minus(large["alpha_mean"], large["alpha_std"]),
                      f"R-G correlation ({high} px)": tables.number(large["corr_rg"]),
                      f"flat pixels ({high} px)": tables.percent(large["flat_fraction"]),
                      f"excess power above {HIGH_FREQUENCY} c/px at {low} px (decades)":
                          f"{small['high_frequency_excess']:+.2f}",
                      "salient object: mean coverage (5-95%)": cover})
    orientation = [{"setting": "photos (whole, at their own sizes)", f"at {low} px": tables.number(photos["anisotropy_median"]),
                    f"at {high} px": ""}]
    orientation += [{"setting": label, f"at {low} px": tables.number(by[label, str(low)]["anisotropy_median"]),
                     f"at {high} px": tables.number(by[label, str(high)]["anisotropy_median"])}
                    for label, *_ in SETTINGS]
    return {"Every setting, measured as notebook 01 measures photos": table,
            "Orientation: median power along the axes over the diagonals": orientation,
            "Each variant's default against the official code (at 256 px, and at the training resolution "
            "against the official images downsampled), and each option against the default (two-sample KS "
            "tests)": fidelity_summary(figures_dir)}


def fidelity_summary(figures_dir: Path) -> tables.Table:
    """One row per comparison of ``synth_fidelity.csv``: statistics tested, the smallest p-value and
    the statistics under p = 0.01."""
    rows = tables.csv_rows(Path(figures_dir) / "synth_fidelity.csv")
    summary = []
    for comparison in dict.fromkeys(row["comparison"] for row in rows):
        part = [row for row in rows if row["comparison"] == comparison]
        below = [row["statistic"] for row in part if float(row["p"]) < 0.01]
        summary.append({"comparison": comparison, "against": part[0]["against"],
                        "images per side": int(part[0]["n_per_side"]), "statistics": len(part),
                        "smallest p": f"{min(float(row['p']) for row in part):.1e}",
                        "statistics with p < 0.01": ", ".join(below) or "none"})
    return summary
