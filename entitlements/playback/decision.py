"""The playback decision as a pure function: facts in, an allowed mode or a reason out.

Everything here is data, so the rules are tested as tables and the decision costs
microseconds; gathering the facts (packages, rights, streams, country) is the service's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from entitlements.packages.rules import Rights

MODES = ("live", "timeshift", "startover", "catchup", "recording", "vod")


@dataclass(frozen=True)
class ActiveStream:
    """A stream the account is watching now, on some device."""

    session_id: str
    device_id: str
    content: str


@dataclass(frozen=True)
class PlaybackFacts:
    """Everything the decision needs, gathered before it is made."""

    mode: str
    content: str  # "channel:tvp1", "programme:...", later "recording:...", "title:..."
    available: bool  # the content exists and is inside its availability window
    rights: Rights
    granting_packages: frozenset[str]  # packages that grant the content
    account_status: str
    held_packages: frozenset[str]  # the account's packages valid now
    device_id: str
    device_type: str
    device_within_limit: bool  # False for devices beyond the limit after a downgrade
    country: str | None  # from the client address; None when unknown
    parental_threshold: int | None  # the profile's threshold; None: no restriction
    pin_ok: bool  # a correct parental PIN came with the request
    max_streams: int | None  # None: unlimited
    streams: tuple[ActiveStream, ...] = field(default_factory=tuple)
    ended_ago_s: float | None = None  # catch-up: how long ago the content ended
    streams_counted: bool = True  # False: Redis was away and the outage policy is open (no stream limit)


@dataclass(frozen=True)
class Decision:
    """The outcome: allowed, or the stable reason an app can act on, with its details."""

    allowed: bool
    reason: str | None = None
    details: dict = field(default_factory=dict)
    replaces: str | None = None  # the session id this one hands over from (same device)


def decide(f: PlaybackFacts) -> Decision:
    """Decide one playback request (the order of checks is the order apps see reasons in)."""
    if not f.available:
        return Decision(False, "NOT_AVAILABLE")
    if f.account_status != "active":
        return Decision(False, "ACCOUNT_SUSPENDED")
    if f.granting_packages and not (f.granting_packages & f.held_packages):
        return Decision(False, "NOT_ENTITLED", {"packages": sorted(f.granting_packages)})
    if not f.granting_packages and f.mode != "vod":
        # A channel no package grants is nobody's: refuse rather than give it away.
        return Decision(False, "NOT_ENTITLED", {"packages": []})
    if f.mode not in MODES or not f.rights.allows_mode(f.mode):
        return Decision(False, "RIGHTS", {"mode": f.mode})
    if f.mode == "catchup" and f.ended_ago_s is not None and f.ended_ago_s > f.rights.catchup_days * 86400:
        return Decision(False, "RIGHTS", {"mode": f.mode, "catchup_days": f.rights.catchup_days})
    if f.rights.device_types is not None and f.device_type not in f.rights.device_types:
        return Decision(False, "DEVICE_NOT_ALLOWED", {"device_type": f.device_type,
                                                       "allowed": sorted(f.rights.device_types)})
    if f.rights.countries is not None and (f.country is None or f.country not in f.rights.countries):
        return Decision(False, "GEO_BLOCKED", {"country": f.country})
    if not f.device_within_limit:
        return Decision(False, "DEVICE_LIMIT")
    rating = f.rights.age_rating
    if (rating is not None and f.parental_threshold is not None and rating > f.parental_threshold
            and not f.pin_ok):
        return Decision(False, "PARENTAL_PIN_REQUIRED", {"age_rating": rating})
    # The same device changing channel hands its stream over instead of counting twice.
    same_device = [s for s in f.streams if s.device_id == f.device_id]
    others = [s for s in f.streams if s.device_id != f.device_id]
    if f.max_streams is not None and len(others) >= f.max_streams:
        return Decision(False, "CONCURRENCY_LIMIT", {
            "max_streams": f.max_streams,
            "streams": [{"session_id": s.session_id, "device_id": s.device_id, "content": s.content}
                        for s in others]})
    return Decision(True, replaces=same_device[0].session_id if same_device else None)
