"""Catalogue errors."""

from infra.errors import Conflict, InvalidInput, NotFound


class ChannelNotFound(NotFound):
    code = "CHANNEL_NOT_FOUND"


class RenditionNotFound(NotFound):
    code = "RENDITION_NOT_FOUND"


class ChannelExists(Conflict):
    code = "CHANNEL_EXISTS"


class ChannelNumberTaken(Conflict):
    code = "CHANNEL_NUMBER_TAKEN"


class InvalidChannel(InvalidInput):
    code = "INVALID_CHANNEL"


class EpgSourceNotFound(NotFound):
    code = "EPG_SOURCE_NOT_FOUND"


class EpgSourceExists(Conflict):
    code = "EPG_SOURCE_EXISTS"


class EpgImportNotFound(NotFound):
    code = "EPG_IMPORT_NOT_FOUND"


class InvalidEpgSource(InvalidInput):
    code = "INVALID_EPG_SOURCE"


class GuideTooLarge(InvalidInput):
    code = "GUIDE_TOO_LARGE"
    status = 413


class ProgrammeNotFound(NotFound):
    code = "PROGRAMME_NOT_FOUND"


class InvalidGuideQuery(InvalidInput):
    code = "INVALID_GUIDE_QUERY"


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


class UnknownPackage(InvalidInput):
    code = "UNKNOWN_PACKAGE"


class AssetNotFound(InvalidInput):
    code = "ASSET_NOT_FOUND"


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
