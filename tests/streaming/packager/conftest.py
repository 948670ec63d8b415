"""Each packager test leaves no channel for the next test's nodes to encode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.channels import stop_packaging


@pytest.fixture(autouse=True)
def _channels_stop_packaging(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if {"http", "admin"} <= set(request.fixturenames):
        stop_packaging(request.getfixturevalue("http"), request.getfixturevalue("admin"))
