"""The pre-registered design of the decisive transfer experiment (notebooks 04-05): ``figures/design.json``.

Written before any run of the experiment is scored. It is changed only by appending a new, dated
version that says why; earlier versions stay in the file as they were (a test pins version 1).
The numbers it names (seeds per arm, the margin, the gate thresholds, the level) are the ones
the claims engine (``eval.claims``) and ``study.decisive`` apply; ``check_matches_code`` ties them
together. Notebooks 03-05 share it.

    python -m primps_core.study.design      # rewrites figures/design.json from VERSIONS
"""
from __future__ import annotations

from ..eval import claims
from ..paths import FIGURES_DIR
from ..presets import get_preset

VERSION_1 = {
    "version": 1,
    "date": "2026-11-27",
    "why": "first registration, before any run of the decisive experiment is scored",
    "claims": [
        {"id": 1, "notebook": "04", "claim": "Primitives-PS pretraining beats training from scratch",
         "treatment": "primitives-ps", "control": "scratch", "kind": "superiority"},
        {"id": 2, "notebook": "04", "claim": "Primitives-PS pretraining matches or beats natural-image pretraining",
         "treatment": "primitives-ps", "control": "natural-patches", "kind": "non-inferiority",
         "margin": "0.1 x the control's mean final KID (a tenth of its score, in KID units)"},
        {"id": 3, "notebook": "05", "claim": "each component of Primitives-PS helps",
         "ladder": ["ps-noise", "primitives", "primitives-s", "primitives-ps"],
         "kind": "superiority of each rung over the one before it; holds only if every rung holds"},
    ],
    "primary_outcome": ("KID (mean over its subsets) of N generated samples against the whole target, "
                        "at the last evaluation of fine-tuning; N equal for every arm (the preset's fid_samples)"),
    "secondary_outcomes": ["FID at the same N", "the best evaluation of each run, reported and never used to select"],
    "unit_of_replication": ("the pretraining seed: each pretraining run is fine-tuned once per target; scratch: one "
                            "init seed per run; fine-tuning seeds are secondary"),
    "replication": {"primitives-ps": 4, "scratch": 4, "natural-patches": 2, "ablation rungs": 2},
    "targets": {"primary": "the colour photo targets (at least two, each of at least 100 photos of one kind)",
                "secondary": ["faces-100", "fashion-sneakers-100", "emoji-animals", "emoji-food"]},
    "test": ("two-sided exact permutation test of the difference of mean final KID between arms over their units, "
             "per target (p: the share of all relabellings whose |difference| is at least the observed one); its 95% "
             "interval by Welch's t; level 0.05, Holm-adjusted over the primary targets of a claim"),
    "gates": {
        "pretraining": ("every pretraining run of the claim's pretrained arms has learned its source: its KID against "
                        "held-out source images at the last evaluation is at or below its KID at one third of the run"),
        "convergence": ("scratch has plateaued on the target: on its mean curve over init seeds, the last third of "
                        "fine-tuning brought at most 0.1 of the improvement from the first evaluation to the end, "
                        "or the curve rose there"),
    },
    "verdicts": {
        "holds": "both gates pass and the test shows the claimed direction (superiority: p < 0.05 after Holm; "
                 "non-inferiority: the upper end of the 95% interval below the margin) on every primary target",
        "does not hold": "both gates pass and the test does not show it on some primary target",
        "untested at this scale": "a gate fails on some primary target: no verdict is given, never 'fails'",
    },
}
VERSION_2 = {
    **VERSION_1,
    "version": 2,
    "date": "2026-11-27",
    "why": ("a check of the verdict rule on constructed curves (tests/test_decisive.py), before any run of the "
            "experiment was scored, found that version 1 could never find superiority: with 4 units per arm the "
            "smallest two-sided exact permutation p is 2/70, and Holm over the two primary targets doubles it to "
            "about 0.057, above the level. Five units per arm make the smallest adjusted p 4/252. Natural-image "
            "pretraining gets 3 units (2 leave Welch's interval about one degree of freedom). The targets are "
            "named: the primary ones are the two colour photo targets built for it, and the secondary list used a "
            "wrong name for sneakers-100"),
    "replication": {"primitives-ps": 5, "scratch": 5, "natural-patches": 3, "ablation rungs": 2},
    "targets": {"primary": ["landscapes", "galaxies"],
                "secondary": ["faces-100", "sneakers-100", "emoji-animals", "emoji-food"]},
}
VERSION_3 = {
    **VERSION_2,
    "version": 3,
    "date": "2026-11-27",
    "why": ("before any run of the experiment was scored: version 2 replicated each rung of claim 3's ladder twice, "
            "so the smallest two-sided exact permutation p of a rung against the one before it was 1/3 and claim 3 "
            "could never hold. The ladder is now run on the first primary target only (landscapes), with 4 "
            "pretraining seeds for each of ps-noise, primitives and primitives-s and the central comparison's 5 "
            "for primitives-ps: the smallest p of a rung is then 2/70 (4 against 4) or 1/126 (5 against 4), under the level. Its rungs need no "
            "multiplicity adjustment: the claim holds only if every rung holds. The knobs of primitives-ps are "
            "descriptive, not a claim"),
    "claims": [
        *VERSION_2["claims"][:2],
        {"id": 3, "notebook": "05", "claim": "each component of Primitives-PS helps",
         "ladder": ["ps-noise", "primitives", "primitives-s", "primitives-ps"], "target": "landscapes",
         "kind": ("superiority of each rung over the one before it on the target (exact permutation test at the "
                  "level, unadjusted); holds only if every rung holds")},
    ],
    "replication": {"primitives-ps": 5, "scratch": 5, "natural-patches": 3, "ablation rungs": 4},
    "gates": {
        **VERSION_2["gates"],
        "claim 3": ("the pretraining gate on every pretraining run of the four rungs; the convergence gate of scratch "
                    "on the ladder's target"),
    },
}
VERSIONS = (VERSION_1, VERSION_2, VERSION_3)


def check_matches_code(version: dict) -> None:
    """The numbers ``version`` states are the ones the code applies: the engine's level and plateau
    fraction, notebook 04's margin, and at least as many units per arm in every preset that gives
    verdicts (cpu, gpu)."""
    from .decisive import MARGIN_FRACTION
    if claims.ALPHA != 0.05 or claims.PLATEAU_FRACTION != 0.1 or MARGIN_FRACTION != 0.1:
        raise ValueError("the engine's level or plateau fraction, or notebook 04's margin, differs from the "
                         "registered design")
    if version["replication"]["primitives-ps"] < 4 or version["replication"]["scratch"] < 4:
        raise ValueError("the central comparison needs at least 4 units per arm")
    wanted = tuple(version["replication"][arm] for arm in ("primitives-ps", "natural-patches", "scratch"))
    for preset in ("cpu", "gpu"):
        sizes = get_preset(preset)
        if any(have < need for have, need in zip(sizes.decisive_units, wanted)):
            raise ValueError(f"preset {preset} replicates the arms {sizes.decisive_units} times, "
                             f"fewer than the design's {wanted}")
        if sizes.ladder_units < version["replication"]["ablation rungs"]:
            raise ValueError(f"preset {preset} replicates the ladder's rungs {sizes.ladder_units} times, fewer "
                             f"than the design's {version['replication']['ablation rungs']}")


DESIGN = claims.Registry("design.json", VERSIONS, check_matches_code)


if __name__ == "__main__":
    print(f"wrote {DESIGN.write(FIGURES_DIR)}")
