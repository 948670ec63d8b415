"""Package errors: each has a stable code."""

from __future__ import annotations

from infra.errors import Conflict, InvalidInput, NotFound


class PackageNotFound(NotFound):
    code = "PACKAGE_NOT_FOUND"


class UnknownPackage(InvalidInput):
    """A request body names a package code the catalogue does not have."""

    code = "UNKNOWN_PACKAGE"


class PackageExists(Conflict):
    code = "PACKAGE_EXISTS"


class PackageInUse(Conflict):
    code = "PACKAGE_IN_USE"


class InvalidGeoTable(InvalidInput):
    code = "INVALID_GEO_TABLE"
