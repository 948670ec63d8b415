"""Playback errors: why a playback, a window or a token is refused."""

from __future__ import annotations

from typing import Any

from infra.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)


class PlaybackDenied(Forbidden):
    """A playback request refused for a reason the app can act on (NOT_ENTITLED, GEO_BLOCKED...).

    The decision is audited whatever it is, so the refusal keeps its transaction's changes.
    """

    keeps_changes = True

    def __init__(self, reason: str, message: str = "", **details: Any) -> None:
        super().__init__(message or reason.replace("_", " ").lower(), **details)
        self.code = reason


class PlaybackSessionNotFound(NotFound):
    code = "PLAYBACK_SESSION_NOT_FOUND"


class InvalidMode(InvalidInput):
    code = "INVALID_MODE"


# -- refusals at the origin (entitlements/playback/gate.py) --
class TokenRequired(Unauthorized):
    code = "PLAYBACK_TOKEN_REQUIRED"


class TokenInvalid(Forbidden):
    code = "PLAYBACK_TOKEN_INVALID"


class TokenOutOfScope(Forbidden):
    code = "PLAYBACK_TOKEN_SCOPE"


class SessionRevoked(Forbidden):
    code = "PLAYBACK_SESSION_ENDED"


class WindowNotAllowed(Forbidden):
    code = "RIGHTS"


class ProgrammeNotStarted(Conflict):
    code = "PROGRAMME_NOT_STARTED"


class ProgrammeOnAir(Conflict):
    """Catch-up of a programme still on air: start-over plays it."""

    code = "PROGRAMME_ON_AIR"


class ProgrammeEnded(Conflict):
    """Start-over of a programme that has ended: catch-up plays it."""

    code = "PROGRAMME_ENDED"


class CatchupNotReady(Conflict):
    """The programme ended moments ago and its last segment is not in yet."""

    code = "CATCHUP_NOT_READY"


class ProgrammeExpired(NotFound):
    """The programme left the channel's archive."""

    code = "PROGRAMME_EXPIRED"


class PlaybackWindowOutOfRange(InvalidInput):
    """A window (by-time playback, or a playlist's ``?window=``) outside what the channel keeps and the rights allow."""

    code = "WINDOW_OUT_OF_RANGE"
    status = 400  # as the origin has always answered a playlist's ?window= (docs/epg.md)


class NothingRecorded(NotFound):
    """The channel's archive holds nothing of the window (it was off the air)."""

    code = "NOT_RECORDED"


class StreamsUnavailable(ServiceUnavailable):
    """Streams cannot be counted (Redis is away) and the door's outage policy is closed."""

    code = "STREAMS_UNAVAILABLE"
    dependency = "redis"


# -- admission to the door (entitlements/playback/admission.py) --
class StartsBusy(TooManyRequests):
    """More players are starting at once than this process answers in time: retry after Retry-After."""

    code = "STARTS_BUSY"


class AccountStartsBusy(TooManyRequests):
    """This account already has as many starts in flight as it may."""

    code = "ACCOUNT_STARTS_BUSY"
