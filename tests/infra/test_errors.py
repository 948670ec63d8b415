"""Every stable error code is defined once, with one HTTP status."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

from infra.errors import SmartGoError
from infra.raises import PROJECT_PACKAGES, subclasses


def project_errors() -> tuple[type[SmartGoError], ...]:
    """Import every project module, then return every error class.

    Not the migrations, nor the composition: importing ``infra.composition.asgi`` builds an app
    and installs its runtime in this process (it is what servers import), and the composition
    defines no errors.
    """
    for name in PROJECT_PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if ".migrations" not in module.name and not module.name.startswith("infra.composition"):
                importlib.import_module(module.name)
    return subclasses(SmartGoError)


def test_no_code_answers_with_two_statuses() -> None:
    statuses: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for cls in project_errors():
        statuses[cls.code].add((cls.status, f"{cls.__module__}.{cls.__qualname__}"))
    twice = {code: found for code, found in statuses.items() if len({status for status, _ in found}) > 1}
    assert not twice


def test_every_code_is_defined_by_one_class() -> None:
    defined: dict[str, list[str]] = defaultdict(list)
    for cls in project_errors():
        if "code" in vars(cls):
            defined[cls.code].append(f"{cls.__module__}.{cls.__qualname__}")
    assert {code: where for code, where in defined.items() if len(where) > 1} == {}
