"""Reconcile passes queue again what a lost job would have done (jobs are lost with Redis)."""

from __future__ import annotations

import datetime as dt
import secrets

from catalog.guide.models import Programme
from infra.db import new_id
from recorder import jobs as recorder_jobs
from tests.entitlements.conftest import bearer, login
from tests.support.guide import import_programmes, programme_ids
from tests.support.waiting import wait_for


def test_series_rules_record_an_episode_whose_job_was_lost(http, admin, rt, make_channel, make_package,  # noqa: ANN001
                                                           make_subscriber) -> None:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    cid = make_channel()["id"]
    start = now + dt.timedelta(hours=1)
    import_programmes(http, admin, cid, [(start, start + dt.timedelta(hours=1), "Klan 1", {"progid": "KLAN0001"})])
    package = make_package(channels=[cid], recording_hours=10)
    viewer = bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())
    first = programme_ids(http, viewer, cid, now, now + dt.timedelta(hours=3))["Klan 1"]
    assert http.post("/v1/me/series-rules", headers=viewer, json={"programme_id": first}).status_code == 201
    # A new episode the guide brought whose series job was lost with Redis: nothing records it...
    later = now + dt.timedelta(hours=5)
    with rt.db.session() as s:
        s.add(Programme(id=new_id(), channel_id=cid, start_at=later, end_at=later + dt.timedelta(hours=1),
                        title="Klan 2", series_id="KLAN", fingerprint=secrets.token_hex(16)))
    titles = lambda: sorted(r["title"] for r in http.get("/v1/me/recordings", headers=viewer).json()["items"])  # noqa: E731
    assert titles() == ["Klan 1"]
    # ...until the hourly reconcile pass queues the channel's rules again.
    assert recorder_jobs.reconcile_series_rules(rt) >= 1
    wait_for(lambda: titles() == ["Klan 1", "Klan 2"], 20, "the rule to record the new episode")
