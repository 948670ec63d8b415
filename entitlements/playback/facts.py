"""What the playback door decides on: facts about the content, the package catalogue and the account.

Content and catalogue facts change rarely and are kept in this process's memory, cleared by
the bus messages every change sends (and 30 s old at most, in case a read races a change).
Account facts live in the shared cache, stamped with the account row the door locks anyway.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace

import orjson
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from catalog.channels import service as catalog_service
from catalog.channels.errors import ChannelNotFound
from catalog.guide import service as guide
from catalog.guide.errors import ProgrammeNotFound
from catalog.vod import service as vod
from entitlements.accounts import profiles as accounts_profiles
from entitlements.accounts import service as accounts_service
from entitlements.accounts.models import Subscriber
from entitlements.accounts.schemas import Limits, Principal
from entitlements.packages import service as packages_service
from entitlements.packages.models import Package, SubscriberPackage
from entitlements.packages.rules import (
    PackageLimits,
    Rights,
    RightsOverride,
    combine_limits,
)
from entitlements.playback.decision import ActiveStream, PlaybackFacts
from entitlements.playback.errors import (
    InvalidMode,
    NothingRecorded,
    ProgrammeNotStarted,
    StreamsUnavailable,
)
from entitlements.playback.schemas import PlaybackRequest
from entitlements.playback.streams import active_streams
from entitlements.playback.targets import (
    ChannelWindowFacts,
    ProgrammeRef,
    Target,
    resolve_channel,
    resolve_programme,
)
from infra.cache import CacheUnavailable
from infra.db import utc
from infra.runtime import Runtime
from recorder import service as recorder_service
from streaming.formats import device_profiles
from streaming.timeline import service as timeline_service
from streaming.vod import service as asset_service

FACTS_TTL_S = 30.0


class CatalogueMemory:
    """This process's copies of catalogue facts (``rt.state(CatalogueMemory)``), cleared by every
    channel or package change."""

    def __init__(self, rt: Runtime) -> None:
        self.memos: dict[str, dict] = {"channel_facts": {}, "package_limits": {}}
        rt.bus.subscribe("channel.", self.clear)
        rt.bus.subscribe(packages_service.PACKAGE_TOPIC, self.clear)

    def clear(self, _topic: str = "", _message: dict | None = None) -> None:
        """Drop every copy."""
        for memo in self.memos.values():
            memo.clear()


def _memo(rt: Runtime, name: str) -> dict:
    """Return this process's copy of a kind of catalogue fact, cleared by every catalogue change."""
    return rt.state(CatalogueMemory).memos[name]


def forget_catalogue(rt: Runtime) -> None:
    """Drop this process's copies at once (a change re-deciding sessions in its own transaction)."""
    rt.state(CatalogueMemory).clear()


@dataclass(frozen=True)
class ChannelFacts:
    """A channel as the door sees it."""

    segment_sets: tuple[str, ...]  # none when the channel is missing or disabled
    rights: Rights
    granting: frozenset[str]  # the packages that grant it
    window: ChannelWindowFacts


def channel_facts(rt: Runtime, *, db_session: Session, channel_id: str) -> ChannelFacts:
    """Return a channel's playable segment sets, rights, granting packages and archive.

    Kept in this process's memory: they change rarely, and every change of a channel, its
    rights or a package is announced on the bus, which clears the copy.
    """
    cache = _memo(rt, "channel_facts")
    hit = cache.get(channel_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]

    try:
        channel = catalog_service.get(db_session=db_session, channel_id=channel_id)
        sets = tuple(channel.segment_sets) if channel.enabled else ()
        window = ChannelWindowFacts(channel.timeshift_window_s, channel.archive_days, None)
    except ChannelNotFound:
        sets, window = (), ChannelWindowFacts(0, 0, None)
    facts = ChannelFacts(sets, packages_service.channel_rights(db_session=db_session, channel_id=channel_id),
                         frozenset(p.code for p in packages_service.packages_granting_channel(db_session=db_session,
                                                                                     channel_id=channel_id)),
                         window)
    if len(cache) > 10_000:
        cache.clear()
    # A read racing a change could store old facts just after the bus cleared them: they
    # live 30 s at most.
    cache[channel_id] = (now + FACTS_TTL_S, facts)
    return facts


def resolve_target(rt: Runtime, *, db_session: Session, request: PlaybackRequest, subscriber_id: str,
                   strict: bool = True, window: tuple[int, int] | None = None) -> tuple[Target, ChannelFacts]:
    """Resolve what the request plays (a channel's edge or a window) and its channel's facts.

    With strict off (re-deciding a running session) timing is not checked again: a start-over
    session goes on past its programme's end, and a by-time session keeps its window.
    """
    settings = rt.settings
    now = accounts_service.now_utc()
    if request.content.type == "recording":
        return _recording_target(rt, db_session, request, subscriber_id, strict)
    if request.content.type == "title":
        return _title_target(db_session, request, now)
    if request.content.type == "programme":

        p = guide.get_programme(db_session=db_session, programme_id=request.content.id)
        ch = channel_facts(rt, db_session=db_session, channel_id=p.channel_id)
        win = _with_edge(db_session, ch.window, p.channel_id) if request.mode == "catchup" and strict else ch.window
        return resolve_programme(programme=_programme_ref(p), mode=request.mode, channel=win, now=now, strict=strict,
                                 pad_before_s=settings.catchup_pad_before_s,
                                 pad_after_s=settings.catchup_pad_after_s), ch
    ch = channel_facts(rt, db_session=db_session, channel_id=request.content.id)
    start, end = request.start, request.end
    if window is not None:
        start, end = (dt.datetime.fromtimestamp(t, dt.UTC) for t in window)
    win, programmes = ch.window, []
    if request.mode == "bytime" and start is not None:

        win = _with_edge(db_session, win, request.content.id)
        programmes = [_programme_ref(p) for p in guide.programmes_between(
            db_session=db_session, channel_id=request.content.id, start=start, end=end)]
    return resolve_channel(channel_id=request.content.id, mode=request.mode, start=start, end=end,
                           rights=ch.rights, channel=win, now=now, strict=strict, programmes=programmes), ch


def package_limits(rt: Runtime, *, db_session: Session) -> dict[str, PackageLimits]:
    """Return every package's kind and limits by code (this process's copy)."""
    memo = _memo(rt, "package_limits")
    hit = memo.get("all")
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    limits = {p.code: PackageLimits(p.kind, p.max_devices, p.max_streams, p.recording_hours)
              for p in db_session.scalars(select(Package))}
    memo["all"] = (now + FACTS_TTL_S, limits)
    return limits


def account_limits(rt: Runtime, *, db_session: Session, sub: Subscriber | Row, held: frozenset[str]) -> Limits:
    """Return the limits of an account holding these packages (the rule in entitlements/packages/rules.py)."""
    catalogue = package_limits(rt, db_session=db_session)
    combined = combine_limits(catalogue[c] for c in sorted(held) if c in catalogue)
    return Limits(max_devices=sub.device_limit or combined["max_devices"] or rt.settings.default_device_limit,
                  max_streams=combined["max_streams"], recording_hours=combined["recording_hours"] or 0)


def _programme_ref(p) -> ProgrammeRef:  # noqa: ANN001 - a catalog Programme
    """A guide programme as the door needs it: its times, its rights narrowing and its rating."""
    return ProgrammeRef(p.id, p.channel_id, utc(p.start_at), utc(p.end_at),
                        RightsOverride(**guide.programme_rights(p), age_rating=guide.age_of(p)))


def _with_edge(db_session: Session, window: ChannelWindowFacts, channel_id: str) -> ChannelWindowFacts:
    """The channel's window facts with the end of its newest published segment (the archive's edge)."""
    tail = timeline_service.tail_run(db_session=db_session, channel_id=channel_id)
    return replace(window, edge_us=tail.end_us if tail else None)


def _recording_target(rt: Runtime, db_session: Session, request: PlaybackRequest, subscriber_id: str,
                      strict: bool) -> tuple[Target, ChannelFacts]:
    """A recording plays its stored window: VOD once finished, EVENT while it is recording."""
    if request.mode != "recording":
        raise InvalidMode("a recording plays in mode recording", modes=["recording"])
    rec = recorder_service.get_recording(db_session=db_session, subscriber_id=subscriber_id,
                                         recording_id=request.content.id)
    if strict and rec.state == "scheduled":
        raise ProgrammeNotStarted("the recording has not started", starts_at=utc(rec.start_at).isoformat())
    if strict and rec.state == "failed":
        raise NothingRecorded(rec.failure_reason or "nothing was recorded", recording_id=rec.id)
    override = None
    if rec.programme_id is not None:
        try:
            override = _programme_ref(guide.get_programme(db_session=db_session, programme_id=rec.programme_id,
                                                          cancelled=True)).override
        except ProgrammeNotFound:
            pass
    ws, we = (t // 1_000_000 for t in recorder_service.window_us(rec))
    kind = "vod" if rec.state in ("completed", "partial") else "event"
    target = Target(rec.channel_id, f"recording:{rec.id}", "recording", (ws, we), kind, rec.pad_before_s, override,
                    copy_id=recorder_service.own_copy(db_session=db_session, rec=rec))
    return target, channel_facts(rt, db_session=db_session, channel_id=rec.channel_id)


def _title_target(db_session: Session, request: PlaybackRequest, now: dt.datetime) -> tuple[Target, ChannelFacts]:
    """A VOD title plays its asset: its packages, device types and age rating are the title's own."""
    if request.mode != "vod":
        raise InvalidMode("a title plays in mode vod", modes=["vod"])
    title = vod.title_for_playback(db_session=db_session, title_id=request.content.id, now=now)
    sets = asset_service.asset_segment_sets(db_session=db_session, asset_id=title.asset_id) if title.available \
        else ()
    facts = ChannelFacts(sets, Rights(device_types=title.device_types, age_rating=title.age_rating),
                         title.packages, ChannelWindowFacts(0, 0, None))
    return Target("", f"title:{title.id}", "vod", kind="vod", asset_id=title.asset_id), facts


def gather_facts(rt: Runtime, *, db_session: Session, sub: Subscriber | Row, principal: Principal,
                 request: PlaybackRequest, address: str, strict: bool = True, window: tuple[int, int] | None = None,
                 profile=None) -> tuple[PlaybackFacts, Target]:  # noqa: ANN001 - a DeviceProfile
    """Collect everything the decision needs about the request, the account and the content;
    the device's profile (standard when None) picks the segment set."""
    target, ch = resolve_target(rt, db_session=db_session, request=request, subscriber_id=sub.id, strict=strict,
                                window=window)

    seg_set = device_profiles.segment_set_for(profile, ch.segment_sets, request.segment_set)
    target = replace(target, segment_set=seg_set)
    content_rights = ch.rights.overridden(target.override)
    held, limits, devices = account_facts(rt, db_session=db_session, sub=sub)
    position = next((i for i, (dev_id, _) in enumerate(devices) if dev_id == principal.device_id), None)
    device_type = devices[position][1] if position is not None else "unknown"
    threshold, pin_ok = None, False
    if request.profile_id is not None:
        threshold = accounts_profiles.get_profile(db_session=db_session, subscriber_id=sub.id,
                                       profile_id=request.profile_id).parental_threshold
    if request.pin is not None and content_rights.age_rating is not None and threshold is not None:
        accounts_profiles.check_pin(rt, db_session=db_session, sub=sub, pin=request.pin)
        pin_ok = True
    max_streams = limits.max_streams if limits.max_streams is not None else rt.settings.default_stream_limit
    try:
        streams = tuple(ActiveStream(s.id, s.device_id, s.content)
                        for s in active_streams(rt, db_session=db_session, subscriber_id=sub.id))
        counted = True
    except StreamsUnavailable:
        if rt.settings.playback_outage_policy != "open":
            raise
        streams, counted, max_streams = (), False, None  # what cannot be counted is not limited
    facts = PlaybackFacts(
        mode=target.mode, content=target.content, available=seg_set in ch.segment_sets,
        rights=content_rights, granting_packages=ch.granting, account_status=sub.status, held_packages=held,
        device_id=principal.device_id, device_type=device_type,
        device_within_limit=position is not None and position < limits.max_devices,
        country=packages_service.country_of(rt, db_session=db_session, address=address),
        parental_threshold=threshold, pin_ok=pin_ok,
        max_streams=max_streams, streams=streams, ended_ago_s=target.ended_ago_s, streams_counted=counted)
    return facts, target


def account_facts(rt: Runtime, *, db_session: Session, sub: Subscriber | Row) -> tuple[frozenset[str], Limits, tuple]:
    """Return the account's packages valid now, its limits and its devices in order (id, type).

    Packages and devices are cached in the shared cache under the account row's ``updated_at``,
    which every account change (packages, status, limits, devices) sets: the door reads that row
    under lock anyway, so a stale entry can never be used, and no invalidation message can be
    lost. An entry also ends at the next validity boundary of the account's packages. The limits
    come from the package catalogue each time, so editing a package needs no per-account work.
    """
    cache = rt.cache
    key, stamp = f"account-facts:{sub.id}", utc(sub.updated_at).isoformat() if sub.updated_at else ""
    raw = _cached(rt, cache, key)
    if raw is not None:
        data = orjson.loads(raw)
        if data["stamp"] == stamp:
            held = frozenset(data["held"])
            return (held, account_limits(rt, db_session=db_session, sub=sub, held=held),
                    tuple(tuple(d) for d in data["devices"]))
    now = accounts_service.now_utc()
    active = accounts_service.active_packages(db_session=db_session, subscriber_id=sub.id, at=now)
    devices = tuple((d.id, d.device_type) for d in accounts_service.list_devices(db_session=db_session, subscriber_id=sub.id))
    held = frozenset(p.code for _, p in active)
    boundaries = [utc(t) for g in db_session.scalars(select(SubscriberPackage).where(
        SubscriberPackage.subscriber_id == sub.id)) for t in (g.valid_from, g.valid_to) if t is not None]
    ttl = min([60.0] + [(b - now).total_seconds() for b in boundaries if b > now])
    if ttl > 0.5 and rt.health.is_up("redis"):
        try:
            cache.set(key, orjson.dumps({"stamp": stamp, "held": sorted(held),
                                         "devices": [list(d) for d in devices]}), ttl)
        except CacheUnavailable as err:  # a cache, not the truth: the next door reads the database again
            rt.health.failed("redis", err)
    return held, account_limits(rt, db_session=db_session, sub=sub, held=held), devices


def _cached(rt: Runtime, cache, key: str) -> bytes | None:  # noqa: ANN001 - the process's Cache
    """Return a cached value, or None when it is absent or the cache is away (the database has it)."""
    if not rt.health.is_up("redis"):
        return None
    try:
        return cache.get(key)
    except CacheUnavailable as err:
        rt.health.failed("redis", err)
        return None
