"""Streaming errors: ingest refusals and origin lookups."""

from infra.errors import Conflict, InvalidInput, NotFound, SmartGoError, Unauthorized


class IngestUnauthorized(Unauthorized):
    code = "INGEST_UNAUTHORIZED"
    headers = {"WWW-Authenticate": 'Basic realm="smartgo-ingest"'}


class InvalidIngestPath(InvalidInput):
    code = "INVALID_INGEST_PATH"
    status = 400


class UnknownSegmentSet(NotFound):
    code = "SEGMENT_SET_NOT_FOUND"


class UnsupportedIngestFile(InvalidInput):
    code = "UNSUPPORTED_FILE_TYPE"
    status = 415


class NotMedia(InvalidInput):
    code = "NOT_MEDIA"


class InvalidEncoderPlaylist(InvalidInput):
    code = "INVALID_PLAYLIST"


class SegmentTooLong(InvalidInput):
    code = "SEGMENT_TOO_LONG"


class DuplicateSegment(Conflict):
    code = "DUPLICATE_SEGMENT"


class OutOfOrderSegment(Conflict):
    code = "OUT_OF_ORDER_SEGMENT"


class ChannelDisabled(Conflict):
    code = "CHANNEL_DISABLED"


class StalePackager(Conflict):
    """A push from a packager node that no longer holds the channel (a newer epoch took it)."""

    code = "STALE_PACKAGER"


class InvalidEpoch(SmartGoError):
    code = "INVALID_EPOCH"
    status = 400


class PayloadTooLarge(SmartGoError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class SegmentNotFound(NotFound):
    code = "SEGMENT_NOT_FOUND"


class WindowOutOfRange(InvalidInput):
    code = "WINDOW_OUT_OF_RANGE"
    status = 400


class InvalidDeliveryDirective(InvalidInput):
    code = "INVALID_DELIVERY_DIRECTIVE"
    status = 400


class KeyNotFound(NotFound):
    code = "KEY_NOT_FOUND"


class AssetNotFound(NotFound):
    code = "ASSET_NOT_FOUND"


class AssetStateConflict(Conflict):
    code = "ASSET_STATE_CONFLICT"


class UnknownDeviceProfile(NotFound):
    """A playback path naming a device profile there is none of."""

    code = "UNKNOWN_DEVICE_PROFILE"
