"""The signed webhook relay against a real local receiver, on the database under test.

Most tests run the relay on a clock a day ahead and arm their messages there: the periodic job
of a running test server (real clock) never finds them due, so each run here is the only one.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

import infra.webhooks
from infra.db import utc
from infra.notify import OutboxMessage, load_notifier
from infra.settings import Settings
from infra.webhooks import (
    MAX_ATTEMPTS,
    backoff_s,
    claim_due,
    deliver_webhooks,
    record_result,
    sign,
    verify,
)
from tests.support.waiting import wait_for

SECRET = "whsec-" + "k" * 20
AHEAD = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every request, answers 200 unless told otherwise."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)  # by delivery id, consumed in order
    delays: dict[str, float] = field(default_factory=dict)  # by delivery id: answer this late

    def to(self, message_id: int) -> list[tuple[dict[str, str], bytes]]:
        """Return the requests that delivered one message."""
        return [r for r in self.requests if r[0].get("X-SmartGo-Delivery") == str(message_id)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = dict(self.headers.items())
            rec.requests.append((headers, body))
            delivery = headers.get("X-SmartGo-Delivery", "")
            time.sleep(rec.delays.get(delivery, 0))
            queued = rec.statuses.get(delivery, [])
            self.send_response(queued.pop(0) if queued else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{srv.server_address[1]}/hooks/smartgo"
    yield rec
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def webhook(rt, monkeypatch, receiver: Receiver) -> Iterator[Receiver]:  # noqa: ANN001
    """Turn the webhook on towards the receiver; disarm whatever is left armed afterwards."""
    monkeypatch.setattr(rt.settings, "webhook_url", receiver.url)
    monkeypatch.setattr(rt.settings, "webhook_secret", SECRET)
    monkeypatch.setattr(rt.settings, "webhook_kinds", "recording.")
    yield receiver
    with rt.db.session() as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.webhook_next_at.is_not(None))
                  .values(webhook_next_at=None))


def arm(rt, kind: str = "recording.completed", at: dt.datetime = AHEAD) -> int:  # noqa: ANN001
    """Write an outbox message armed for the webhook at a given time; return its id."""
    with rt.db.session() as s:
        msg = OutboxMessage(kind=kind, recipient="sub-webhooks", payload={"recording_id": "r1", "state": "completed"},
                            created_at=dt.datetime.now(dt.UTC), webhook_next_at=at)
        s.add(msg)
        s.flush()
        return msg.id


def notify(rt, kind: str) -> int:  # noqa: ANN001
    """Write a message the way the recorder does, through the configured notifier; return its id."""
    with rt.db.session() as s:
        load_notifier(rt.settings).send(db_session=s, kind=kind, recipient="sub-webhooks",
                                       payload={"recording_id": "r2", "state": "failed"})
        return s.query(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1).scalar()


def row(rt, message_id: int) -> OutboxMessage:  # noqa: ANN001
    with rt.db.session(write=False) as s:
        return s.get(OutboxMessage, message_id)


def test_a_recording_event_is_delivered_signed(rt, webhook: Receiver) -> None:  # noqa: ANN001
    message_id = notify(rt, "recording.failed")
    assert row(rt, message_id).webhook_next_at is not None  # armed in the writer's transaction
    deliver_webhooks(rt)  # or the test server's periodic job does: either way, once
    ((headers, body),) = wait_for(lambda: webhook.to(message_id), 10, "the delivery")
    assert verify(SECRET, headers["X-SmartGo-Timestamp"], body, headers["X-SmartGo-Signature"])
    assert not verify("another-secret-0123456789", headers["X-SmartGo-Timestamp"], body,
                      headers["X-SmartGo-Signature"])
    assert headers["X-SmartGo-Event"] == "recording.failed"
    assert headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert sent["id"] == message_id and sent["kind"] == "recording.failed"
    assert sent["recipient"] == "sub-webhooks" and sent["payload"] == {"recording_id": "r2", "state": "failed"}
    assert dt.datetime.fromisoformat(sent["created_at"]).tzinfo is not None
    msg = wait_for(lambda: (m := row(rt, message_id)).webhook_delivered_at and m, 10, "the delivery recorded")
    assert msg.webhook_next_at is None and msg.webhook_attempts == 1 and msg.webhook_error is None


def test_a_delivered_message_is_never_sent_again(rt, webhook: Receiver) -> None:  # noqa: ANN001
    message_id = arm(rt)
    assert deliver_webhooks(rt, now=AHEAD)["delivered"] >= 1
    for later in (AHEAD + dt.timedelta(hours=2), AHEAD + dt.timedelta(days=30)):
        deliver_webhooks(rt, now=later)
    assert len(webhook.to(message_id)) == 1
    assert row(rt, message_id).webhook_attempts == 1


def test_an_error_answer_is_retried_with_back_off(rt, webhook: Receiver) -> None:  # noqa: ANN001
    message_id = arm(rt)
    webhook.statuses[str(message_id)] = [500]
    deliver_webhooks(rt, now=AHEAD)
    msg = row(rt, message_id)
    assert msg.webhook_attempts == 1 and msg.webhook_delivered_at is None
    assert msg.webhook_error.startswith("HTTP 500")
    wait = (utc(msg.webhook_next_at) - AHEAD).total_seconds()
    assert 4.0 <= wait <= 6.0  # 5 s, jittered
    deliver_webhooks(rt, now=AHEAD + dt.timedelta(seconds=3))  # not due yet
    assert len(webhook.to(message_id)) == 1
    deliver_webhooks(rt, now=utc(msg.webhook_next_at))
    msg = row(rt, message_id)
    assert msg.webhook_delivered_at is not None and msg.webhook_attempts == 2 and msg.webhook_next_at is None
    first, second = webhook.to(message_id)
    assert first[1] == second[1]  # the same body, the same delivery id: the receiver dedupes


@pytest.mark.parametrize("answer,error", [("redirect", "HTTP 302"), ("slow", "ReadTimeout")])
def test_redirects_and_timeouts_are_failed_attempts(rt, webhook, monkeypatch, answer, error) -> None:  # noqa: ANN001
    message_id = arm(rt)
    if answer == "redirect":  # not followed: the signature was made for this URL's receiver
        webhook.statuses[str(message_id)] = [302]
    else:
        monkeypatch.setattr(infra.webhooks, "TIMEOUT_S", 0.2)
        webhook.delays[str(message_id)] = 1.0
    deliver_webhooks(rt, now=AHEAD)
    msg = row(rt, message_id)
    assert msg.webhook_error.startswith(error) and msg.webhook_attempts == 1
    assert msg.webhook_delivered_at is None and utc(msg.webhook_next_at) > AHEAD
    assert len(webhook.to(message_id)) == 1


def test_a_receiver_that_is_down_is_given_up_after_the_last_attempt(rt, webhook, monkeypatch) -> None:  # noqa: ANN001
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(rt.settings, "webhook_url", f"http://127.0.0.1:{port}/hooks")
    message_id = arm(rt)
    now = AHEAD
    for attempt in range(1, MAX_ATTEMPTS + 1):
        deliver_webhooks(rt, now=now)
        msg = row(rt, message_id)
        assert msg.webhook_attempts == attempt and "ConnectError" in msg.webhook_error
        if attempt < MAX_ATTEMPTS:
            assert utc(msg.webhook_next_at) > now
            now = utc(msg.webhook_next_at)
    assert msg.webhook_failed_at is not None and msg.webhook_next_at is None and msg.webhook_delivered_at is None
    deliver_webhooks(rt, now=now + dt.timedelta(days=7))
    assert row(rt, message_id).webhook_attempts == MAX_ATTEMPTS


def test_kinds_not_subscribed_are_not_sent(rt, webhook: Receiver, monkeypatch) -> None:  # noqa: ANN001
    reset_id = notify(rt, "password_reset")
    assert row(rt, reset_id).webhook_next_at is None  # never armed
    armed_id = arm(rt, "recording.completed")
    monkeypatch.setattr(rt.settings, "webhook_kinds", "billing.")  # unsubscribed after it was armed
    deliver_webhooks(rt, now=AHEAD)
    assert webhook.to(reset_id) == [] and webhook.to(armed_id) == []
    msg = row(rt, armed_id)
    assert msg.webhook_next_at is None and msg.webhook_attempts == 0 and "not subscribed" in msg.webhook_error


def test_nothing_is_sent_when_no_url_is_set(rt, receiver: Receiver, monkeypatch) -> None:  # noqa: ANN001
    assert rt.settings.webhook_url == ""
    message_id = notify(rt, "recording.completed")
    assert row(rt, message_id).webhook_next_at is None
    assert deliver_webhooks(replace(rt, db=None)) == {}  # no database needed: not one query
    # Turned on later, it does not replay what was written while it was off.
    monkeypatch.setattr(rt.settings, "webhook_url", receiver.url)
    monkeypatch.setattr(rt.settings, "webhook_secret", SECRET)
    deliver_webhooks(rt, now=AHEAD)
    assert receiver.to(message_id) == []


def test_a_dead_senders_claim_expires_and_its_late_result_is_ignored(rt, webhook: Receiver) -> None:  # noqa: ANN001
    message_id = arm(rt)
    with rt.db.session() as s:
        (dead,) = [d for d in claim_due(db_session=s, now=AHEAD, wants=rt.settings.webhook_wants)
                   if d.id == message_id]
    deliver_webhooks(rt, now=AHEAD + dt.timedelta(seconds=10))  # still leased to the dead sender
    assert webhook.to(message_id) == []
    deliver_webhooks(rt, now=AHEAD + dt.timedelta(minutes=10))
    assert len(webhook.to(message_id)) == 1
    with rt.db.session() as s:
        assert record_result(db_session=s, delivery=dead, error="HTTP 502", now=AHEAD, rand=0.5) == "stale"
    msg = row(rt, message_id)
    assert msg.webhook_delivered_at is not None and msg.webhook_attempts == 2 and msg.webhook_error is None


def test_two_senders_never_claim_the_same_message(rt, webhook: Receiver) -> None:  # noqa: ANN001
    if rt.db.is_sqlite:
        pytest.skip("SQLite has one writer; PostgreSQL claims with FOR UPDATE SKIP LOCKED")
    ids = {arm(rt) for _ in range(3)}
    with rt.db.sessionmaker() as first, rt.db.sessionmaker() as second:
        a = {d.id for d in claim_due(db_session=first, now=AHEAD, wants=rt.settings.webhook_wants, limit=2)}
        b = {d.id for d in claim_due(db_session=second, now=AHEAD, wants=rt.settings.webhook_wants)}
        first.commit()
        second.commit()
    assert len(a & ids) == 2 and a.isdisjoint(b) and ids <= a | b


NOW = 1_800_000_000
BODY = b'{"id":1,"kind":"recording.completed"}'
GOOD = f"v1={sign(SECRET, NOW, BODY)}"


@pytest.mark.parametrize("secret,timestamp,body,signature,ok", [
    (SECRET, NOW, BODY, GOOD, True),
    (SECRET, str(NOW), BODY.decode(), GOOD, True),  # header strings and text bodies
    (SECRET, NOW - 299, BODY, f"v1={sign(SECRET, NOW - 299, BODY)}", True),
    (SECRET, NOW, BODY, f"v1=00ff, {GOOD}", True),  # any of several v1 entries
    ("x" * 26, NOW, BODY, GOOD, False),  # another secret
    (SECRET, NOW, BODY + b" ", GOOD, False),  # the body was changed
    (SECRET, NOW + 1, BODY, GOOD, False),  # the timestamp was changed
    (SECRET, NOW - 301, BODY, f"v1={sign(SECRET, NOW - 301, BODY)}", False),  # too old: a replay
    (SECRET, NOW + 301, BODY, f"v1={sign(SECRET, NOW + 301, BODY)}", False),  # too far ahead
    (SECRET, "yesterday", BODY, GOOD, False),
    (SECRET, NOW, BODY, GOOD[3:], False),  # no scheme
    (SECRET, NOW, BODY, "v0=" + GOOD[3:], False),
    (SECRET, NOW, BODY, "", False),
    (SECRET, NOW, BODY, None, False),  # no header at all
    (SECRET, NOW, BODY, "v1=żółw" + GOOD[3:], False),  # characters a hex digest never has
])
def test_verify(secret, timestamp, body, signature, ok) -> None:  # noqa: ANN001
    assert verify(secret, timestamp, body, signature, now=NOW) is ok


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:  # as `openssl dgst -sha256 -hmac secret` of "1.{}"
    assert sign("secret", 1, "{}") == "1122767b193110cfec322b6f199b599edbf608ed087f2d27afb0b97d99523908"


@pytest.mark.parametrize("attempts,rand,wait", [
    (1, 0.5, 5.0), (1, 0.0, 4.0), (1, 1.0, 6.0), (2, 0.5, 10.0), (5, 0.5, 80.0),
    (10, 0.5, 2560.0), (11, 0.5, 3600.0), (30, 1.0, 3600.0),
])
def test_backoff(attempts, rand, wait) -> None:  # noqa: ANN001
    assert backoff_s(attempts, rand) == pytest.approx(wait)


@pytest.mark.parametrize("env,match", [
    ({"webhook_url": "ftp://hooks.example.com/x", "webhook_secret": SECRET}, "SMARTGO_WEBHOOK_URL"),
    ({"webhook_url": "hooks.example.com/x", "webhook_secret": SECRET}, "SMARTGO_WEBHOOK_URL"),
    ({"webhook_url": "https:///x", "webhook_secret": SECRET}, "SMARTGO_WEBHOOK_URL"),
    ({"webhook_url": "https://hooks.example.com/x"}, "SMARTGO_WEBHOOK_SECRET"),
    ({"webhook_url": "https://hooks.example.com/x", "webhook_secret": "short"}, "SMARTGO_WEBHOOK_SECRET"),
    ({"webhook_url": "https://hooks.example.com/x", "webhook_secret": SECRET, "webhook_kinds": " , "},
     "SMARTGO_WEBHOOK_KINDS"),
])
def test_bad_webhook_settings_refuse_to_start(tmp_path, env, match) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):  # pydantic wraps the SettingsError
        Settings(data_dir=tmp_path, **env)


def test_webhook_settings(tmp_path) -> None:  # noqa: ANN001
    assert not Settings(data_dir=tmp_path).webhook_wants("recording.completed")  # off by default
    on = Settings(data_dir=tmp_path, webhook_url="https://hooks.example.com/x", webhook_secret=SECRET,
                  webhook_kinds="recording., billing.changed")
    assert on.webhook_wants("recording.failed") and on.webhook_wants("billing.changed")
    assert not on.webhook_wants("password_reset")
