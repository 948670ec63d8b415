"""Telling a test's process that a shared service is away: what its code acts on (infra/health.py).

The real outages, with services killed, frozen and cut off, are in tests/faults.
"""

from __future__ import annotations

import pytest

from infra.runtime import Runtime


def service_away(monkeypatch: pytest.MonkeyPatch, rt: Runtime, name: str) -> None:
    """Make rt's health monitor say the service called name is down (until monkeypatch undoes it)."""
    up = rt.health.is_up
    monkeypatch.setattr(rt.health, "is_up", lambda service: service != name and up(service))
