"""The recorder tests sign subscribers in like the entitlement tests do."""

from tests.entitlements.conftest import billing, make_package, make_subscriber  # noqa: F401
