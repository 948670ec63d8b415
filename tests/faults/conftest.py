"""Fault tests run once (the real-services pass), on services of their own: see tests/support/services.py."""

from __future__ import annotations

import os

import pytest

from tests.support.services import missing_binaries


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    missing = missing_binaries()
    for item in items:
        if "tests/faults/" in str(item.fspath):
            if missing and os.environ.get("SMARTGO_FAULT_TESTS") != "required":
                item.add_marker(pytest.mark.skip(reason="fault tests need " + ", ".join(missing)))
