"""VOD title errors: each has a stable code."""

from infra.errors import Conflict, InvalidInput, NotFound


class TitleNotFound(NotFound):
    code = "TITLE_NOT_FOUND"


class TitleExists(Conflict):
    code = "TITLE_EXISTS"


class TitleNotPlayable(Conflict):
    code = "TITLE_NOT_PLAYABLE"


class TitleVersionMismatch(Conflict):
    code = "TITLE_VERSION_MISMATCH"
    status = 412


class InvalidTitle(InvalidInput):
    code = "INVALID_TITLE"


class InvalidWindow(InvalidInput):
    code = "INVALID_WINDOW"


class InvalidParent(InvalidInput):
    code = "INVALID_PARENT"


class UnknownAsset(InvalidInput):
    """A request body names a media asset there is none of (a path naming one is ASSET_NOT_FOUND, 404)."""

    code = "UNKNOWN_ASSET"


class InvalidImage(InvalidInput):
    code = "INVALID_IMAGE"


class ImageTooLarge(InvalidInput):
    code = "IMAGE_TOO_LARGE"
    status = 413


class InvalidSearch(InvalidInput):
    code = "INVALID_SEARCH"


class PositionNotFound(NotFound):
    code = "POSITION_NOT_FOUND"


class ImageNotFound(NotFound):
    code = "IMAGE_NOT_FOUND"
