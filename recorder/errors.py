"""Cloud DVR errors: each has a stable code the apps act on."""

from infra.errors import Conflict, Forbidden, InvalidInput, NotFound


class RecordingNotFound(NotFound):
    code = "RECORDING_NOT_FOUND"


class RecordingExists(Conflict):
    """The subscriber already records this programme or range (details: its id)."""

    code = "RECORDING_EXISTS"


class QuotaExceeded(Forbidden):
    """Not enough recording hours left (details: used, scheduled, free and needed hours)."""

    code = "QUOTA_EXCEEDED"


class InvalidRecordingRange(InvalidInput):
    code = "INVALID_RECORDING_RANGE"


class SeriesNotFound(NotFound):
    """No programme of the channel's guide belongs to that series."""

    code = "SERIES_NOT_FOUND"


class SeriesRuleExists(Conflict):
    code = "SERIES_RULE_EXISTS"


class SeriesRuleNotFound(NotFound):
    code = "SERIES_RULE_NOT_FOUND"
