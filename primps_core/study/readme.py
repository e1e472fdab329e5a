"""The README's generated blocks and its recipes.

    python -m primps_core readme            # rewrite the generated blocks of README.md and docs/*.md
    python -m primps_core readme --check    # exit 1, naming the stale blocks, if a document is out of date

The documents are ``DOCUMENTS``: the front page (README.md) and the pages of ``docs/``. A block is
the text between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``; everything else is
written by hand and stays qualitative. NAME is one of:

- ``notebook-01`` .. ``notebook-08``: that notebook's key tables (``key_tables`` of its study
  module, read from ``figures/``), the same tables the notebook prints in its last cell;
- ``timings``: the wall time of each notebook from ``figures/reproduce.json``, whether its run
  started from an empty ``runs/``, with the CPU and the matmul and FFT rates measured in the same run;
- ``presets``: the sizes of every preset, from ``presets.py``;
- ``include benchmarks/results/FILE.md``: a benchmark's result file, without its title.

``tests/test_readme.py`` fails when a block differs from what the files give.

A recipe is a ``bash`` code block of the front page right after ``<!-- recipe: NAME -->``. Its
first line sets its variables as a user runs it (the canonical sizes) and ends with a comment
``# smoke: VAR=VALUE ...`` naming the values of a quick check (``# smoke: as written`` when there
is nothing to shrink); ``recipes`` reads them, so a test
runs every recipe as written at the smoke values and ``benchmarks/recipes.py`` times both.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..presets import PRESETS
from . import (ablations, ctf, decisive, dp_synthesis, pretraining, privacy, spectrum_analysis, synthesizer,
               tables, transfer)

NOTEBOOKS = {"01": spectrum_analysis, "02": synthesizer, "03": pretraining, "04": transfer, "05": ablations,
             "06": privacy, "07": dp_synthesis, "08": ctf}
BLOCK = re.compile(r"(<!-- generated: (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)
README = "README.md"
DOCUMENTS = (README, "docs/results.md", "docs/reference.md", "docs/data.md")
RECIPE = re.compile(r"<!-- recipe: (?P<name>[\w-]+) -->\n```bash\n(?P<code>.*?)```", re.S)


def notebook_block(number: str, figures_dir: Path) -> str:
    """The key tables of notebook ``number`` as captioned markdown tables."""
    return key_tables_block(NOTEBOOKS[number].key_tables, figures_dir)


def key_tables_block(key_tables, figures_dir: Path) -> str:
    """``key_tables(figures_dir)`` as captioned markdown tables; a line saying so when the canonical
    run has not written their files yet."""
    try:
        found = key_tables(figures_dir)
    except FileNotFoundError as missing:
        return (f"*Not yet run at the current design: `{Path(missing.filename).name}` is missing from "
                f"`figures/` (`make reproduce` writes it).*")
    return "\n\n".join(f"*{caption}*\n\n{tables.markdown(rows)}" for caption, rows in found.items())


def timings_block(figures_dir: Path) -> str:
    """One row per notebook of the canonical run's ``reproduce.json``, and their total."""
    record = tables.read_json(Path(figures_dir) / "reproduce.json")
    rows = [{"notebook": name, "wall time": duration(entry["seconds"]), "recorded": entry["date"],
             "from an empty runs/": "yes" if entry.get("from_empty", True) else "no: resumed, stages loaded",
             "CPU": f"{entry['cpu']}, {entry['cores']} cores, {entry['torch_threads']} torch threads",
             "matmul GFLOP/s": tables.number(entry["matmul_gflops"], 0),
             "256 px FFTs/s": tables.number(entry["fft_per_s"], 0)}
            for name, entry in record["notebooks"].items()]
    fresh = [entry["seconds"] for entry in record["notebooks"].values() if entry.get("from_empty", True)]
    rows.append({"notebook": "all from an empty runs/", "wall time": duration(sum(fresh)), "recorded": "",
                 "from an empty runs/": "", "CPU": "", "matmul GFLOP/s": "", "256 px FFTs/s": ""})
    return f"*Preset `{record['preset']}`, from `figures/reproduce.json`*\n\n{tables.markdown(rows)}"


def duration(seconds: float) -> str:
    """``seconds`` as "1 h 20 min 05 s", "4 min 19 s", "10 min" or "42 s"."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes or hours else [])
    return " ".join(parts + ([f"{seconds:02d} s" if parts else f"{seconds} s"] if seconds or not parts else []))


def presets_block() -> str:
    """The sizes of every preset, four tables: measurement (notebooks 01-02), training (03-06), DP
    synthesis (07) and many classes (08)."""
    measuring = [{"preset": f"`{p.name}`", "crops per size (01)": tables.number(p.patches_per_size, 0),
                  "reference noise images (01)": f"{p.reference_images:,} at {p.reference_size} px",
                  "images per setting (02)": f"{p.synth_images:,} at {' and '.join(map(str, p.synth_resolutions))} px",
                  "coverage sample (02)": tables.number(p.coverage_images, 0),
                  "per side against the official code (02)": tables.number(p.fidelity_images, 0),
                  "cell timeout": duration(p.notebook_timeout_s)} for p in PRESETS.values()]
    training = [{"preset": f"`{p.name}`", "resolution": p.train_resolution, "architecture": p.architecture,
                 "base channels": p.base_channels,
                 "batch": p.batch_size, "pretraining iterations (evaluations)": f"{p.pretrain_iterations:,} ({p.pretrain_evals})",
                 "transfer iterations (evaluations)": f"{p.transfer_iterations:,} ({p.transfer_evals})",
                 "seeds": p.transfer_seeds, "samples per FID/KID": f"{p.fid_samples:,}",
                 "decisive units (Primitives-PS / natural / scratch)": " / ".join(map(str, p.decisive_units)),
                 "units per ladder rung / knob (knobs)": f"{p.ladder_units} / {p.knob_units} ({p.knobs})"}
                for p in PRESETS.values()]
    private = [{"preset": f"`{p.name}`", "diffusion sources": f"{len(p.dp_sources)} of {len(dp_synthesis.SOURCES)}",
                "UNet width": p.dp_channels, "pool images": tables.number(p.dp_pool_size, 0),
                "pretraining steps": tables.number(p.dp_pretrain_steps, 0), "batch": p.dp_batch_size,
                "DP-SGD steps": tables.number(p.dp_steps, 0), "epsilons (delta)": f"{', '.join(f'{e:g}' for e in p.dp_epsilons)} "
                                                                                   f"({p.dp_delta:g})",
                "seeds": p.dp_seeds, "samples per run (DDIM steps)": f"{p.dp_samples:,} ({p.dp_sample_steps})",
                "FID/KID samples": tables.number(p.dp_fid_samples, 0),
                "classifier epochs": p.dp_classifier_epochs, "membership queries": f"{p.dp_mia_queries:,} + {p.dp_mia_queries:,}",
                "GAN: DP steps (epsilons)": f"{p.dp_gan_steps:,} ({', '.join(f'{e:g}' for e in p.dp_gan_epsilons)})"}
               for p in PRESETS.values()]
    many = [{"preset": f"`{p.name}`", "classes": tables.number(p.ctf_classes, 0), "HQ images per class": p.ctf_per_class,
             "iterations (evaluations)": f"{p.ctf_iterations:,} ({p.ctf_evals})",
             "transfer steps": tables.number(p.ctf_transfer_steps, 0), "seeds": p.ctf_seeds,
             "FID samples": tables.number(p.ctf_fid_samples, 0),
             "intra-class FID": f"{p.ctf_intra_classes} classes x {p.ctf_intra_samples}"} for p in PRESETS.values()]
    return "\n\n".join(tables.markdown(rows) for rows in (measuring, training, private, many))


def include_block(relative: str, root: Path) -> str:
    """A result file of ``benchmarks/results/`` as it is, without its ``#`` title line."""
    path = (root / relative).resolve()
    if path.parent != (root / "benchmarks" / "results").resolve() or path.suffix != ".md":
        raise ValueError(f"README blocks include only benchmarks/results/*.md, not {relative}")
    lines = path.read_text().strip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()


def block(name: str, figures_dir: Path, root: Path) -> str:
    """The text of the generated block ``name``; one clear error for an unknown name."""
    if name.startswith("notebook-") and name[len("notebook-"):] in NOTEBOOKS:
        return notebook_block(name[len("notebook-"):], figures_dir)
    if name == "claims":
        return key_tables_block(decisive.key_tables, figures_dir)
    if name == "timings":
        return timings_block(figures_dir)
    if name == "presets":
        return presets_block()
    if name.startswith("include "):
        return include_block(name[len("include "):], root)
    raise ValueError(f"unknown generated block {name!r}: expected notebook-01 .. notebook-08, claims, timings, presets "
                     f"or 'include benchmarks/results/FILE.md'")


def render(text: str, figures_dir: Path | None = None, root: Path | None = None) -> str:
    """``text`` with every generated block rewritten from the files."""
    figures_dir, root = Path(figures_dir or paths.FIGURES_DIR), Path(root or paths.ROOT)
    return BLOCK.sub(lambda m: f"{m.group(1)}{block(m.group('name'), figures_dir, root)}\n{m.group(4)}", text)


def _changed(text: str, rendered: str) -> list[str]:
    now = {m.group("name"): m.group("body") for m in BLOCK.finditer(text)}
    fresh = {m.group("name"): m.group("body") for m in BLOCK.finditer(rendered)}
    return [name for name in now if now[name] != fresh[name]]


def stale_blocks(text: str, figures_dir: Path | None = None, root: Path | None = None) -> list[str]:
    """Names of the blocks of ``text`` that differ from what the files give."""
    return _changed(text, render(text, figures_dir, root))


def update(check: bool = False, root: Path | None = None) -> list[str]:
    """Rewrite the generated blocks of every document of ``DOCUMENTS`` (or with ``check`` only list
    the stale ones); the stale blocks as "DOCUMENT: NAME"."""
    root = Path(root or paths.ROOT)
    stale = []
    for name in DOCUMENTS:
        path = root / name
        text = path.read_text()
        rendered = render(text, root=root)
        changed = _changed(text, rendered)
        stale += [f"{name}: {block_name}" for block_name in changed]
        if changed and not check:
            paths.atomic_write(path, lambda temporary: Path(temporary).write_text(rendered))
    return stale


@dataclass(frozen=True)
class Recipe:
    """A recipe of the front page: its name, its variables as written and at smoke size, its commands."""
    name: str
    variables: dict
    smoke: dict
    commands: str

    def script(self, smoke: bool = False) -> str:
        """The recipe as a bash script: as written, or with the smoke values of its variables."""
        values = {**self.variables, **self.smoke} if smoke else self.variables
        assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in values.items())
        return f"set -euo pipefail\n{assignments}\n{self.commands}"


def recipes(text: str) -> dict[str, Recipe]:
    """Every recipe of ``text`` (see the module docstring), by name; one clear error for a recipe
    whose first line does not set its variables with a ``# smoke:`` comment."""
    found = {}
    for match in RECIPE.finditer(text):
        first, _, commands = match.group("code").partition("\n")
        assignments, marker, smoke = first.partition("# smoke:")
        smoke = "" if smoke.strip() == "as written" else smoke
        variables, smoke_values = (_assignments(part, match.group("name")) for part in (assignments, smoke))
        if not marker or not variables or not set(smoke_values) <= set(variables):
            raise ValueError(f"recipe {match.group('name')!r}: its first line must set its variables and end with "
                             f"'# smoke: VAR=VALUE ...' (or '# smoke: as written'), not {first!r}")
        found[match.group("name")] = Recipe(match.group("name"), variables, smoke_values, commands)
    return found


def _assignments(text: str, recipe: str) -> dict:
    words = shlex.split(text)
    if not all("=" in word for word in words):
        raise ValueError(f"recipe {recipe!r}: expected VAR=VALUE assignments, got {text.strip()!r}")
    return dict(word.split("=", 1) for word in words)
