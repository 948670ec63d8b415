"""What a request plays, as data: the live edge, or which window, kind and mode."""

from __future__ import annotations

import datetime as dt

import pytest

from entitlements.packages.rules import Rights
from entitlements.playback.errors import (
    CatchupNotReady,
    InvalidMode,
    PlaybackWindowOutOfRange,
    ProgrammeEnded,
    ProgrammeExpired,
    ProgrammeNotStarted,
    ProgrammeOnAir,
)
from entitlements.playback.targets import (
    ChannelWindowFacts,
    ProgrammeRef,
    resolve_channel,
    resolve_programme,
)

NOW = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)
T = int(NOW.timestamp())
CHANNEL = ChannelWindowFacts(timeshift_window_s=7200, archive_days=7, edge_us=(T - 1) * 1_000_000)


def programme(start_min: int, end_min: int) -> ProgrammeRef:
    return ProgrammeRef("p1", "tvp1", NOW + dt.timedelta(minutes=start_min), NOW + dt.timedelta(minutes=end_min), None)


def test_live_and_timeshift_are_the_live_edge() -> None:
    target = resolve_channel(channel_id="tvp1", mode="live", start=None, end=None, rights=Rights(), channel=CHANNEL,
                             now=NOW)
    assert (target.window, target.scope, target.master_path()) == (
        None, "channel:tvp1", "live/tvp1/cmaf/master.m3u8")


@pytest.mark.parametrize("ago_min, minutes, mode, kind", [
    (30, 10, "timeshift", "vod"),  # inside the 2-hour time-shift window, over
    (5, 10, "timeshift", "live"),  # still open: live tags
    (600, 60, "catchup", "vod"),  # beyond time-shift: catch-up and its rights
])
def test_by_time_windows(ago_min: int, minutes: int, mode: str, kind: str) -> None:
    start = NOW - dt.timedelta(minutes=ago_min)
    target = resolve_channel(channel_id="tvp1", mode="bytime", start=start, end=start + dt.timedelta(minutes=minutes),
                             rights=Rights(), channel=CHANNEL, now=NOW)
    assert (target.mode, target.kind, target.window) == (mode, kind, (T - ago_min * 60, T - ago_min * 60 + minutes * 60))
    assert target.scope == f"window:tvp1:{target.window[0]}:{target.window[1]}:{kind}-0"


@pytest.mark.parametrize("start", [NOW + dt.timedelta(minutes=1), NOW - dt.timedelta(days=8)])
def test_by_time_outside_the_archive(start: dt.datetime) -> None:
    with pytest.raises(PlaybackWindowOutOfRange):
        resolve_channel(channel_id="tvp1", mode="bytime", start=start, end=start + dt.timedelta(minutes=5),
                        rights=Rights(), channel=CHANNEL, now=NOW)


def test_a_narrower_time_shift_right_moves_the_line_to_catch_up() -> None:
    start = NOW - dt.timedelta(minutes=30)
    target = resolve_channel(channel_id="tvp1", mode="bytime", start=start, end=start + dt.timedelta(minutes=5),
                             rights=Rights(timeshift_window_s=600), channel=CHANNEL, now=NOW)
    assert target.mode == "catchup"


def test_start_over_and_catch_up_windows_with_padding() -> None:
    on_air = resolve_programme(programme=programme(-20, 40), mode="startover", channel=CHANNEL, now=NOW,
                               pad_before_s=60, pad_after_s=120)
    assert (on_air.kind, on_air.start_offset_s, on_air.window) == ("event", 60, (T - 1260, T + 2520))
    ended = resolve_programme(programme=programme(-90, -30), mode="catchup", channel=CHANNEL, now=NOW,
                              pad_before_s=60, pad_after_s=120)
    assert (ended.kind, ended.window, ended.ended_ago_s) == ("vod", (T - 5460, T - 1680), 1800)
    # Moments after the end the window ends at what exists: a VOD playlist never changes.
    just = resolve_programme(programme=programme(-30, 0), mode="catchup", now=NOW + dt.timedelta(seconds=3),
                             channel=ChannelWindowFacts(7200, 7, (T + 2) * 1_000_000), pad_before_s=0, pad_after_s=120)
    assert just.window == (T - 1800, T + 2)


@pytest.mark.parametrize("start_min, end_min, mode, error", [
    (-20, 40, "catchup", ProgrammeOnAir),
    (-90, -30, "startover", ProgrammeEnded),
    (10, 40, "startover", ProgrammeNotStarted),
    (-8 * 1440 - 60, -8 * 1440, "catchup", ProgrammeExpired),
    (-20, 40, "live", InvalidMode),
])
def test_programmes_at_the_wrong_time_or_mode(start_min: int, end_min: int, mode: str, error: type) -> None:
    with pytest.raises(error):
        resolve_programme(programme=programme(start_min, end_min), mode=mode, channel=CHANNEL, now=NOW,
                          pad_before_s=0, pad_after_s=0)


def test_catch_up_waits_for_the_last_segment_then_stops_waiting() -> None:
    behind = ChannelWindowFacts(7200, 7, (T - 10) * 1_000_000)
    with pytest.raises(CatchupNotReady) as err:
        resolve_programme(programme=programme(-30, 0), mode="catchup", channel=behind,
                          now=NOW + dt.timedelta(seconds=2), pad_before_s=0, pad_after_s=0)
    assert err.value.details["retry_after_s"] >= 1
    late = resolve_programme(programme=programme(-30, 0), mode="catchup", channel=behind,
                             now=NOW + dt.timedelta(seconds=31), pad_before_s=0, pad_after_s=0)
    assert late.window == (T - 1800, T)
