"""Every import names the module that defines the thing: no re-export shims, nothing half-moved."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("infra", "streaming", "catalog", "entitlements", "recorder", "workers")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _defined(tree: ast.Module) -> set[str]:
    """Names a module defines at its top level (not those it imports)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.col_offset == 0:
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.col_offset == 0:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def test_every_import_of_ours_names_the_module_that_defines_it() -> None:
    modules = _modules()
    trees = {name: ast.parse(path.read_text()) for name, path in modules.items()}
    defined = {name: _defined(tree) for name, tree in trees.items()}
    importers = dict(trees)  # the tests and benchmarks import the product the same way
    for folder in ("tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            importers[str(path.relative_to(ROOT))] = ast.parse(path.read_text())
    wrong = []
    for name, tree in importers.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules):
                continue
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules or alias.name in defined[node.module]:
                    continue
                wrong.append(f"{name}:{node.lineno}: {alias.name} is not defined in {node.module}")
        # module.name where module was imported whole: the name must be the module's own too
        bound = {(a.asname or a.name): f"{node.module}.{a.name}" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                 for a in node.names if f"{node.module}.{a.name}" in modules}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
                module = bound[node.value.id]
                if node.attr not in defined[module] and f"{module}.{node.attr}" not in modules:
                    wrong.append(f"{name}:{node.lineno}: {node.value.id}.{node.attr} is not defined in {module}")
    assert not wrong, "\n".join(wrong)
