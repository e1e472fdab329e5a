"""The shape of the package: one study module per notebook, named after it, each with the same
verbs; one claims engine that alone computes tests, intervals and verdicts; no module over 500 lines."""
import importlib
import re
from pathlib import Path

import pytest

import primps_core
from primps_core import paths
from primps_core.eval import claims
from primps_core.study.pipeline import Job

PACKAGE = Path(primps_core.__file__).parent
NOTEBOOKS = sorted(paths.ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
MAX_LINES = 500


def study_module(notebook: Path):
    return importlib.import_module(f"primps_core.study.{notebook.stem[3:]}")


def test_each_notebook_has_one_study_module_named_after_it():
    assert len(NOTEBOOKS) >= 8
    for notebook in NOTEBOOKS:
        assert (PACKAGE / "study" / f"{notebook.stem[3:]}.py").is_file(), notebook.name


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_study_module_offers_the_same_verbs(notebook):
    module = study_module(notebook)
    planned = module.plan("smoke")
    assert planned and all(isinstance(labels, dict) and isinstance(job, Job) for labels, job in planned)
    # each job once, but for notebook 05, whose two families (components, knobs) share the reference runs
    assert len({job for _, job in planned}) == len(planned) or module.__name__.endswith("ablations")
    assert callable(module.rows)
    assert module.DESIGN is None or isinstance(module.DESIGN, claims.Registry)
    if module.DESIGN is not None:          # a study that registers a design decides its claims through the engine
        assert callable(module.claims)
        assert module.DESIGN.document()["in_force"] == len(module.DESIGN.versions)


def test_stage_functions_are_named_after_their_registry_entries():
    from primps_core.study.pipeline import Stage
    for path in sorted((PACKAGE / "study").glob("*.py")):
        module = importlib.import_module(f"primps_core.study.{path.stem}")
        for name, value in vars(module).items():
            if isinstance(value, Stage) and value.__module__ == module.__name__:
                assert name == f"{value.name}_stage", (path.name, name, value.name)


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_500_lines():
    long = {str(path.relative_to(PACKAGE)): n for path in package_files()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_only_the_claims_engine_computes_tests_intervals_and_verdicts():
    engine = PACKAGE / "eval" / "claims.py"
    forbidden = re.compile(r"def (permutation_test|welch_interval|holm)\b|scipy\.stats\.(t\.ppf|ttest_ind|permutation_test)"
                           r"|\b(welch_interval|permutation_test|holm|overall_verdict)\(|\"(does not hold|holds)\"(?!:)")
    offenders = [f"{path.relative_to(PACKAGE)}:{number}" for path in package_files() if path != engine
                 for number, line in enumerate(path.read_text().splitlines(), 1) if forbidden.search(line)]
    assert not offenders, offenders
