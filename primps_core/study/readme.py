"""The README's generated blocks and its recipes.

    python -m primps_core readme            # rewrite the generated blocks of README.md and docs/*.md
    python -m primps_core readme --check    # exit 1, naming the stale blocks, if a document is out of date

The documents are ``DOCUMENTS``: the front page (README.md) and the pages of ``docs/``. A block is
the text between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``; everything else is
written by hand and stays qualitative. NAME is one of:

- ``notebook-01`` .. ``notebook-08``: that notebook's key tables (``key_tables`` of its study
  module, read from ``figures/``), the same tables the notebook prints in its last cell;
- ``claims``: the claims table of ``figures/claims.csv``, and a line naming each claim of the
  design in force (``figures/design.json``) that has no row there yet;
- ``notebooks``: every notebook of ``notebooks/`` (so their number is counted, never typed), its
  title (the notebook's first heading) and its section of ``docs/results.md``, for the front page;
- ``timings``: the wall time of each notebook from ``figures/reproduce.json``, whether its run
  started from an empty ``runs/``, with the CPU and the matmul and FFT rates measured in the same run;
  their total only when every notebook of ``notebooks/`` has a from-empty time, and a line naming
  the notebooks with no canonical run recorded;
- ``presets``: the sizes of every preset, from ``presets.py``;
- ``include benchmarks/results/FILE.md``: a benchmark's result file, without its title; while the
  file is missing, a line naming the benchmark (``benchmarks/FILE.py``) that writes it.

``tests/test_readme.py`` fails when a block differs from what the files give.

A recipe is a ``bash`` code block of the front page right after ``<!-- recipe: NAME -->``. Its
first line sets its variables as a user runs it (the canonical sizes) and ends with a comment
``# smoke: VAR=VALUE ...`` naming the values of a quick check (``# smoke: as written`` when there
is nothing to shrink); ``recipes`` reads them, so a test
runs every recipe as written at the smoke values and ``benchmarks/recipes.py`` times both.
"""
from __future__ import annotations

import csv
import importlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..presets import PRESETS
from . import decisive, dp_stages, reproduce, tables

# Each notebook NN_<name>.ipynb has its study module study/<name>.py (tests/test_study_shape.py).
NOTEBOOKS = {notebook.stem[:2]: notebook.stem[3:] for notebook in reproduce.find_notebooks(paths.NOTEBOOKS_DIR)}
BLOCK = re.compile(r"(<!-- generated: (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)
README = "README.md"
DOCUMENTS = (README, *sorted(f"docs/{page.name}" for page in (paths.ROOT / "docs").glob("*.md")))
RECIPE = re.compile(r"<!-- recipe: (?P<name>[\w-]+) -->\n```bash\n(?P<code>.*?)```", re.S)


def notebook_block(number: str, figures_dir: Path) -> str:
    """The key tables of notebook ``number`` as captioned markdown tables."""
    module = importlib.import_module(f"{__package__}.{NOTEBOOKS[number]}")
    return key_tables_block(module.key_tables, figures_dir)


def key_tables_block(key_tables, figures_dir: Path) -> str:
    """``key_tables(figures_dir)`` as captioned markdown tables; a line saying so when the canonical
    run has not written their files yet."""
    try:
        found = key_tables(figures_dir)
    except FileNotFoundError as missing:
        return (f"*Not yet run at the current design: `{Path(missing.filename).name}` is missing from "
                f"`figures/` (`make reproduce` writes it).*")
    return "\n\n".join(f"*{caption}*\n\n{tables.markdown(rows)}" for caption, rows in found.items())


def claims_block(figures_dir: Path) -> str:
    """The claims table (``decisive.key_tables``), then a line naming each claim of the design in
    force (``design.json`` beside ``claims.csv``) that ``claims.csv`` has no row for."""
    text = key_tables_block(decisive.key_tables, figures_dir)
    design_path, claims_path = Path(figures_dir) / "design.json", Path(figures_dir) / decisive.FILES["claims"]
    if not design_path.is_file() or not claims_path.is_file():
        return text
    design = tables.read_json(design_path)
    (in_force,) = [version for version in design["versions"] if version["version"] == design["in_force"]]
    with open(claims_path, newline="") as handle:
        decided = {row["claim"] for row in csv.DictReader(handle)}
    undecided = [claim for claim in in_force["claims"] if str(claim["id"]) not in decided]
    if undecided:
        names = "; ".join(f"claim {claim['id']} ({claim['claim']}, notebook {claim['notebook']})"
                          for claim in undecided)
        text += f"\n\n*No verdict in `figures/claims.csv` yet for {names}.*"
    return text


def anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation other than - and _ dropped,
    spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def notebook_title(path: Path) -> str:
    """A notebook's title: its first ``# `` heading, without the ``NN · `` that numbers it."""
    for cell in json.loads(Path(path).read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return re.sub(r"^\d+\s*·\s*", "", line[2:].strip())
    raise ValueError(f"notebook {Path(path).name} has no '# ' title in a markdown cell")


def results_sections(results: Path) -> dict[str, str]:
    """The anchor of the section of ``results`` (docs/results.md) that shows each notebook, by its
    number: a level-2 heading "Notebook 01 — ..." or "Notebooks 03 and 04 — ..." names them before its dash."""
    found = {}
    for heading in re.findall(r"^## (Notebooks? .+)$", Path(results).read_text(), flags=re.M):
        for number in re.findall(r"\b\d\d\b", heading.split("—")[0]):
            found.setdefault(number, anchor(heading))
    return found


def notebooks_block(root: Path) -> str:
    """Every notebook of ``root/notebooks`` in the order ``make reproduce`` runs them: its title and
    a link (from the front page) to its section of ``docs/results.md``."""
    notebooks = reproduce.find_notebooks(Path(root) / "notebooks")
    sections = results_sections(Path(root) / "docs" / "results.md")
    rows = [{"notebook": f"`{path.stem}`", "subject": notebook_title(path),
             "figures and tables": (f"[results](docs/results.md#{sections[path.name[:2]]})"
                                    if path.name[:2] in sections else "in the notebook")} for path in notebooks]
    return (f"*The {len(rows)} notebooks of `notebooks/`, in the order `make reproduce` runs them; each title "
            f"is the notebook's own*\n\n{tables.markdown(rows)}")


def timings_block(figures_dir: Path, notebooks_dir: Path | None = None) -> str:
    """One row per notebook of the canonical run's ``reproduce.json``, with whether its figures are
    current (``reproduce.currency``: every file its kernel loaded unchanged); their total only when
    every notebook of ``notebooks_dir`` (default ``notebooks/``) has a from-empty time, and a line
    naming the notebooks with no row."""
    record = tables.read_json(Path(figures_dir) / "reproduce.json")
    expected = [path.stem for path in reproduce.find_notebooks(Path(notebooks_dir or paths.NOTEBOOKS_DIR))]
    rows = [{"notebook": name, "wall time": duration(entry["seconds"]), "recorded": entry["date"],
             "from an empty runs/": "yes" if entry.get("from_empty", True) else "no: resumed, stages loaded",
             "CPU": f"{entry['cpu']}, {entry['cores']} cores, {entry['torch_threads']} torch threads",
             "matmul GFLOP/s": tables.number(entry["matmul_gflops"], 0),
             "256 px FFTs/s": tables.number(entry["fft_per_s"], 0), "code": reproduce.currency(entry)}
            for name, entry in record["notebooks"].items()]
    fresh = {name: entry["seconds"] for name, entry in record["notebooks"].items() if entry.get("from_empty", True)}
    notes = []
    if all(name in fresh for name in expected):
        total = sum(fresh[name] for name in expected)
        rows.append({"notebook": "all from an empty runs/", "wall time": duration(total), "recorded": "",
                     "from an empty runs/": "", "CPU": "", "matmul GFLOP/s": "", "256 px FFTs/s": "", "code": ""})
    else:
        notes.append("No total: not every notebook of `notebooks/` has a time from an empty runs/.")
    missing = [name for name in expected if name not in record["notebooks"]]
    if missing:
        notes.append(f"No canonical run recorded for {', '.join(missing)}.")
    text = f"*Preset `{record['preset']}`, from `figures/reproduce.json`*\n\n{tables.markdown(rows)}"
    return text + (f"\n\n*{' '.join(notes)}*" if notes else "")


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
    private = [{"preset": f"`{p.name}`", "diffusion sources": f"{len(p.dp_sources)} of {len(dp_stages.SOURCES)}",
                "UNet width": p.dp_channels, "pool images": tables.number(p.dp_pool_size, 0),
                "pretraining steps": tables.number(p.dp_pretrain_steps, 0), "batch": p.dp_batch_size,
                "DP-SGD steps": tables.number(p.dp_steps, 0), "epsilons (delta)": f"{', '.join(f'{e:g}' for e in p.dp_epsilons)} "
                                                                                   f"({p.dp_delta:g})",
                "seeds": p.dp_seeds, "samples per run (DDIM steps)": f"{p.dp_samples:,} ({p.dp_sample_steps})",
                "FID/KID samples": tables.number(p.dp_fid_samples, 0),
                "classifier epochs": p.dp_classifier_epochs, "membership queries": f"{p.dp_mia_queries:,} + {p.dp_mia_queries:,}",
                "GAN: DP steps (epsilons)": f"{p.dp_gan_steps:,} ({', '.join(f'{e:g}' for e in p.dp_gan_epsilons)})"}
               for p in PRESETS.values()]
    many = [{"preset": f"`{p.name}`", "classes": tables.number(p.many_classes_classes, 0), "HQ images per class": p.many_classes_per_class,
             "iterations (evaluations)": f"{p.many_classes_iterations:,} ({p.many_classes_evals})",
             "transfer steps": tables.number(p.many_classes_transfer_steps, 0), "seeds": p.many_classes_seeds,
             "FID samples": tables.number(p.many_classes_fid_samples, 0),
             "intra-class FID": f"{p.many_classes_intra_classes} classes x {p.many_classes_intra_samples}"} for p in PRESETS.values()]
    return "\n\n".join(tables.markdown(rows) for rows in (measuring, training, private, many))


def include_block(relative: str, root: Path) -> str:
    """A result file of ``benchmarks/results/`` as it is, without its ``#`` title line."""
    path = (root / relative).resolve()
    if path.parent != (root / "benchmarks" / "results").resolve() or path.suffix != ".md":
        raise ValueError(f"README blocks include only benchmarks/results/*.md, not {relative}")
    if not path.is_file() and (root / "benchmarks" / f"{path.stem}.py").is_file():
        return f"*Not run yet: `benchmarks/{path.stem}.py` writes `{relative}`.*"
    lines = path.read_text().strip().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()


def block(name: str, figures_dir: Path, root: Path) -> str:
    """The text of the generated block ``name``; one clear error for an unknown name."""
    if name.startswith("notebook-") and name[len("notebook-"):] in NOTEBOOKS:
        return notebook_block(name[len("notebook-"):], figures_dir)
    if name == "claims":
        return claims_block(figures_dir)
    if name == "notebooks":
        return notebooks_block(root)
    if name == "timings":
        return timings_block(figures_dir, root / "notebooks")
    if name == "presets":
        return presets_block()
    if name.startswith("include "):
        return include_block(name[len("include "):], root)
    raise ValueError(f"unknown generated block {name!r}: expected notebook-01 .. notebook-08, claims, notebooks, "
                     f"timings, presets or 'include benchmarks/results/FILE.md'")


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
