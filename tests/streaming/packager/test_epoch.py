"""Packager nodes ride out their lease store, and the epoch keeps a node that lost a channel out."""

from __future__ import annotations

import base64
import re
import time
import uuid

import pytest

from infra.health import Health
from infra.leases import Leases, LeaseStoreUnavailable
from streaming.ingest import store as service
from streaming.ingest.state import ChannelIngest, admit_epoch
from streaming.packager.node import EPOCH_HEADER, LEASE_PREFIX
from tests.support.channels import channel_body
from tests.support.nodes import NodeThread
from tests.support.waiting import wait_for


@pytest.mark.parametrize(("stored", "pushed", "admitted", "after"), [
    (0, None, True, 0),  # an external encoder: not fenced
    (3, None, True, 3),
    (0, 1, True, 1),  # the first node
    (3, 3, True, 3),  # the node that holds it
    (3, 4, True, 4),  # a node that took it since: noted
    (3, 2, False, 3),  # a node that lost it
])
def test_admit_epoch(stored: int, pushed: int | None, admitted: bool, after: int) -> None:
    chan = ChannelIngest("ch", 1, 1, 0, {}, packager_epoch=stored)
    assert admit_epoch(chan, pushed) is admitted
    assert chan.packager_epoch == after
    assert chan.changed is (after != stored)


def _auth(channel: dict) -> str:
    return "Basic " + base64.b64encode(f"{channel['id']}:{channel['password']}".encode()).decode()


def test_ingest_refuses_a_push_from_a_node_whose_epoch_was_superseded(http, rt, make_channel, sample_hls) -> None:  # noqa: ANN001
    channel = make_channel()
    cid = channel["id"]
    with rt.db.session() as s:
        first = service.take_packager_epoch(db_session=s, channel_id=cid)
    init = (sample_hls / "360p" / "init_0.mp4").read_bytes()
    segment = (sample_hls / "360p" / "seg_0.m4s").read_bytes()

    def push(name: str, body: bytes, epoch: int | None):  # noqa: ANN202
        headers = {"Authorization": _auth(channel)}
        if epoch is not None:
            headers[EPOCH_HEADER] = str(epoch)
        return http.put(f"/ingest/{cid}/cmaf/360p/{name}", content=body, headers=headers)

    assert push("init.mp4", init, first).status_code == 200
    assert push("seg_00000.m4s", segment, first).status_code == 200
    with rt.db.session() as s:  # another node takes the channel
        second = service.take_packager_epoch(db_session=s, channel_id=cid)
    assert second == first + 1
    stored_before = sorted(rt.store.list(f"live/{cid}/"))
    stale = push("seg_00001.m4s", (sample_hls / "360p" / "seg_1.m4s").read_bytes(), first)
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "STALE_PACKAGER"), stale.text
    assert sorted(rt.store.list(f"live/{cid}/")) == stored_before  # nothing of it kept
    assert push("init.mp4", init, second).status_code == 200
    assert push("seg_00000.m4s", segment, second).status_code == 200
    # Once seen, a stale epoch is refused before its bytes are even stored.
    again = push("seg_00002.m4s", (sample_hls / "360p" / "seg_2.m4s").read_bytes(), first)
    assert again.json()["error"]["code"] == "STALE_PACKAGER"
    assert push("seg_00001.m4s", (sample_hls / "360p" / "seg_1.m4s").read_bytes(), None).status_code == 200
    bad = http.put(f"/ingest/{cid}/cmaf/360p/seg_00003.m4s", content=segment,
                   headers={"Authorization": _auth(channel), EPOCH_HEADER: "-1"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "INVALID_EPOCH")


class FlakyLeases(Leases):
    """The process's leases, unreachable while ``down`` is set (Redis killed or frozen)."""

    def __init__(self, inner: Leases) -> None:
        self.inner, self.down = inner, False

    def _check(self) -> None:
        if self.down:
            raise LeaseStoreUnavailable("lease store unavailable")

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        self._check()
        return self.inner.acquire(name, holder, ttl_s)

    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        self._check()
        return self.inner.renew(name, holder, ttl_s)

    def release(self, name: str, holder: str) -> None:
        self._check()
        self.inner.release(name, holder)

    def holder(self, name: str) -> str | None:
        self._check()
        return self.inner.holder(name)


def _last_seq(http, cid: str) -> int:  # noqa: ANN001
    seqs = [int(s) for s in re.findall(r"360p/(\d+)\.m4s", http.get(f"/live/{cid}/cmaf/360p.m3u8").text)]
    return max(seqs) if seqs else -1


@pytest.mark.ffmpeg
@pytest.mark.once  # the node's logic is the same over either lease store: one pass is enough
def test_a_node_keeps_its_channels_through_a_lease_store_outage_and_yields_to_a_newer_epoch(
        http, admin, rt, server, monkeypatch) -> None:  # noqa: ANN001
    flaky = FlakyLeases(rt.leases)
    monkeypatch.setattr(rt, "leases", flaky)
    # The outage is told to a health monitor of the test's own: the session's would say Redis is
    # away for every later test on this worker (nothing probes a Redis the embedded mode lacks).
    monkeypatch.setattr(rt, "health", Health())
    cid = f"ep-{uuid.uuid4().hex[:8]}"
    a = NodeThread(rt, server, "node-a-" + cid).start()
    b = None
    try:
        assert http.post("/v1/admin/channels", json=channel_body(cid, source_url="testcard:"),
                         headers=admin).status_code == 201
        wait_for(lambda: _last_seq(http, cid) >= 1, 40, "the channel live")
        # The lease store goes away for three lease lifetimes: the channel keeps publishing.
        flaky.down = True
        before, lost_at = _last_seq(http, cid), time.monotonic()
        wait_for(lambda: _last_seq(http, cid) >= before + 3, 20, "segments while the lease store is down")
        assert time.monotonic() - lost_at >= 0 and cid in a.holds()
        # It comes back empty (a restarted Redis) and another node takes the channel first.
        flaky.down = False
        rt.leases.release(LEASE_PREFIX + cid, a.node.node_id)
        b = NodeThread(rt, server, "node-b-" + cid).start()
        assert rt.leases.acquire(LEASE_PREFIX + cid, b.node.node_id, 10)
        wait_for(lambda: cid in b.holds() and cid not in a.holds(), 20, "node b to hold it alone")
        with rt.db.session(write=False) as s:
            epoch = s.connection().exec_driver_sql(
                "SELECT packager_epoch FROM channel_timeline_state WHERE channel_id = ?"
                if rt.db.is_sqlite else
                "SELECT packager_epoch FROM channel_timeline_state WHERE channel_id = %s", (cid,)).scalar()
        assert epoch == 2
        last = _last_seq(http, cid)
        wait_for(lambda: _last_seq(http, cid) >= last + 2, 30, "segments from node b")
        http.playlist(f"/live/{cid}/cmaf/360p.m3u8")  # conformant across the handover
    finally:
        flaky.down = False
        for node in (a, b):
            if node is not None and node.thread.is_alive():
                node.stop()
