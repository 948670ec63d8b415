"""Ingest errors: why a pushed segment, init segment or playlist is refused."""

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
    """Bytes that are not the kind of media their file name says (an HTML page, zeros, nothing).

    The base of every media refusal (streaming/ingest/media_check.py): each is a 422, and nothing of
    the file is stored or published.
    """

    code = "NOT_MEDIA"


class MediaTruncated(NotMedia):
    """The file ends inside a box or a transport packet: a cut upload."""

    code = "MEDIA_TRUNCATED"


class MediaMalformed(NotMedia):
    """Boxes or packets that contradict each other: sizes that lie, a missing required box,
    sample data outside its mdat, a packet without its sync byte, bytes after the last box."""

    code = "MEDIA_MALFORMED"


class TrackMismatch(NotMedia):
    """The media's tracks are not the rendition's: no video in a video rendition, no audio
    where the channel carries it muxed, a segment naming a track its init segment lacks."""

    code = "TRACK_MISMATCH"


class TsNoProgram(NotMedia):
    """An MPEG-TS segment without a (valid) PAT, or without the PMT the PAT points at."""

    code = "TS_NO_PROGRAM"


class SequenceOutOfRange(InvalidInput):
    """A segment file name whose sequence number the timeline cannot hold."""

    code = "SEQUENCE_OUT_OF_RANGE"


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
