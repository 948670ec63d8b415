"""Measure the product's import graph: module-level cycles, imports inside functions, reach into internals.

    .venv/bin/python -m bench.import_graph [--list]

A plain `ast` walk of every module of the six packages (no import is executed). An import is
module-level when it sits at the top of the module (outside any def or class body; `if
TYPE_CHECKING:` blocks are left out as they never run); cycles are strongly connected components of
the graph of every import, module-level or inside functions (an import moved into a function
hides a cycle from the interpreter, not from the design: grimp, which import-linter uses, counts it). "Internals" are modules of another top-level package that are not one of
its public rooms (`service`, `schemas`, `errors`, `deps`, `events`) nor of ``streaming.formats``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGES = ("infra", "streaming", "catalog", "entitlements", "recorder", "workers")
PUBLIC_ROOMS = {"service", "schemas", "errors", "deps", "events"}
# Pure vocabulary every package may use: it imports nothing of ours but infra.
PUBLIC_LAYERS = ("streaming.formats.",)
COMPOSITION = {"infra.composition.models"}  # and everything under infra.composition


def module_name(root: Path, path: Path) -> str:
    """Dotted module name of a file under root."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.AST, current: str, is_pkg: bool, known: set[str]) -> list[str]:
    """Modules of ours an import statement reaches."""
    found: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = current.split(".")
            if not is_pkg:
                anchor = anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        names = [f"{base}.{alias.name}" for alias in node.names]
        if any(name not in known for name in names):  # a name defined in base, not a module of it
            names.append(base)
    else:
        return found
    for name in names:
        # the longest known module the name starts with ("a.b.c" → a.b.c, else a.b)
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                found.append(candidate)
                break
    return sorted(set(found))


def walk(root: Path):
    """Module-level edges and function-level imports of every module of ours."""
    files = {
        module_name(root, path): path
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    known = set(files)
    edges: dict[str, set[str]] = defaultdict(set)
    inner: list[tuple[str, int, str]] = []
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_pkg = path.name == "__init__.py"

        def visit(node: ast.AST, top: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child):
                    continue
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    targets = _targets(child, name, is_pkg, known)
                    if top:
                        edges[name].update(t for t in targets if t != name)
                    elif targets:
                        inner.append((name, child.lineno, ", ".join(targets)))
                    continue
                nested = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, top and not nested)

        visit(tree, True)
    return known, edges, inner


def cycles(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def internals(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports of another top-level package's module that is not one of its public rooms."""
    reached = []
    for source, targets in edges.items():
        if source in COMPOSITION or source.startswith("infra.composition"):
            continue
        for target in targets:
            if target.split(".")[0] == source.split(".")[0] or target.split(".")[0] == "infra":
                continue
            room = target.split(".")[-1]
            if room not in PUBLIC_ROOMS and not target.startswith(PUBLIC_LAYERS):
                reached.append((source, target))
    return sorted(reached)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every finding, not only counts")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    known, edges, inner = walk(root)
    every = defaultdict(set, {name: set(targets) for name, targets in edges.items()})
    for name, _line, targets in inner:
        every[name].update(t for t in targets.split(", ") if t != name)
    found = cycles(known, every)
    outside = [item for item in inner if item[0] not in COMPOSITION and not item[0].startswith("infra.composition")]
    reached = internals(edges)
    print(f"modules: {len(known)}")
    print(f"import cycles (every import, as grimp sees them): {len(found)} ({', '.join(str(len(c)) for c in found) or 'none'} modules)")
    print(f"imports inside functions outside the composition: {len(outside)}")
    print(f"imports of another package's internals: {len(reached)}")
    if args.list:
        for component in found:
            print("cycle:", " ".join(component))
        for name, line, targets in outside:
            print(f"inner: {name}:{line} -> {targets}")
        for source, target in reached:
            print(f"internal: {source} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
