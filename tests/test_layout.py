"""The package's architecture as a contract: imports flow downward through the layers, and no module
sets another module's globals."""
import ast
from pathlib import Path

import primps_core

PACKAGE = Path(primps_core.__file__).parent
# Lowest first. A module may import its own layer's package and any layer below it, never above.
LAYERS = (("checks", "paths", "presets", "progress", "threads"), ("synth",), ("data",), ("gan",), ("eval",), ("dp",), ("study",), ("viz",),
          ("cli",), ("__main__",))


def layer(top: str) -> int:
    return next(rank for rank, names in enumerate(LAYERS) if top in names)


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield path, parts[0] if len(parts) > 1 or parts[0] != "__init__" else "__init__", parts


def imported_tops(path: Path, parts: tuple) -> set[str]:
    """The first component under primps_core of every primps_core module ``path`` imports."""
    package = parts[:-1]                         # the module's own package, relative to primps_core
    tops = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[1:] for alias in node.names if alias.name.startswith("primps_core.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "primps_core":
                target = node.module.split(".")[1:]
            else:
                continue
            names = [target + [alias.name] for alias in node.names] if not target else [target]
        else:
            continue
        tops.update(name[0] for name in names if name)
    return tops


def test_every_module_belongs_to_a_layer():
    unknown = {top for _, top, _ in modules() if top != "__init__"} - {name for names in LAYERS for name in names}
    assert not unknown, f"modules outside the declared layers: {unknown}"


def test_imports_flow_downward_only():
    upward = []
    for path, top, parts in modules():
        if top == "__init__":
            continue
        for imported in imported_tops(path, parts) - {top, "__init__", "__version__"}:
            if layer(imported) >= layer(top):
                upward.append(f"{path.relative_to(PACKAGE)} imports {imported}")
    assert not upward, "imports that climb or cross the layers:\n" + "\n".join(upward)


def test_the_contract_sees_real_imports():
    """The checker itself: it finds the relative and absolute imports of known modules."""
    runs = PACKAGE / "study" / "runs.py"
    assert {"checks", "synth", "data", "eval", "gan", "presets", "study"} <= imported_tops(runs, ("study", "runs"))
    assert imported_tops(PACKAGE / "synth" / "render.py", ("synth", "render")) == {"checks", "synth"}


def test_no_module_sets_another_modules_globals():
    """Runtime knobs (device, progress, runs folder) are arguments: ``module.NAME = value`` is not allowed."""
    found = []
    for path, _, _ in modules():
        tree = ast.parse(path.read_text())
        aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                   for alias in node.names}
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                for element in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if (isinstance(element, ast.Attribute) and isinstance(element.value, ast.Name)
                            and element.value.id in aliases):
                        found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} sets {element.value.id}.{element.attr}")
    assert not found, "\n".join(found)
