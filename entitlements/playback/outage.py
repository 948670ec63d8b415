"""The door while the database or Redis is away: a stated policy, ``SMARTGO_PLAYBACK_OUTAGE_POLICY``.

- ``closed`` (the default): a start that needs a service that is away is refused with 503,
  ``Retry-After`` and a code the app can act on: ``DATABASE_UNAVAILABLE`` (accounts, rights and
  the audit live there) or ``STREAMS_UNAVAILABLE`` (streams are counted in Redis).
- ``open``: a start is admitted when it passes every check that can still be made.
  - Redis away: streams cannot be counted, so the stream limit is not applied; everything else is
    decided and audited as usual, the decision marked ``STREAMS_UNCOUNTED``.
  - The database away: the access token's signature and expiry are checked (a sign-out made
    since is not seen), and the entitlement is a decision this process made for the same
    subscriber, device, content and mode within ``SMARTGO_PLAYBACK_OUTAGE_GRACE_S``: a player
    that drops and rejoins, or zaps back to a channel it just watched, goes on; a start this
    process has not decided lately is refused 503 as when closed, because nothing can say it is
    allowed. Such a session is not in the database: its decision (``OUTAGE_REMEMBERED``) and the
    session are appended to a journal on local disk and written to the database once it is back,
    so customer care's audit and revocation catch up.

Running players are never cut by an outage either way: the origin checks their tokens in memory.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from entitlements.accounts import auth, service
from entitlements.accounts.schemas import Principal
from entitlements.accounts.tokens import PlaybackGrant
from entitlements.playback.grants import playback_tokens
from entitlements.playback.models import PlaybackDecisionLog, PlaybackSession
from entitlements.playback.schemas import PlaybackRequest, PlaybackStart
from entitlements.playback.targets import Target
from infra.db import DatabaseUnavailable, new_id
from infra.runtime import Runtime

log = logging.getLogger(__name__)
REMEMBERED_MAX = 100_000


def _request_key(principal: Principal, request: PlaybackRequest) -> tuple:
    # The PIN too: a start that needed one is admitted again only with the same one.
    return (principal.subscriber_id, principal.device_id, request.content.type, request.content.id, request.mode,
            request.segment_set, request.profile_id, request.pin, request.start, request.end, request.duration_s)


class OutageDoor:
    """What this process decided lately (to admit the same start while the database is away), and
    the journal of what it admitted so."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.journal = Path(rt.settings.data_dir).resolve() / "playback-outage.jsonl"
        self._decided: OrderedDict[tuple, tuple[float, Target, str | None, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, principal: Principal, request: PlaybackRequest, target: Target, profile_part: str | None,
                 profile_code: str) -> None:
        """Note an allowed decision (called by the door on every allowed start)."""
        key = _request_key(principal, request)
        with self._lock:
            self._decided[key] = (time.monotonic(), target, profile_part, profile_code, principal.session_id)
            self._decided.move_to_end(key)
            while len(self._decided) > REMEMBERED_MAX:
                self._decided.popitem(last=False)

    def start(self, *, access_token: str | None, request: PlaybackRequest, address: str, base_url: str,
              err: DatabaseUnavailable) -> PlaybackStart:
        """Admit a start without the database if the open policy and a recent decision allow it."""
        settings = self.rt.settings
        if settings.playback_outage_policy != "open":
            raise err
        principal = auth.principal_from_token(self.rt, access_token)  # signature and expiry: all that can be checked
        with self._lock:
            found = self._decided.get(_request_key(principal, request))
        if found is None or time.monotonic() - found[0] > settings.playback_outage_grace_s:
            raise DatabaseUnavailable("the database is unavailable and this start cannot be checked without it; "
                                      "retry") from err
        _, target, profile_part, profile_code, _ = found

        now = service.now_utc()
        expires = now + dt.timedelta(seconds=settings.playback_session_max_s)
        session_id = new_id()
        token = playback_tokens(self.rt).sign(PlaybackGrant(session_id, principal.subscriber_id, principal.device_id,
                                                     target.scope, target.mode, int(expires.timestamp())))
        self._append({"session_id": session_id, "subscriber_id": principal.subscriber_id,
                      "device_id": principal.device_id, "profile_id": request.profile_id, "content": target.content,
                      "mode": request.mode, "channel_id": target.channel_id or None,
                      "window": list(target.window) if request.mode == "bytime" and target.window else None,
                      "at": now.isoformat(), "expires_at": expires.isoformat(), "address": address[:45]})
        ws, we = (dt.datetime.fromtimestamp(t, dt.UTC) for t in target.window) if target.window else (None, None)
        return PlaybackStart(session_id=session_id, url=f"{base_url.rstrip('/')}/p/{token}/{target.master_path(profile_part)}",
                             expires_at=expires, heartbeat_every_s=max(5, int(settings.stream_lease_s / 3)),
                             device_profile=profile_code, segment_set=target.segment_set, window_start=ws,
                             window_end=we)

    def _append(self, entry: dict) -> None:
        line = (json.dumps(entry) + "\n").encode()
        with self._lock:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def replay(self) -> int:
        """Write the sessions and decisions admitted without the database into it; return how many."""
        with self._lock:
            if not self.journal.exists():
                return 0
            entries = [json.loads(line) for line in self.journal.read_text().splitlines() if line.strip()]
            with self.rt.db.session() as s:
                known = set(s.scalars(PlaybackSession.__table__.select().with_only_columns(PlaybackSession.id).where(
                    PlaybackSession.id.in_([e["session_id"] for e in entries])))) if entries else set()
                for e in entries:
                    if e["session_id"] in known:
                        continue
                    at, expires = dt.datetime.fromisoformat(e["at"]), dt.datetime.fromisoformat(e["expires_at"])
                    window = e.get("window")
                    s.add(PlaybackSession(id=e["session_id"], subscriber_id=e["subscriber_id"],
                                          device_id=e["device_id"], profile_id=e["profile_id"], content=e["content"],
                                          mode=e["mode"], channel_id=e["channel_id"],
                                          window_start=window[0] if window else None,
                                          window_end=window[1] if window else None, created_at=at,
                                          expires_at=expires))
                    s.add(PlaybackDecisionLog(at=at, subscriber_id=e["subscriber_id"], device_id=e["device_id"],
                                              session_id=e["session_id"], content=e["content"], mode=e["mode"],
                                              outcome="allowed", reason="OUTAGE_REMEMBERED", address=e["address"]))
            self.journal.unlink()
        if entries:
            log.warning("playback: %d start(s) admitted while the database was away are now in it", len(entries))
        return len(entries)


def outage_door(rt: Runtime) -> OutageDoor:
    """Return this process's outage door (made on first use)."""
    door = rt.state(OutageDoor)
    return door
