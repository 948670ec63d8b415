"""The billing and self-care integration: signed requests and idempotent changes.

A billing client signs each request with its shared secret:

    X-SmartGo-Key-Id: crm
    X-SmartGo-Timestamp: 1764547200                 (Unix seconds)
    Idempotency-Key: <the client's id of this change>
    X-SmartGo-Signature: hex(HMAC-SHA256(secret,
        "{timestamp}\\n{METHOD}\\n{path?query}\\n{Idempotency-Key or ''}\\n{hex(SHA-256(body))}"))

A timestamp more than ``billing_max_skew_s`` away is stale; a signature seen before is a
replay. A client that retries a change (after a timeout, say) signs it again with a fresh
timestamp and sends the same Idempotency-Key: the stored answer comes back, nothing changes twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from entitlements.accounts.errors import (
    BadSignature,
    BillingAuthRequired,
    IdempotencyMismatch,
    ReplayedRequest,
    RequestIdRequired,
    RequestInProgress,
    StaleRequest,
)
from entitlements.accounts.models import BillingRequest
from infra.cache import Cache


def signature(secret: str, timestamp: str, method: str, target: str, body: bytes,
              request_id: str | None = None) -> str:
    """Return the signature of a billing request (what the client sends)."""
    message = "\n".join((timestamp, method.upper(), target, request_id or "", hashlib.sha256(body).hexdigest()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_request(*, keys: dict[str, str], cache: Cache, key_id: str | None, timestamp: str | None,
                   signature_hex: str | None, method: str, target: str, body: bytes, now: float,
                   max_skew_s: float, request_id: str | None = None) -> str:
    """Check a billing request's signature, age and novelty; return the client's key id."""
    if not key_id or not timestamp or not signature_hex:
        raise BillingAuthRequired("billing requests need X-SmartGo-Key-Id, X-SmartGo-Timestamp "
                                  "and X-SmartGo-Signature")
    secret = keys.get(key_id)
    expected = signature(secret, timestamp, method, target, body, request_id) if secret else ""
    if not secret or not hmac.compare_digest(expected, signature_hex.lower()):
        raise BadSignature("the request signature does not match")
    try:
        sent = int(timestamp)
    except ValueError:
        raise StaleRequest("X-SmartGo-Timestamp must be Unix seconds") from None
    if abs(now - sent) > max_skew_s:
        raise StaleRequest(f"the request is older (or newer) than {max_skew_s:g} s; sign it again",
                           server_time=int(now))
    # Remembered for twice the skew: past that the timestamp alone refuses a replay.
    if not cache.add(f"billing:sig:{expected}", b"1", 2 * max_skew_s):
        raise ReplayedRequest("this signed request was already received; retries must be signed again")
    return key_id


def idempotent(*, db_session: Session, client: str, request_id: str | None, body: bytes,
               run: Callable[[], tuple[int, dict]]) -> tuple[int, dict, bool]:
    """Run a change once per request id; return (status, response, replayed)."""
    if not request_id or len(request_id) > 100:
        raise RequestIdRequired("send an Idempotency-Key header (at most 100 characters) with each change")
    key = f"{client}:{request_id}"
    digest = hashlib.sha256(body).hexdigest()
    done = db_session.get(BillingRequest, key)
    if done is not None:
        if done.body_sha256 != digest:
            raise IdempotencyMismatch("this Idempotency-Key was used for a different request")
        return done.status_code, done.response, True
    # The row is written first, in the change's own transaction: a concurrent duplicate
    # waits on it and then finds it taken.
    record = BillingRequest(key=key, body_sha256=digest, status_code=0, response={},
                            created_at=dt.datetime.now(dt.UTC))
    db_session.add(record)
    try:
        db_session.flush()
    except IntegrityError as err:
        raise RequestInProgress("a request with this Idempotency-Key is being carried out") from err
    status, response = run()
    record.status_code, record.response = status, response
    db_session.flush()
    return status, response, False
