"""The result tables of the README and docs/ are generated from the files runs write, and a test keeps
them equal; hand-written prose quotes no measured number."""
import json
import re
import shutil

import pytest

from primps_core import paths
from primps_core.paths import write_csv
from primps_core.study import readme, tables

EXPECTED_BLOCKS = {f"notebook-0{k}" for k in range(1, 7)} | {"notebooks", "timings", "presets", "claims"}


def document(name: str = "README.md") -> str:
    return (paths.ROOT / name).read_text()


def test_every_generated_table_of_every_document_equals_what_the_files_give():
    names = {match.group("name") for name in readme.DOCUMENTS for match in readme.BLOCK.finditer(document(name))}
    assert EXPECTED_BLOCKS <= names
    assert {"notebooks", "timings", "claims"} <= {match.group("name") for match in readme.BLOCK.finditer(document())}
    assert {name: readme.stale_blocks(document(name)) for name in readme.DOCUMENTS} == {
        name: [] for name in readme.DOCUMENTS}, "run `primps readme`"


def test_a_number_changed_by_hand_in_the_figures_makes_the_readme_stale_until_it_is_regenerated(tmp_path):
    figures = tmp_path / "figures"
    shutil.copytree(paths.FIGURES_DIR, figures)
    rows = tables.csv_rows(figures / "transfer.csv")
    last = max(range(len(rows)), key=lambda k: (rows[k]["target"] == "faces-100", rows[k]["init"] == "scratch",
                                                 rows[k]["iters"]))
    rows[last]["fid"] += 30.0                            # a final faces-100 scratch FID
    write_csv(figures / "transfer.csv", rows)
    text = document("docs/results.md")
    assert readme.stale_blocks(text, figures) == ["notebook-04"]
    regenerated = readme.render(text, figures)
    assert readme.stale_blocks(regenerated, figures) == []
    assert regenerated != text and readme.render(regenerated, figures) == regenerated


def test_blocks_render_from_their_files_and_unknown_ones_fail_clearly(tmp_path):
    text = "intro\n<!-- generated: presets -->\nold\n<!-- end: presets -->\noutro\n"
    rendered = readme.render(text, tmp_path, paths.ROOT)
    assert rendered.startswith("intro\n<!-- generated: presets -->\n| preset |")
    assert rendered.endswith("<!-- end: presets -->\noutro\n")
    for preset in ("`smoke`", "`cpu`", "`gpu`"):
        assert preset in rendered
    with pytest.raises(ValueError, match="unknown generated block 'notebook-09'"):
        readme.render("<!-- generated: notebook-09 -->\n<!-- end: notebook-09 -->", tmp_path, paths.ROOT)
    with pytest.raises(ValueError, match="include only benchmarks/results"):
        readme.render("<!-- generated: include pyproject.toml -->\n<!-- end: include pyproject.toml -->",
                      tmp_path, paths.ROOT)


def test_the_readme_command_checks_and_rewrites(tmp_path, capsys):
    from primps_core.__main__ import main
    assert main(["readme", "--check"]) == 0
    written = capsys.readouterr()
    assert json.loads(written.out) == {"check": True, "stale": []} and "up to date" in written.err


def test_number_formats():
    assert tables.plus_minus(318.2449, 8.61, 1) == "318.2 ± 8.6"
    assert tables.plus_minus(2.5, float("nan")) == "2.50"
    assert tables.number(float("nan")) == "n/a" and tables.number(25600, 0) == "25,600"
    assert tables.percent(0.3084, 1) == "30.8%"
    assert tables.markdown([{"a": 1, "b": "x"}]) == "| a | b |\n|---|---|\n| 1 | x |"


# Decimal numbers and percentages that hand-written prose may quote: design constants, analytic
# values, versions and tolerances, never measurements (those belong in generated tables).
DESIGN_NUMBERS = {
    "0.05", "0.35",            # the fitting band of every spectral slope (eval.spectrum.DEFAULT_BAND)
    "0.1",                     # cycles/pixel where spectra are aligned; the Monte-Carlo percentile
    "0.5", "3.5",              # chance AUC; the published alpha range U[0.5, 3.5]
    "0.25",                    # the smallest two-sided sign-test p with 3 pairs
    "0.69", "1.39",            # log 2 and 2 log 2: the losses at the GAN equilibrium
    "0.002", "0.99",           # Adam learning rate and beta2 of the recipe
    "0.0002",                  # StyleGAN2-ADA's R1 heuristic, 0.0002 R^2 / batch
    "2.13", "3.11", "16.0",    # torch, Python and emoji-datasource versions
    "16.04", "20.04",          # in the names of the Debian packages lomiri-wallpapers-16.04 and -20.04
    "2.0", "2.1", "3.0", "4.0",  # licence versions (CC-BY-2.0, LGPL-2.1, CC-BY-SA-3.0/4.0)
    "1e-4", "1e-5",            # tolerances the tests check
    "1%", "10%", "95%",        # the FPR levels of the attack tables; the interval level
    "4%",                      # one false positive among 25 non-members
    "15%", "30%", "50%",       # the paper's salient-object coverage (about 30%, 15-50%)
    "70%",                     # the share of classes that keep their HQ images in notebook 08 (hq-70)
    "0.01",                    # the significance level of the comparison with the official code; design 4's
    "0.005",                   # pretraining and convergence gate tolerances (study.decisive.GATE_RULES)
}
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?:e-?\d+)?%?|(?<![\w.])\d+(?:\.\d+)?%|(?<![\w.])\de-\d+")


def prose_numbers(text: str) -> set[str]:
    """Decimals and percentages of hand-written text: outside generated blocks, code and file names."""
    text = readme.BLOCK.sub("", text)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)                     # code first: a file name may open with its backtick
    text = re.sub(r"\S+\.(?:png|csv|json|md|py)\b", "", text)
    text = re.sub(r"\b\d+\.\d+\.\d+\b", "", text)          # package versions such as 0.22.2
    return set(NUMBER.findall(text))


def test_prose_quotes_no_measured_number():
    notebooks = sorted((paths.NOTEBOOKS_DIR).glob("[0-9][0-9]_*.ipynb"))
    texts = {name: document(name) for name in readme.DOCUMENTS}
    texts.update({path.name: "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]
                                       if cell["cell_type"] == "markdown") for path in notebooks})
    found = {name: sorted(prose_numbers(text) - DESIGN_NUMBERS) for name, text in texts.items()}
    assert not any(found.values()), (f"numbers typed into prose: {found}; put measurements in a generated table "
                                     f"(key_tables) or, for a design constant, add it to DESIGN_NUMBERS with its reason")


def test_the_prose_check_finds_a_measurement():
    assert prose_numbers("FID fell to 318.2 (`x = 2.5`) at 42% <!-- generated: a -->\n0.7\n<!-- end: a -->") == {
        "318.2", "42%"}


MACHINE = {"date": "2026-01-01 00:00 UTC", "cpu": "a CPU", "cores": 2, "torch_threads": 2, "matmul_gflops": 100.0,
           "fft_per_s": 1000.0}


def test_the_timings_total_sums_every_notebook_and_is_shown_only_when_each_has_a_time_from_empty(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("01_first", "02_second"):
        (notebooks / f"{name}.ipynb").write_text("{}")

    def timings(entries: dict) -> str:
        (tmp_path / "reproduce.json").write_text(json.dumps({"preset": "cpu", "notebooks": entries}))
        return readme.timings_block(tmp_path, notebooks)

    first = {"seconds": 60.0, **MACHINE}
    only_first = timings({"01_first": first})
    assert "all from an empty runs/ |" not in only_first
    assert only_first.endswith("*No total: not every notebook of `notebooks/` has a time from an empty runs/. "
                               "No canonical run recorded for 02_second.*")
    resumed = timings({"01_first": first, "02_second": {"seconds": 120.0, "from_empty": False, **MACHINE}})
    assert "all from an empty runs/ |" not in resumed and "No total" in resumed and "No canonical run" not in resumed
    whole = timings({"00_renamed": {"seconds": 999.0, **MACHINE}, "01_first": first,
                     "02_second": {"seconds": 120.0, **MACHINE}})      # a notebook no longer in notebooks/: not summed
    assert whole.rstrip().endswith("| all from an empty runs/ | 3 min |  |  |  |  |  |  |") and "No " not in whole and "| not recorded |" in whole


def notebook(path, title: str) -> None:
    cells = [{"cell_type": "code", "source": ["preset = 'smoke'"]},
             {"cell_type": "markdown", "source": [f"{title}\n", "\n", "What it asks.\n"]}]
    path.write_text(json.dumps({"cells": cells}))


def test_the_notebooks_block_counts_every_notebook_with_its_title_and_its_section_of_the_results(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "docs").mkdir()
    notebook(tmp_path / "notebooks" / "01_first.ipynb", "# 01 · The first question?")
    notebook(tmp_path / "notebooks" / "02_second.ipynb", "# 02 · The second")
    notebook(tmp_path / "notebooks" / "03_third.ipynb", "# 03 · The third")
    (tmp_path / "docs" / "results.md").write_text("# Results\n\n## Notebooks 01 and 03 — the first, and the third\n\n"
                                                  "## Targets and metrics\n")
    text = readme.block("notebooks", tmp_path / "figures", tmp_path)
    assert text.startswith("*The 3 notebooks of `notebooks/`")
    assert text.count("\n| `0") == 3
    section = "[results](docs/results.md#notebooks-01-and-03--the-first-and-the-third)"
    assert f"| `01_first` | The first question? | {section} |" in text
    assert "| `02_second` | The second | in the notebook |" in text
    assert f"| `03_third` | The third | {section} |" in text


def test_the_claims_block_names_each_registered_claim_without_a_verdict(tmp_path):
    shutil.copy(paths.FIGURES_DIR / "design.json", tmp_path / "design.json")
    lines = (paths.FIGURES_DIR / "claims.csv").read_text().splitlines()
    (tmp_path / "claims.csv").write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.startswith("1,")])
                                         + "\n")
    text = readme.block("claims", tmp_path, paths.ROOT)
    (line,) = [line for line in text.splitlines() if line.startswith("*No verdict")]
    assert "claim 2 (" in line and "claim 3 (" in line and "claim 1 (" not in line
    shutil.copy(paths.FIGURES_DIR / "claims.csv", tmp_path / "claims.csv")
    decided = {line.split(",")[0] for line in lines[1:]}
    assert ("*No verdict" in readme.block("claims", tmp_path, paths.ROOT)) == (decided != {"1", "2", "3"})


def test_an_include_whose_benchmark_has_not_run_names_the_benchmark_and_a_typo_still_fails(tmp_path):
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "horizon.py").write_text("")
    assert readme.block("include benchmarks/results/horizon.md", tmp_path, tmp_path) == (
        "*Not run yet: `benchmarks/horizon.py` writes `benchmarks/results/horizon.md`.*")
    with pytest.raises(FileNotFoundError):
        readme.block("include benchmarks/results/horizn.md", tmp_path, tmp_path)
