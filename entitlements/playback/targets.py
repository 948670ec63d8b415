"""What a playback request plays: a channel's live edge, or a window of its timeline.

Start-over, catch-up and by-time playback are all a window [start, end) on one channel (design
section 1). The window is fixed at the door and travels in the URL path and the token's scope,
so the origin renders it from the timeline without asking the guide, and every viewer of the
same programme shares the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from entitlements.packages.rules import Rights, RightsOverride
from entitlements.playback.errors import (
    CatchupNotReady,
    InvalidMode,
    PlaybackWindowOutOfRange,
    ProgrammeEnded,
    ProgrammeExpired,
    ProgrammeNotStarted,
    ProgrammeOnAir,
)
from streaming.formats.windows import Window

CHANNEL_MODES = ("live", "timeshift", "bytime")
# After this long a programme's tail is not waited for: the source died, the archive ends early.
TAIL_GRACE_S = 30
PROGRAMME_MODES = ("startover", "catchup")


@dataclass(frozen=True)
class ChannelWindowFacts:
    """What deciding a window needs about the channel."""

    timeshift_window_s: int
    archive_days: int
    edge_us: int | None  # the end of the newest published segment, if any


@dataclass(frozen=True)
class ProgrammeRef:
    """A programme as the door needs it."""

    id: str
    channel_id: str
    start: dt.datetime
    end: dt.datetime
    override: RightsOverride | None


@dataclass(frozen=True)
class Target:
    """A resolved request: the channel, what the session is for, the mode decided on, the window."""

    channel_id: str
    content: str  # "channel:{id}" or "programme:{id}"
    mode: str  # live, timeshift, startover, catchup: what the rights must allow
    window: tuple[int, int] | None = None  # [start, end) in UTC seconds; None: the live edge
    kind: str = "live"  # the playlist: vod (complete), event (grows, then ENDLIST) or live
    start_offset_s: int = 0  # where in the window playback begins (the programme's start)
    override: RightsOverride | None = None
    ended_ago_s: float | None = None
    copy_id: str | None = None  # a recording's private copy, played instead of the archive
    asset_id: str | None = None  # a VOD title's media asset (no channel, no window)
    segment_set: str = "cmaf"  # the set the device plays (its device profile, or what the app asked)

    @property
    def scope(self) -> str:
        """The token scope, which the origin compares with the path it is asked for."""
        if self.asset_id is not None:
            return f"asset:{self.asset_id}"
        if self.window is None:
            return f"channel:{self.channel_id}"
        return self._window().scope

    def master_path(self, profile_part: str | None = None) -> str:
        """The master playlist's path after /p/{token}/ (profile_part: a device profile's ``dev-{code}``)."""
        shaped = f"{profile_part}/{self.segment_set}" if profile_part else self.segment_set
        if self.asset_id is not None:  # a title's playlists are complete: a profile only picks the set
            return f"vod/{self.asset_id}/{self.segment_set}/master.m3u8"
        if self.window is None:
            return f"live/{self.channel_id}/{shaped}/master.m3u8"
        return f"{self._window().path}/{shaped}/master.m3u8"

    def _window(self) -> Window:
        # The origin parses the same Window from the path: one format for both sides.
        return Window(self.channel_id, self.window[0], self.window[1], self.kind, self.start_offset_s, self.copy_id)


def resolve_channel(*, channel_id: str, mode: str, start: dt.datetime | None, end: dt.datetime | None,
                    rights: Rights, channel: ChannelWindowFacts, now: dt.datetime, strict: bool = True,
                    programmes: Sequence[ProgrammeRef] = ()) -> Target:
    """Resolve a channel request: live, time-shift, or a by-time window inside the rights.

    A by-time window carries the strictest rights of the programmes it overlaps (a programme
    without catch-up cannot be had by asking for its times instead of its id) and the highest
    age rating among them.
    """
    content = f"channel:{channel_id}"
    if mode not in CHANNEL_MODES:
        raise InvalidMode(f"a channel plays as {', '.join(CHANNEL_MODES)}; start-over and catch-up take a programme",
                          modes=list(CHANNEL_MODES))
    if mode != "bytime":
        return Target(channel_id, content, mode)
    ws, we = math.floor(start.timestamp()), math.ceil(end.timestamp())
    age = now.timestamp() - ws
    timeshift_s = min(rights.timeshift_window_s or channel.timeshift_window_s, channel.timeshift_window_s)
    archive_s = channel.archive_days * 86400
    if strict and (ws > now.timestamp() or age > max(timeshift_s, archive_s)):
        raise PlaybackWindowOutOfRange(
            "the window must start in the past, inside the channel's time-shift window or archive",
            earliest=dt.datetime.fromtimestamp(now.timestamp() - max(timeshift_s, archive_s), dt.UTC).isoformat())
    # Inside the time-shift window it is time-shift; further back it is catch-up (and its rights).
    decided = "timeshift" if age <= timeshift_s else "catchup"
    # VOD only once the index holds the window's end: a VOD playlist is never reloaded.
    complete = we <= now.timestamp() and (channel.edge_us or 0) >= we * 1_000_000
    return Target(channel_id, content, decided, (ws, we), "vod" if complete else "live",
                  override=strictest(programmes), ended_ago_s=age if decided == "catchup" else None)


def strictest(programmes: Sequence[ProgrammeRef]) -> RightsOverride | None:
    """Combine the overrides of several programmes: any refusal wins, the highest rating wins."""
    overrides = [p.override for p in programmes if p.override is not None]
    if not overrides:
        return None
    combined: dict = {}
    for name in ("live", "timeshift", "startover", "catchup", "recording"):
        values = [getattr(o, name) for o in overrides if getattr(o, name) is not None]
        if values:
            combined[name] = all(values)
    ages = [o.age_rating for o in overrides if o.age_rating is not None]
    return RightsOverride(**combined, age_rating=max(ages) if ages else None)


def resolve_programme(*, programme: ProgrammeRef, mode: str, channel: ChannelWindowFacts, now: dt.datetime,
                      pad_before_s: int, pad_after_s: int, strict: bool = True) -> Target:
    """Resolve start-over (on air: an EVENT playlist from its start) or catch-up (ended: VOD)."""
    content = f"programme:{programme.id}"
    if mode not in PROGRAMME_MODES:
        raise InvalidMode(f"a programme plays as {' or '.join(PROGRAMME_MODES)}", modes=list(PROGRAMME_MODES))
    start, end, t = programme.start.timestamp(), programme.end.timestamp(), now.timestamp()
    ws, we = int(start) - pad_before_s, int(end) + pad_after_s
    if strict and end < t - channel.archive_days * 86400:
        raise ProgrammeExpired("the programme has left the channel's archive", programme_id=programme.id)
    if strict and t < start:
        raise ProgrammeNotStarted("the programme has not started", starts_at=programme.start.isoformat())
    if mode == "startover":
        if strict and t >= end:
            raise ProgrammeEnded("the programme has ended: play it as catch-up", mode="catchup")
        return Target(programme.channel_id, content, mode, (ws, we), "event", pad_before_s, programme.override)
    if strict and t < end:
        raise ProgrammeOnAir("the programme is on air: play it from its start with start-over", mode="startover")
    edge = (channel.edge_us or 0) / 1e6
    if strict and edge < end and t - end < TAIL_GRACE_S:
        wait = min(math.ceil(end - edge), TAIL_GRACE_S - int(t - end))
        raise CatchupNotReady("the programme's last segment is not in yet", retry_after_s=max(1, wait))
    # The window ends at the padding or at what is there now: a VOD playlist never changes.
    we = min(we, max(int(end), int(edge)))
    return Target(programme.channel_id, content, mode, (ws, we), "vod", pad_before_s, programme.override,
                  ended_ago_s=t - end)
