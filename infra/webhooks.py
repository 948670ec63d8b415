"""The signed webhook relay: outbox messages of the subscribed kinds POSTed to one URL.

Delivery is at least once: a message is claimed under a lease and committed before it is sent,
so a sender that dies after sending and before recording the result sends it again once the
lease ends. Receivers dedupe on ``X-SmartGo-Delivery`` and check ``X-SmartGo-Signature``
(``v1=`` hex HMAC-SHA256 of ``f"{timestamp}.{body}"``) with :func:`verify`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infra.db import utc
from infra.notify import OutboxMessage
from infra.runtime import Runtime

BATCH = 20  # messages claimed per transaction
CONCURRENCY = 4  # requests in flight at once
TIMEOUT_S = 5.0
LEASE_S = 300.0  # longer than a batch takes: BATCH / CONCURRENCY requests of a few timeouts each
RUN_BUDGET_S = 60.0  # no new batch after this long, well inside the job's 120 s timeout
MAX_ATTEMPTS = 10  # 5 s doubling: the last attempt is about 43 minutes after the first
BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 3600.0
ERROR_MAX = 500  # characters of an error kept (the column's width)


@dataclass(frozen=True)
class Delivery:
    """One claimed message, as it is sent; attempt numbers the claim (1 for the first)."""

    id: int
    kind: str
    recipient: str
    payload: dict
    created_at: dt.datetime
    attempt: int


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """Return the hex HMAC-SHA256 of f"{timestamp}.{body}" under secret."""
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: int | str, body: bytes | str, signature: str | None, *,
           tolerance_s: float = 300, now: float | None = None) -> bool:
    """True when signature (an X-SmartGo-Signature value) signs body at a timestamp close to now."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    if not isinstance(signature, str):
        return False
    expected = sign(secret, ts, body).encode()
    # Several v1= entries may be present (a sender rotating secrets): any one may match. Bytes,
    # so a forged header with other characters is a plain mismatch, not an exception.
    candidates = [part.strip()[3:] for part in signature.split(",") if part.strip().startswith("v1=")]
    return any(hmac.compare_digest(expected, candidate.encode("utf-8", "replace")) for candidate in candidates)


def backoff_s(attempts: int, rand: float) -> float:
    """Return the wait after a failed attempt: 5 s doubling per attempt, jittered ±20%, at most 1 h."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempts - 1) * (0.8 + 0.4 * rand))


def body_of(delivery: Delivery) -> bytes:
    """Return the JSON body a delivery is POSTed with."""
    return orjson.dumps({"id": delivery.id, "kind": delivery.kind, "recipient": delivery.recipient,
                         "payload": delivery.payload, "created_at": delivery.created_at.isoformat()})


def claim_due(*, db_session: Session, now: dt.datetime, wants: Callable[[str], bool],
              limit: int = BATCH) -> list[Delivery]:
    """Claim up to limit due messages for LEASE_S and return them; the caller commits before sending."""
    due = db_session.scalars(select(OutboxMessage).where(OutboxMessage.webhook_next_at <= now)
                             .order_by(OutboxMessage.webhook_next_at).limit(limit)
                             .with_for_update(skip_locked=True))  # SQLite: one writer, no clause
    claimed = []
    for msg in due:
        if not wants(msg.kind):  # unsubscribed since it was armed
            msg.webhook_next_at, msg.webhook_error = None, "kind not subscribed any more"
        elif msg.webhook_attempts >= MAX_ATTEMPTS:  # its sender died during the last attempt
            msg.webhook_next_at, msg.webhook_failed_at = None, now
        else:
            msg.webhook_attempts += 1
            msg.webhook_next_at = now + dt.timedelta(seconds=LEASE_S)
            claimed.append(Delivery(msg.id, msg.kind, msg.recipient, msg.payload,
                                    utc(msg.created_at), msg.webhook_attempts))
    db_session.flush()
    return claimed


def record_result(*, db_session: Session, delivery: Delivery, error: str | None, now: dt.datetime,
                  rand: float) -> str:
    """Record how a delivery went; return "delivered", "retry", "failed" or "stale" (claim lost)."""
    if error is None:
        outcome, values = "delivered", {"webhook_delivered_at": now, "webhook_next_at": None,
                                        "webhook_error": None}
    elif delivery.attempt >= MAX_ATTEMPTS:
        outcome, values = "failed", {"webhook_failed_at": now, "webhook_next_at": None,
                                     "webhook_error": error[:ERROR_MAX]}
    else:
        outcome, values = "retry", {"webhook_error": error[:ERROR_MAX], "webhook_next_at":
                                    now + dt.timedelta(seconds=backoff_s(delivery.attempt, rand))}
    # Only while the claim is ours: after a lease ran out another sender may hold the message.
    changed = db_session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == delivery.id, OutboxMessage.webhook_attempts == delivery.attempt,
               OutboxMessage.webhook_next_at.is_not(None))
        .values(**values).execution_options(synchronize_session=False)).rowcount
    return outcome if changed else "stale"


def post(client: httpx.Client, url: str, secret: str, delivery: Delivery) -> str | None:
    """POST one delivery, signed; return None on a 2xx answer, else what went wrong."""
    body = body_of(delivery)
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "SmartGo-Webhooks/1",
               "X-SmartGo-Event": delivery.kind, "X-SmartGo-Delivery": str(delivery.id),
               "X-SmartGo-Timestamp": str(timestamp),
               "X-SmartGo-Signature": f"v1={sign(secret, timestamp, body)}"}
    try:
        with client.stream("POST", url, content=body, headers=headers) as resp:
            if 200 <= resp.status_code < 300:
                return None
            # Only the start of the answer: enough to say why, without reading a large page.
            head = next(resp.iter_bytes(), b"")[:200].decode("utf-8", "replace")
            return f"HTTP {resp.status_code}: {head}".strip()
    except httpx.HTTPError as err:
        return f"{type(err).__name__}: {err}"


def deliver_webhooks(rt: Runtime, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Send the due outbox messages to SMARTGO_WEBHOOK_URL; return counts of each outcome."""
    settings = rt.settings
    if not settings.webhook_url:
        return {}
    clock = (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
    counts: dict[str, Any] = {"delivered": 0, "retry": 0, "failed": 0, "stale": 0}
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        client: httpx.Client | None = None
        pool: ThreadPoolExecutor | None = None
        while time.monotonic() - started < RUN_BUDGET_S:
            with rt.db.session() as s:
                batch = claim_due(db_session=s, now=clock(), wants=settings.webhook_wants)
            if not batch:
                break
            if client is None or pool is None:  # only with something to send: a client costs a TLS context
                client = stack.enter_context(httpx.Client(timeout=TIMEOUT_S, follow_redirects=False))
                pool = stack.enter_context(ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="webhook"))
            # No transaction is open while the receiver answers.
            errors = list(pool.map(partial(post, client, settings.webhook_url, settings.webhook_secret), batch))
            with rt.db.session() as s:
                for delivery, error in zip(batch, errors):
                    outcome = record_result(db_session=s, delivery=delivery, error=error, now=clock(),
                                            rand=random.random())
                    counts[outcome] += 1
    return counts
