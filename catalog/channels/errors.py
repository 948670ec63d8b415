"""Channel errors: each has a stable code."""

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
