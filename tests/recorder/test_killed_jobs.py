"""A worker killed in the middle of a recording's job leaves nothing the next run cannot finish."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from infra.notify import OutboxMessage
from recorder import jobs as recorder_jobs
from recorder import service
from recorder.models import Recording, StoredCopy
from streaming.copies import service as copies
from streaming.timeline.models import TimelinePin
from tests.entitlements.conftest import bearer, login
from tests.recorder.conftest import fill_archive
from tests.recorder.test_recording_playback import record
from tests.support.processes import smartgo_env

S = 1_000_000
ROOT = Path(__file__).resolve().parents[2]


def _killed_when_paused(settings, *args: str) -> None:  # noqa: ANN001
    """Run a job in a child process up to its pause point, then kill it like a crashed worker."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.killable", *args], cwd=ROOT,
                            env=smartgo_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    try:
        assert line and line[0].strip() == "paused", f"the job never paused: {proc.stderr.read()[-2000:]}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def _events(rt, recording_id: str) -> list[str]:  # noqa: ANN001
    with rt.db.session(write=False) as s:
        return [m.kind for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("recording.%")))
                if m.payload.get("recording_id") == recording_id]


def test_a_worker_killed_mid_job_leaves_what_the_next_run_finishes(  # noqa: ANN001
        http, admin, rt, settings, make_channel, make_package, make_subscriber) -> None:
    cid = make_channel()["id"]
    assert http.put(f"/v1/admin/channels/{cid}/rights", headers=admin, json={"recording_copy": "private"}).status_code \
        == 200
    # A window a few minutes ahead, already in the index: the server's own periodic job leaves it
    # alone, while the jobs here are told it is over.
    t0 = (int(time.time()) + 300) * S
    run, tracks = fill_archive(rt, cid, t0, 10)
    package = make_package(channels=[cid], recording_hours=1)
    viewer = bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())
    at = lambda us: dt.datetime.fromtimestamp(us / S, dt.UTC).isoformat()  # noqa: E731
    rec = record(http, viewer, channel_id=cid, start=at(t0 + 2 * S), end=at(t0 + 16 * S)).json()
    later = dt.datetime.fromtimestamp(t0 / S + 60, dt.UTC)

    # Killed while copying (the copy is made once the recording finishes; the storage step is run
    # here ahead of that, so the server's own job cannot make it meanwhile): some objects copied,
    # no index, the copy not made.
    with rt.db.session(write=False) as s:
        copy = s.get(StoredCopy, s.get(Recording, rec["id"]).copy_id)
        s.expunge(copy)
    _killed_when_paused(settings, "copy", copy.id, cid, str(copy.start_us), str(copy.end_us))
    left = set(rt.store.list(copies.copy_prefix(copy.id)))
    assert 3 <= len(left) <= 7 * len(tracks) and copies.index_key(copy.id) not in left
    with rt.db.session(write=False) as s:
        assert s.get(StoredCopy, copy.id).copied_at is None
        assert s.get(TimelinePin, (f"copy:{copy.id}", cid)) is not None  # the archive is still held

    # Killed while finishing: after the state and the event were written, before the commit.
    _killed_when_paused(settings, "finalize", rec["id"], later.isoformat())
    with rt.db.session(write=False) as s:
        assert s.get(Recording, rec["id"]).state == "scheduled"
    assert _events(rt, rec["id"]) == []
    with rt.db.session() as s:
        assert service.finalize(rt, db_session=s, recording_id=rec["id"], now=later) == "completed"
    assert _events(rt, rec["id"]) == ["recording.completed"]

    # The next run makes the whole copy.
    recorder_jobs.make_private_copy(rt, copy.id)  # (the server's periodic pass may be making it too: harmless)
    stored = set(rt.store.list(copies.copy_prefix(copy.id)))
    assert len(stored) == 7 * len(tracks) + 1 and copies.index_key(copy.id) in stored
    runs, holes = copies.load_index(rt, copy.id)
    assert runs == [run] and holes == set()
    with rt.db.session(write=False) as s:
        made = s.get(StoredCopy, copy.id)
        assert made.copied_at is not None and made.bytes == 7 * len(tracks) * 1000
        assert s.get(TimelinePin, (f"copy:{copy.id}", cid)) is None
    assert recorder_jobs.make_private_copy(rt, copy.id) == 0  # done: a repeated job changes nothing
    assert _events(rt, rec["id"]) == ["recording.completed"]
