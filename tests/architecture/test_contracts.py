"""The import rules of docs/architecture.md: our contract as a table, and the lists CI relies on."""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import pytest

from tests.architecture.contracts import PublicRoomsContract

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _contract(name: str) -> dict:
    return next(c for c in CONFIG["contracts"] if c["name"] == name)


def _check(importer: str, imported: str, extra: tuple[str, ...] = ()) -> bool:
    """Tell whether one import keeps the public-rooms contract as pyproject.toml configures it."""
    graph = grimp.ImportGraph()
    for module in {importer, imported, *extra}:
        parts = module.split(".")
        for end in range(1, len(parts) + 1):
            graph.add_module(".".join(parts[:end]))
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="import")
    options = {k: v for k, v in _contract("Another package is reached only through its public rooms").items()
               if k not in ("name", "type")}
    contract = PublicRoomsContract(name="test", session_options={}, contract_options=options)
    return contract.check(graph, verbose=False).kept


@pytest.mark.parametrize(("importer", "imported", "kept"), [
    ("recorder.service", "streaming.timeline.service", True),         # a service
    ("recorder.api", "entitlements.accounts.deps", True),             # deps
    ("streaming.origin.app", "entitlements.playback.errors", True),   # errors
    ("catalog.vod.schemas", "entitlements.accounts.schemas", True),   # schemas
    ("streaming.timeline.service", "catalog.channels.events", True),  # events
    ("entitlements.playback.facts", "streaming.formats.device_profiles", True),  # pure vocabulary
    ("recorder.service", "infra.db", True),                           # the core of infra
    ("streaming.ingest.service", "streaming.timeline.runs", True),    # inside one package: its own business
    ("infra.composition.web", "streaming.origin.app", True),          # the composition wires everything
    ("recorder.service", "streaming.timeline.copies", False),         # another package's internals
    ("recorder.series", "catalog.guide.models", False),               # another package's tables
    ("streaming.origin.app", "entitlements.playback.gate", False),
    ("catalog.vod.admin", "entitlements.packages.models", False),
])
def test_another_package_is_reached_only_through_its_public_rooms(importer: str, imported: str, kept: bool) -> None:
    assert _check(importer, imported) is kept


def test_every_core_module_of_infra_is_held_to_the_core_contract() -> None:
    listed = set(_contract("The core of infra imports no domain package and not the composition")["source_modules"])
    core = {f"infra.{p.stem}" for p in (ROOT / "infra").glob("*.py") if p.stem != "__init__"}
    assert listed == core, "list new infra modules in pyproject.toml's core contract (or move them)"


def test_every_subpackage_is_in_a_layer() -> None:
    layered = {m.strip() for layer in _contract("Packages import only the layers below them (docs/architecture.md)")
               ["layers"] for m in layer.replace("|", ":").split(":")}
    subpackages = {f"{top}.{p.name}" for top in ("streaming", "catalog", "entitlements")
                   for p in (ROOT / top).iterdir() if (p / "__init__.py").exists()}
    assert subpackages <= layered, f"not in a layer: {sorted(subpackages - layered)}"
