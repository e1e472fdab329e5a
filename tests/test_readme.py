"""The README's result tables are generated from the files runs write, and a test keeps them equal."""
import shutil

import pytest

from primps_core import paths
from primps_core.paths import write_csv
from primps_core.study import readme, tables

EXPECTED_BLOCKS = {f"notebook-0{k}" for k in range(1, 7)} | {"timings", "presets"}


def readme_text() -> str:
    return (paths.ROOT / "README.md").read_text()


def test_every_generated_table_of_the_readme_equals_what_the_files_give():
    text = readme_text()
    names = {match.group("name") for match in readme.BLOCK.finditer(text)}
    assert EXPECTED_BLOCKS <= names
    assert readme.stale_blocks(text) == [], "run `python -m primps_core readme`"


def test_a_number_changed_by_hand_in_the_figures_makes_the_readme_stale_until_it_is_regenerated(tmp_path):
    figures = tmp_path / "figures"
    shutil.copytree(paths.FIGURES_DIR, figures)
    rows = tables.csv_rows(figures / "transfer.csv")
    last = max(range(len(rows)), key=lambda k: (rows[k]["target"] == "faces-100", rows[k]["init"] == "scratch",
                                                 rows[k]["iters"]))
    rows[last]["fid"] += 30.0                            # a final faces-100 scratch FID
    write_csv(figures / "transfer.csv", rows)
    text = readme_text()
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
    assert main(["readme", "--check"]) == 0 and "up to date" in capsys.readouterr().out


def test_number_formats():
    assert tables.plus_minus(318.2449, 8.61, 1) == "318.2 ± 8.6"
    assert tables.plus_minus(2.5, float("nan")) == "2.50"
    assert tables.number(float("nan")) == "n/a" and tables.number(25600, 0) == "25,600"
    assert tables.percent(0.3084, 1) == "30.8%"
    assert tables.markdown([{"a": 1, "b": "x"}]) == "| a | b |\n|---|---|\n| 1 | x |"
