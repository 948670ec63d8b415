"""Compare this tree's OpenAPI document with another commit's: which operations changed, and how.

    .venv/bin/python -m bench.openapi_diff fd7715f

The other commit is checked out in a temporary worktree and its document built by its own code
(embedded settings, no server), with this virtualenv's packages; both documents are built the
same way and compared operation by operation (paths, methods, every field).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DUMP = """
import json, os, sys, tempfile
os.environ["SMARTGO_DATA_DIR"] = tempfile.mkdtemp()
import fastapi
from infra.settings import Settings
try:
    from infra.composition.web import create_app
    from infra.composition.wiring import build
except ImportError:  # before the composition had its own package
    from infra.runtime import build_runtime as build
    from infra.web import create_app
app = create_app(build(Settings()), run_jobs=False)
while not isinstance(app, fastapi.FastAPI):
    app = app.app
json.dump(app.openapi(), open(sys.argv[1], "w"), sort_keys=True)
"""


def document(tree: Path, out: Path) -> dict:
    """Build the OpenAPI document of the code in tree."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-c", DUMP, str(out)], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def changed_operations(old: dict, new: dict) -> list[tuple[str, str, list[str]]]:
    """Return (METHOD, path, changed fields) of every operation that differs, added or removed."""
    found = []
    for path in sorted(set(old["paths"]) | set(new["paths"])):
        a, b = old["paths"].get(path, {}), new["paths"].get(path, {})
        for method in sorted(set(a) | set(b)):
            x, y = a.get(method, {}), b.get(method, {})
            fields = sorted(k for k in set(x) | set(y) if json.dumps(x.get(k), sort_keys=True)
                            != json.dumps(y.get(k), sort_keys=True))
            if fields:
                found.append((method.upper(), path, fields))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the commit to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.commit], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            old = document(worktree, Path(tmp) / "old.json")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=True)
        new = document(ROOT, Path(tmp) / "new.json")
    changes = changed_operations(old, new)
    for method, path, fields in changes:
        detail = []
        for status in sorted(set(old["paths"].get(path, {}).get(method.lower(), {}).get("responses", {}))
                             | set(new["paths"].get(path, {}).get(method.lower(), {}).get("responses", {}))):
            def codes(doc: dict) -> list[str]:
                response = doc["paths"].get(path, {}).get(method.lower(), {}).get("responses", {}).get(status, {})
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                return schema.get("properties", {}).get("error", {}).get("properties", {}).get(
                    "code", {}).get("enum", []) if response else ["(none)"]
            before, after = codes(old), codes(new)
            if before != after:
                gone, came = sorted(set(before) - set(after)), sorted(set(after) - set(before))
                detail.append(f"{status}: " + " ".join([f"-{c}" for c in gone] + [f"+{c}" for c in came]))
        print(f"{method} {path}: {', '.join(fields)}" + (f" ({'; '.join(detail)})" if detail else ""))
    print(f"{len(changes)} of {sum(len(v) for v in new['paths'].values())} operations changed; "
          f"schemas {'equal' if old.get('components', {}).get('schemas') == new.get('components', {}).get('schemas') else 'differ'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
