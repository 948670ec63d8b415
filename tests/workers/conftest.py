"""Fixtures the worker tests share with the entitlement tests (subscribers and packages)."""

from tests.entitlements.conftest import billing, make_package, make_subscriber  # noqa: F401
