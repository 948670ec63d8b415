"""The origin's playback check: a path token, its scope, and the revocation set, all in memory.

The playlist path may not wait on the network (design section 3), so this process keeps:
the tokens it has verified (a dict lookup after the first request of a session), the
sessions revoked (pushed by the bus the moment they end, and reconciled from the database
every few seconds in case a message was lost), and the sessions seen fetching, which a
background task turns into stream keep-alives every few seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from entitlements.accounts.tokens import PlaybackGrant
from entitlements.playback.errors import (
    SessionRevoked,
    TokenInvalid,
    TokenOutOfScope,
    WindowNotAllowed,
)
from entitlements.playback.grants import REVOKED_TOPIC, playback_tokens
from entitlements.playback.models import PlaybackSession
from entitlements.playback.outage import outage_door
from entitlements.playback.streams import keep_alive
from infra.runtime import Runtime

log = logging.getLogger(__name__)
VERIFIED_MAX = 100_000
SYNC_EVERY_S = 3.0


class PlaybackGate:
    """Admits origin requests that carry a valid, in-scope, unrevoked playback token."""

    def __init__(self, rt: Runtime) -> None:

        self.rt = rt
        self.tokens = playback_tokens(rt)
        self.outages = outage_door(rt)
        self.verified: dict[str, PlaybackGrant] = {}
        self.revoked: dict[str, int] = {}  # session id -> when its token would expire anyway
        self.seen: set[str] = set()
        self._synced_at: float = time.time() - rt.settings.playback_session_max_s
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Listen for revocations and start the keep-alive and reconcile loop."""
        self.rt.bus.subscribe(REVOKED_TOPIC, self._on_revoked)
        try:
            await run_in_threadpool(self._reconcile)
        except Exception as err:  # a database outage at start: the loop reconciles later
            if not self.rt.health.absorb(err):
                raise
        self._task = asyncio.create_task(self._loop(), name="playback-gate")

    async def stop(self) -> None:
        """Stop background work (flushing the last keep-alives)."""
        self.rt.bus.unsubscribe(self._on_revoked)
        if self._task:
            self._task.cancel()
        try:
            await run_in_threadpool(self._flush_seen)
        except Exception as err:
            if not self.rt.health.absorb(err):
                raise

    def admit(self, token: str, scope: str, mode_window_s: float | None) -> PlaybackGrant:
        """Return the grant of a request for scope ("channel:{id}", "window:..."), or raise why not."""
        grant = self.verified.get(token)
        if grant is None:
            grant = self.tokens.verify(token, int(time.time()))
            if grant is None:
                raise TokenInvalid("the playback token is not valid (forged, truncated or expired)")
            if len(self.verified) >= VERIFIED_MAX:
                self.verified.clear()
            self.verified[token] = grant
        if grant.scope != scope:
            raise TokenOutOfScope("this playback token is for other content")
        if mode_window_s is not None and grant.mode == "live" and mode_window_s > self.rt.settings.live_window_s:
            raise WindowNotAllowed("a live session cannot ask for a time-shift window", mode="live")
        if not self.still_admitted(grant):
            if grant.session_id in self.revoked:
                raise SessionRevoked("this playback session has ended; ask POST /v1/playback again")
            raise TokenInvalid("the playback token expired; ask POST /v1/playback again")
        return grant

    def still_admitted(self, grant: PlaybackGrant) -> bool:
        """Tell whether an admitted grant still holds (not expired, not revoked); note it was seen."""
        if grant.session_id in self.revoked or grant.expires_at <= time.time():
            return False
        self.seen.add(grant.session_id)
        return True

    def _on_revoked(self, _topic: str, message: dict) -> None:
        until = int(time.time()) + self.rt.settings.playback_session_max_s
        for sid in message.get("sessions", []):
            self.revoked[sid] = until

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY_S)
            try:
                await run_in_threadpool(self._flush_seen)
            except Exception as err:  # the streams' keep-alives wait for Redis; playback goes on
                if not self.rt.health.absorb(err):
                    log.exception("playback gate keep-alive failed")
            if not self.rt.health.is_up("database"):
                continue  # revocations still arrive on the bus; the database is asked once it is back
            try:
                await run_in_threadpool(self._reconcile)
                if self.outages.journal.exists():  # starts admitted while the database was away
                    await run_in_threadpool(self.outages.replay)
            except Exception as err:  # revocations still arrive on the bus meanwhile
                if not self.rt.health.absorb(err):
                    log.exception("playback gate reconcile failed")

    def _flush_seen(self) -> None:

        seen, self.seen = self.seen, set()
        if seen:
            keep_alive(self.rt, sorted(seen))

    def _reconcile(self) -> None:
        """Add sessions ended since the last look (a lost bus message costs seconds, not more)."""
        since = dt.datetime.fromtimestamp(self._synced_at - 2 * SYNC_EVERY_S, dt.UTC)
        started = time.time()
        with self.rt.db.session(write=False) as s:
            rows = s.execute(select(PlaybackSession.id, PlaybackSession.expires_at)
                             .where(PlaybackSession.ended_at.is_not(None), PlaybackSession.ended_at >= since)).all()
        for sid, expires in rows:
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=dt.UTC)
            self.revoked[sid] = int(expires.timestamp())
        self._synced_at = started
        now = int(time.time())
        if len(self.revoked) > 10_000:
            self.revoked = {k: v for k, v in self.revoked.items() if v > now}
