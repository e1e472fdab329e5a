"""Every size of the study (image counts, resolutions, time limits) for each preset, in one place.

``smoke`` runs the whole pipeline in minutes for tests and CI; ``cpu`` is canonical and makes the
published figures on a 2-core CPU; ``gpu`` is paper-like scale; ``gpu-short`` is the decisive
experiment alone, sized for minutes on one H100-class GPU (scripts/device_study.sh). Notebooks and stages read sizes
from here only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Preset:
    name: str
    notebook_timeout_s: int            # papermill's per-cell execution timeout
    # Notebook 01: natural-image spectrum study.
    patch_sizes: tuple[int, ...]       # side of the random photo crops whose alpha is measured
    patches_per_size: int              # crops per size
    reference_images: int              # white-noise and published-PS-noise images for comparison
    reference_size: int                # their side in pixels
    # Notebook 02: synthesizer statistics.
    synth_resolutions: tuple[int, ...]  # resolutions at which every synthesizer setting is measured
    synth_images: int                  # images per setting and resolution
    coverage_images: int               # images whose salient-object coverage is histogrammed
    fidelity_images: int               # images per side of each comparison with the official code (256 px)
    # Pretraining and transfer (notebooks 03-04), sized so that the cpu preset's `make reproduce`
    # fits its measured budget (README). FID/KID dominate the cost on CPU (about 0.1 s per image).
    train_resolution: int              # side of the images the GANs are trained on
    architecture: str                  # dcgan or resnet (gan.models; benchmarks/architecture_comparison.py)
    base_channels: int                 # generator/discriminator width at full resolution
    batch_size: int                    # images per training iteration
    pretrain_iterations: int
    transfer_iterations: int
    pretrain_evals: int                # FID/KID evaluations per pretraining run, evenly spaced
    transfer_evals: int                # FID/KID evaluations per transfer run, evenly spaced
    transfer_seeds: int                # fine-tuning seeds per (target, init) of notebook 04's secondary grid (0: none)
    fid_samples: int                   # generated images per FID/KID evaluation
    # Notebook 04's decisive experiment (figures/design.json): units of replication per arm.
    decisive_units: tuple[int, int, int]   # Primitives-PS pretraining seeds, natural-image ones, scratch seeds
    # Notebook 05 (on the decisive experiment's first target; its arms keep their decisive units):
    ladder_units: int                  # pretraining seeds of each other rung of claim 3's ladder
    knob_units: int                    # pretraining seeds of each knob setting (descriptive)
    knobs: int                         # how many of the knob settings run (the first ones of study.ablations.KNOBS)
    # Notebook 07: DP synthesis of Fashion-MNIST (study.dp_synthesis), a diffusion UNet at 28 px.
    dp_channels: int                   # UNet width at 28 px
    dp_pool_size: int                  # images of each pretraining pool (Primitives-PS, natural patches)
    dp_pretrain_steps: int             # non-private pretraining steps (shared by every epsilon and seed)
    dp_batch_size: int                 # pretraining batch and DP-SGD's expected Poisson batch
    dp_lr: float
    dp_steps: int                      # DP-SGD steps on the sensitive training set
    dp_delta: float
    dp_sources: tuple[str, ...]        # the diffusion grid's pretraining sources (study.dp_stages.SOURCES or some)
    dp_epsilons: tuple[float, ...]
    dp_seeds: int                      # fine-tuning seeds per (source, epsilon)
    dp_samples: int                    # generated images per run (an equal number per class): classifier and attack
    dp_fid_samples: int                # the first of them that FID/KID score against as many test images
    dp_sample_steps: int               # DDIM steps
    dp_classifier_epochs: int          # epochs of the downstream (and semantic) classifier
    dp_mia_queries: int                # members and non-members queried by the membership attack
    dp_gan_epsilons: tuple[float, ...]  # the GAN family's epsilons (its grid: none and primitives-ps)
    dp_gan_steps: int                  # DP-SGD steps of the GAN's discriminator
    # Notebook 08: many classes from fewer HQ images (study.many_classes), glyphs of a class subset.
    many_classes_classes: int                   # classes in the subset (of the 3,755 GB2312 level-1 characters)
    many_classes_per_class: int                 # HQ (or LQ) training images per class
    many_classes_iterations: int                # GAN iterations per run
    many_classes_transfer_steps: int            # steps of the LQ -> HQ transfer module
    many_classes_evals: int                     # class-accuracy evaluations per run, evenly spaced
    many_classes_seeds: int                     # seeds per (setting, self-supervision, init)
    many_classes_fid_samples: int               # generated and real images of the FID at equal N
    many_classes_intra_classes: int             # classes of the intra-class FID
    many_classes_intra_samples: int             # images per class of the intra-class FID
    many_classes_fashion_per_class: int         # HQ (or LQ) training images per class of the Fashion-MNIST benchmark


PRESETS = {
    "smoke": Preset("smoke", notebook_timeout_s=600, patch_sizes=(32, 64, 256), patches_per_size=48,
                    reference_images=16, reference_size=128,
                    synth_resolutions=(32, 64), synth_images=16, coverage_images=512, fidelity_images=30,
                    train_resolution=16, architecture="resnet", base_channels=8, batch_size=8, pretrain_iterations=20,
                    transfer_iterations=8, pretrain_evals=2, transfer_evals=2, transfer_seeds=1, fid_samples=8,
                    decisive_units=(2, 2, 2), ladder_units=2, knob_units=2, knobs=5,
                    dp_channels=8, dp_pool_size=240, dp_pretrain_steps=6, dp_batch_size=32, dp_lr=2e-3, dp_steps=4,
                    dp_delta=1e-5,
                    dp_sources=("none", "primitives-ps", "natural-patches", "primitives-ps-selected", "natural-patches-selected"),
                    dp_epsilons=(1.0, 10.0), dp_seeds=2, dp_samples=20, dp_fid_samples=20, dp_sample_steps=3,
                    dp_classifier_epochs=1, dp_mia_queries=20, dp_gan_epsilons=(10.0,), dp_gan_steps=3,
                    many_classes_classes=6, many_classes_per_class=4, many_classes_iterations=6, many_classes_transfer_steps=5, many_classes_evals=2,
                    many_classes_seeds=2, many_classes_fid_samples=12, many_classes_intra_classes=2, many_classes_intra_samples=6,
                    many_classes_fashion_per_class=4),
    "cpu": Preset("cpu", notebook_timeout_s=3 * 3600, patch_sizes=(32, 64, 256), patches_per_size=2000,
                  reference_images=256, reference_size=256,
                  synth_resolutions=(32, 256), synth_images=256, coverage_images=10000, fidelity_images=1000,
                  train_resolution=32, architecture="resnet", base_channels=16, batch_size=32, pretrain_iterations=3000,
                  transfer_iterations=3900, pretrain_evals=3, transfer_evals=6, transfer_seeds=0, fid_samples=200,
                  decisive_units=(5, 3, 5), ladder_units=4, knob_units=2, knobs=0,
                  dp_channels=16, dp_pool_size=12000, dp_pretrain_steps=400, dp_batch_size=128, dp_lr=2e-3, dp_steps=250,
                  # Notebook 07 within its 90 minutes: primitives-ps-selected is left out (it ran at this preset
                  # in v1 of figures/dp_design.json) and FID/KID score 300 of each run's 500 samples (benchmarks/
                  # results/stage_times.csv: a DP-GAN run about 450 s, a DP diffusion run about 250 s, 60 s of it FID
                  # of 500 images; the classifier trained on all 500, as before, keeps the gate's baseline).
                  dp_delta=1e-5, dp_sources=("none", "primitives-ps", "natural-patches", "natural-patches-selected"),
                  dp_epsilons=(1.0, 10.0), dp_seeds=3, dp_samples=500, dp_fid_samples=300, dp_sample_steps=20,
                  dp_classifier_epochs=5, dp_mia_queries=500, dp_gan_epsilons=(10.0,), dp_gan_steps=150,
                  many_classes_classes=200, many_classes_per_class=10, many_classes_iterations=200, many_classes_transfer_steps=300, many_classes_evals=2,
                  many_classes_seeds=3, many_classes_fid_samples=300, many_classes_intra_classes=4, many_classes_intra_samples=30,
                  many_classes_fashion_per_class=100),
    "gpu": Preset("gpu", notebook_timeout_s=4 * 3600, patch_sizes=(32, 64, 256), patches_per_size=20000,
                  reference_images=2048, reference_size=256,
                  synth_resolutions=(32, 256), synth_images=2048, coverage_images=100000, fidelity_images=2000,
                  train_resolution=64, architecture="resnet", base_channels=64, batch_size=64, pretrain_iterations=50000,
                  transfer_iterations=10000, pretrain_evals=10, transfer_evals=10, transfer_seeds=5,
                  fid_samples=10000, decisive_units=(5, 3, 5), ladder_units=4, knob_units=2, knobs=5,
                  dp_channels=64, dp_pool_size=100000, dp_pretrain_steps=20000, dp_batch_size=1024, dp_lr=1e-3, dp_steps=3000,
                  dp_delta=1e-5,
                  dp_sources=("none", "primitives-ps", "natural-patches", "primitives-ps-selected", "natural-patches-selected"),
                  dp_epsilons=(1.0, 10.0), dp_seeds=3, dp_samples=2000, dp_fid_samples=2000, dp_sample_steps=50,
                  dp_classifier_epochs=20, dp_mia_queries=1000, dp_gan_epsilons=(1.0, 10.0), dp_gan_steps=5000,
                  many_classes_classes=3755, many_classes_per_class=20, many_classes_iterations=30000, many_classes_transfer_steps=5000, many_classes_evals=10,
                  many_classes_seeds=3, many_classes_fid_samples=10000, many_classes_intra_classes=20, many_classes_intra_samples=200,
                  many_classes_fashion_per_class=200),
    # The decisive experiment alone on one H100-class GPU within minutes (scripts/device_study.sh):
    # 64 px, twice the cpu preset's width, thousands of FID samples; notebooks 01-02 sizes as gpu.
    "gpu-short": Preset("gpu-short", notebook_timeout_s=3600, patch_sizes=(32, 64, 256), patches_per_size=20000,
                        reference_images=2048, reference_size=256,
                        synth_resolutions=(32, 256), synth_images=2048, coverage_images=100000, fidelity_images=2000,
                        train_resolution=64, architecture="resnet", base_channels=32, batch_size=64, pretrain_iterations=2000,
                        transfer_iterations=600, pretrain_evals=4, transfer_evals=4, transfer_seeds=3,
                        fid_samples=2000, decisive_units=(5, 3, 5), ladder_units=4, knob_units=2, knobs=5,
                        dp_channels=32, dp_pool_size=50000, dp_pretrain_steps=5000, dp_batch_size=512, dp_lr=1e-3, dp_steps=1000,
                        dp_delta=1e-5,
                        dp_sources=("none", "primitives-ps", "natural-patches", "primitives-ps-selected", "natural-patches-selected"),
                        dp_epsilons=(1.0, 10.0), dp_seeds=3, dp_samples=2000, dp_fid_samples=2000, dp_sample_steps=50,
                        dp_classifier_epochs=10, dp_mia_queries=1000, dp_gan_epsilons=(1.0, 10.0), dp_gan_steps=1000,
                        many_classes_classes=3755, many_classes_per_class=10, many_classes_iterations=3000, many_classes_transfer_steps=1000, many_classes_evals=4,
                        many_classes_seeds=3, many_classes_fid_samples=3755, many_classes_intra_classes=10, many_classes_intra_samples=100,
                        many_classes_fashion_per_class=200),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a clear error for an unknown name."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_table() -> list[dict]:
    """Every preset as a row of plain values (for the README and notebooks)."""
    return [{f.name: getattr(p, f.name) for f in fields(p)} for p in PRESETS.values()]
