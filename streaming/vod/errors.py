"""VOD media errors: assets not found or not in a state that allows the request."""

from infra.errors import Conflict, NotFound


class AssetNotFound(NotFound):
    code = "ASSET_NOT_FOUND"


class AssetStateConflict(Conflict):
    code = "ASSET_STATE_CONFLICT"
