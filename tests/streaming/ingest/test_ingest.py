"""Ingest over HTTP PUT: real encoded segments pushed by hand, and every kind of bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infra.storage import LocalObjectStore, S3ObjectStore
from streaming.formats.hls import format_pdt
from streaming.formats.hls_input import parse_pdt
from streaming.ingest.spool import segment_spool
from tests.support.ffmpeg import basic_auth
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg


PDT = "#EXT-X-PROGRAM-DATE-TIME:"


def shift_pdt(playlist: bytes, by_us: int) -> bytes:
    """Return an encoder playlist with every PROGRAM-DATE-TIME moved by by_us."""
    return b"\n".join(PDT.encode() + format_pdt(parse_pdt(line[len(PDT):].decode()) + by_us).encode()
                      if line.startswith(PDT.encode()) else line for line in playlist.split(b"\n"))


class Pusher:
    """Pushes files of the sample encode to one channel, as an encoder would.

    The sample was encoded faster than real time, so its PROGRAM-DATE-TIMEs run ahead of the
    wall clock, which ingest refuses to follow; this encoder's clock is set to have started
    `started_s_ago`.
    """

    def __init__(self, http, channel: dict, sample: Path, *, started_s_ago: float = 300) -> None:  # noqa: ANN001
        self.http, self.channel, self.sample = http, channel, sample
        self.auth = {"Authorization": basic_auth(channel["id"], channel["password"])}
        first = next(ln for ln in (sample / "360p" / "index.m3u8").read_text().splitlines() if ln.startswith(PDT))
        self.pdt_shift_us = time.time_ns() // 1000 - int(started_s_ago * 1e6) - parse_pdt(first[len(PDT):])

    def put(self, rendition: str, filename: str, body: bytes | None = None, *, seg_set: str = "cmaf",
            headers: dict | None = None):  # noqa: ANN201
        if body is None:
            local = filename if rendition == "360p" or not filename.startswith("init") else filename
            body = (self.sample / rendition / local).read_bytes()
        return self.http.put(f"/ingest/{self.channel['id']}/{seg_set}/{rendition}/{filename}",
                             content=body, headers=self.auth if headers is None else headers)

    def init(self) -> None:
        for rendition, name in (("360p", "init_0.mp4"), ("240p", "init_1.mp4")):
            assert self.put(rendition, "init.mp4", (self.sample / rendition / name).read_bytes()).status_code == 200

    def playlist_upto(self, rendition: str, last: int) -> bytes:
        """The sample's playlist cut after segment `last`, as a live encoder would send it."""
        lines, out, seen = (self.sample / rendition / "index.m3u8").read_text().splitlines(), [], -1
        for line in lines:
            if line == "#EXT-X-ENDLIST":
                continue
            if seen >= last and (line.startswith("#EXTINF") or line.startswith("seg_")):
                break
            out.append(line)
            if line.startswith("seg_"):
                seen = int(line[4:].split(".")[0])
        return shift_pdt(("\n".join(out) + "\n").encode(), self.pdt_shift_us)

    def segment(self, n: int, renditions=("360p", "240p")) -> None:  # noqa: ANN001
        for rendition in renditions:
            assert self.put(rendition, f"seg_{n}.m4s").status_code == 200
            resp = self.put(rendition, "index.m3u8", self.playlist_upto(rendition, n))
            assert resp.status_code == 200, resp.text

    def pace(self, n: int, segment_s: float = 1.92) -> None:
        """Wait until segment n would have been made by a live encoder that made segment 0 first."""
        if n == 0:
            self.started = time.monotonic()
        wait_for(lambda: time.monotonic() >= self.started + n * segment_s, 10 + n * segment_s, f"segment {n}'s time")

    def timeline(self, admin: dict) -> dict:
        return self.http.get(f"/v1/admin/channels/{self.channel['id']}/timeline", headers=admin).json()


@pytest.fixture
def pusher(http, make_channel, sample_hls) -> Pusher:  # noqa: ANN001
    return Pusher(http, make_channel(), sample_hls)


def _media(http, channel_id: str, rendition: str = "360p") -> str:  # noqa: ANN001
    return http.playlist(f"/live/{channel_id}/cmaf/{rendition}.m3u8").text


def test_segment_is_published_when_every_rendition_has_it(http, pusher, admin) -> None:  # noqa: ANN001
    pusher.init()
    pusher.segment(0, renditions=("360p",))
    assert "0.m4s" not in _media(http, pusher.channel["id"])  # 240p still missing
    pusher.segment(0, renditions=("240p",))
    text = wait_for(lambda: (t := _media(http, pusher.channel["id"])) and "360p/0.m4s" in t and t,
                    5, "segment 0 in the playlist")
    assert "#EXT-X-MAP:URI=\"360p/init-" in text
    seg = http.get(f"/live/{pusher.channel['id']}/cmaf/360p/0.m4s")
    assert seg.status_code == 200
    assert seg.content == (pusher.sample / "360p" / "seg_0.m4s").read_bytes()
    assert pusher.timeline(admin)["runs"][0]["count"] == 1


def test_sequence_numbers_keep_rising_across_an_encoder_restart(http, pusher, admin) -> None:  # noqa: ANN001
    pusher.init()
    for n in range(4):
        pusher.segment(n)
    # The encoder restarts: it sends its init segment again, its numbering starts again at 0
    # and its clock jumps ahead.
    pusher.init()
    for rendition in ("360p", "240p"):
        assert pusher.put(rendition, "seg_0.m4s").status_code == 200
        shifted = shift_pdt(pusher.playlist_upto(rendition, 0), 60_000_000)
        assert pusher.put(rendition, "index.m3u8", shifted).status_code == 200
    text = _media(http, pusher.channel["id"])
    runs = pusher.timeline(admin)["runs"]
    # Clock +60 s after 4 segments (7.68 s): a 52.32 s hole = 27 gap slots of 1.92 s + 0.48 s.
    assert [r["gap"] for r in runs] == [False, True, True, False]
    assert runs[1]["count"] == 27 and runs[2]["count"] == 1
    assert runs[3]["discontinuity"] and runs[3]["first_seq"] == 4 + 28
    assert "#EXT-X-GAP" in text and "#EXT-X-DISCONTINUITY" in text


BAD_PATHS = [
    ("/ingest/{ch}/cmaf/360p/..%2F..%2Fescape.m4s", {400, 404}),
    ("/ingest/{ch}/cmaf/360p/seg%2F1.m4s", {400, 404}),
    ("/ingest/{ch}/cmaf/360p/.hidden1.m4s", {400}),
    ("/ingest/{ch}/cmaf/360p/seg_1.exe", {415}),
    ("/ingest/{ch}/cmaf/nope/seg_1.m4s", {404}),
    ("/ingest/{ch}/dash/360p/seg_1.m4s", {404}),
    ("/ingest/no-such-channel/cmaf/360p/seg_1.m4s", {401}),
]


@pytest.mark.parametrize("path,statuses", BAD_PATHS)
def test_bad_paths_are_refused_and_nothing_is_written(http, pusher, admin, rt, path, statuses) -> None:  # noqa: ANN001
    before = sorted(rt.store.list(f"live/{pusher.channel['id']}"))
    resp = http.put(path.format(ch=pusher.channel["id"]), content=(pusher.sample / "360p" / "seg_1.m4s").read_bytes(),
                    headers=pusher.auth)
    assert resp.status_code in statuses, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"]["code"]
    assert sorted(rt.store.list(f"live/{pusher.channel['id']}")) == before
    # Nothing landed anywhere else in the store either (other tests' keys come and go meanwhile).
    assert not [k for k in rt.store.list("") if k.endswith(("escape.m4s", ".exe", ".hidden1.m4s"))
                or "/nope/" in k or "/dash/" in k or k.startswith("live/no-such-channel/")]
    assert pusher.timeline(admin)["runs"] == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic bm9wZTpub3Bl"}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic !!!"}])
def test_wrong_credentials_get_401(pusher, headers) -> None:  # noqa: ANN001
    resp = pusher.put("360p", "seg_1.m4s", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "INGEST_UNAUTHORIZED"
    assert resp.headers["www-authenticate"].startswith("Basic")


def test_non_media_bytes_are_refused(pusher, admin) -> None:  # noqa: ANN001
    for filename, body in (("seg_1.m4s", b"<html>not video</html>" * 50), ("init.mp4", b"\x00" * 100),
                           ("index.m3u8", b"\xff\xfe garbage"), ("index.m3u8", b"#EXTM3U\nseg_1.m4s\n")):
        resp = pusher.put("360p", filename, body)
        assert resp.status_code in (422, 400), (filename, resp.text)
        assert resp.json()["error"]["code"] in ("NOT_MEDIA", "INVALID_PLAYLIST")
    assert pusher.timeline(admin)["runs"] == []


def test_segment_longer_than_target_duration_is_refused(http, pusher, admin) -> None:  # noqa: ANN001
    pusher.init()
    for rendition in ("360p", "240p"):
        assert pusher.put(rendition, "seg_0.m4s").status_code == 200
        playlist = pusher.playlist_upto(rendition, 0).replace(b"#EXTINF:1.920000", b"#EXTINF:9.500000")
        resp = pusher.put(rendition, "index.m3u8", playlist)
        assert resp.status_code == 422
        assert resp.json()["error"]["code"] == "SEGMENT_TOO_LONG"
    assert pusher.timeline(admin)["runs"] == []
    assert "0.m4s" not in _media(http, pusher.channel["id"])


def test_duplicate_and_out_of_order_segments_are_refused(pusher, admin) -> None:  # noqa: ANN001
    pusher.init()
    pusher.segment(0)
    pusher.segment(1)
    pusher.segment(3)
    before = pusher.timeline(admin)
    dup = pusher.put("360p", "seg_3.m4s")
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "DUPLICATE_SEGMENT"
    late = pusher.put("360p", "seg_2.m4s")
    assert late.status_code == 409 and late.json()["error"]["code"] == "OUT_OF_ORDER_SEGMENT"
    assert pusher.timeline(admin)["runs"] == before["runs"]


def test_unknown_channel_and_rendition_on_the_origin_are_404(http, pusher) -> None:  # noqa: ANN001
    for path, code in (("/live/nope/cmaf/master.m3u8", "CHANNEL_NOT_FOUND"),
                       (f"/live/{pusher.channel['id']}/cmaf/999p.m3u8", "RENDITION_NOT_FOUND"),
                       (f"/live/{pusher.channel['id']}/ts/master.m3u8", "NOT_FOUND"),
                       (f"/live/{pusher.channel['id']}/cmaf/360p/77.m4s", "SEGMENT_NOT_FOUND"),
                       ("/live/../etc/passwd", "NOT_FOUND")):
        resp = http.get(path)
        assert resp.status_code == 404, path
        assert resp.json()["error"]["code"] == code


def test_storage_outage_past_the_spool_gives_503_and_nothing_half_published(http, pusher, admin, rt, tmp_path,
                                                                            monkeypatch) -> None:  # noqa: ANN001
    pusher.init()
    pusher.segment(0)
    before = pusher.timeline(admin)
    monkeypatch.setattr(segment_spool(rt), "max_bytes", 0)  # the spool is full (tests/streaming/ingest/test_spool.py)
    healthy = rt.store
    if isinstance(healthy, S3ObjectStore):
        broken = S3ObjectStore(healthy.bucket, endpoint_url="http://127.0.0.1:9", timeout_s=0.5)
    else:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("x")
        broken = LocalObjectStore(tmp_path / "spare")
        broken.root = blocker / "objects"  # writing under a file fails like a dead disk
    rt.store = broken
    try:
        resp = pusher.put("360p", "seg_1.m4s")
    finally:
        rt.store = healthy
    assert resp.status_code == 503
    assert resp.headers["retry-after"]
    assert resp.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
    assert pusher.timeline(admin)["runs"] == before["runs"]
    # The encoder retries and everything continues.
    wait_for(lambda: rt.health.is_up("storage"), 5, "the storage probe to see storage back")
    pusher.segment(1)
    assert pusher.timeline(admin)["runs"][0]["count"] == 2


def test_our_packagers_segments_time_themselves_and_its_playlists_are_not_needed(
        http, make_channel, sample_hls, admin) -> None:  # noqa: ANN001
    # A channel with a source is pushed by our packager (none runs here: we push by hand).
    pusher = Pusher(http, make_channel(source_url="udp://239.0.0.1:1234"), sample_hls)
    pusher.init()
    for n in (0, 1):
        pusher.pace(n)
        for rendition in ("360p", "240p"):
            # The last track to arrive publishes the segment: no playlist was needed.
            published = 1 if rendition == "240p" else 0
            assert pusher.put(rendition, f"seg_{n}.m4s").json() == {"kind": "segment", "published": published}
    runs = pusher.timeline(admin)["runs"]
    assert [(r["first_seq"], r["count"]) for r in runs] == [(0, 2)]
    text = _media(http, pusher.channel["id"])
    assert "#EXTINF:1.920000," in text and "360p/1.m4s" in text
    resp = pusher.put("360p", "index.m3u8", pusher.playlist_upto("360p", 1))
    assert resp.status_code == 200 and resp.json()["kind"] == "playlist"
    assert pusher.timeline(admin)["runs"] == runs


def test_a_segment_whose_boxes_say_it_is_too_long_is_refused_before_it_is_recorded(
        http, make_channel, sample_hls, admin, rt) -> None:  # noqa: ANN001
    # 0.96 s segments allow TARGETDURATION 1; the sample's 1.92 s segments are too long.
    channel = make_channel(source_url="udp://239.0.0.1:1234", segment_duration_ms=960)
    pusher = Pusher(http, channel, sample_hls)
    pusher.init()
    resp = pusher.put("360p", "seg_0.m4s")
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "SEGMENT_TOO_LONG"
    assert resp.json()["error"]["details"]["segments"][0]["duration_s"] == 1.92
    assert [k for k in rt.store.list(f"live/{channel['id']}") if k.endswith(".m4s")] == []
    assert pusher.timeline(admin)["runs"] == []


def test_ingest_answers_other_methods_and_short_paths_with_json_errors(http, pusher) -> None:  # noqa: ANN001
    cid = pusher.channel["id"]
    for method, path, status, code in (("GET", f"/ingest/{cid}/cmaf/360p/seg_1.m4s", 405, "METHOD_NOT_ALLOWED"),
                                       ("PUT", f"/ingest/{cid}/cmaf/seg_1.m4s", 404, "NOT_FOUND"),
                                       ("PUT", f"/ingest/{cid}/cmaf/360p/a/seg_1.m4s", 404, "NOT_FOUND")):
        resp = http.request(method, path, headers=pusher.auth, content=b"x")
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), path
    assert http.delete(f"/ingest/{cid}/cmaf/360p/seg_1.m4s", headers=pusher.auth).status_code == 204
    assert http.delete(f"/ingest/{cid}/cmaf/360p/seg_1.m4s").status_code == 401


@pytest.mark.parametrize("packaged", [False, True], ids=["external-encoder", "our-packager"])
def test_a_stray_segment_from_another_pusher_never_moves_the_live_edge(
        http, make_channel, sample_hls, admin, rt, packaged: bool) -> None:  # noqa: ANN001
    """Issue 19: one segment pushed with the channel's credentials by another pusher (its own
    numbering, a clock 4 s ahead) moved PROGRAM-DATE-TIME ahead of the wall clock for good."""
    channel = make_channel(source_url="udp://239.0.0.1:1234") if packaged else make_channel()
    # A live encoder: each segment ended 0.2 s before it is pushed.
    pusher = Pusher(http, channel, sample_hls, started_s_ago=1.92 + 0.2)
    pusher.init()

    def push(n: int, name: str | None = None, pdt_shift_us: int = 0) -> None:
        for rendition in ("360p", "240p"):
            assert pusher.put(rendition, name or f"seg_{n}.m4s", (sample_hls / rendition / f"seg_{n}.m4s").read_bytes()
                              ).status_code == 200
            if not packaged:
                playlist = shift_pdt(pusher.playlist_upto(rendition, n), pdt_shift_us)
                if name:
                    playlist = playlist.replace(f"seg_{n}.m4s".encode(), name.encode())
                assert pusher.put(rendition, "index.m3u8", playlist).status_code == 200

    for n in (0, 1):
        pusher.pace(n)
        push(n)
    edge = wait_for(lambda: (runs := pusher.timeline(admin)["runs"]) and sum(r["count"] for r in runs) == 2 and runs,
                    10, "segments 0 and 1")[-1]
    push(2, name="seg_900.m4s", pdt_shift_us=4_000_000)  # the other pusher, 4 s ahead
    pusher.pace(2)
    push(2)
    runs = wait_for(lambda: (r := pusher.timeline(admin)["runs"]) and sum(x["count"] for x in r) >= 3 and r,
                    10, "segment 2")
    assert sum(r["count"] for r in runs) == 3, runs  # segments 0, 1 and 2: not the stray
    now_us = time.time_ns() // 1000
    # The stray is not on the timeline, its bytes are gone, and the encoder's segment 2 follows
    # segment 1 where its own clock says: nothing ahead of the wall clock, no gap.
    assert not any(r["gap"] for r in runs)
    assert runs[0]["start"] == edge["start"] and runs[-1]["start"] in (edge["start"], edge["end"])
    assert parse_pdt(runs[-1]["end"]) <= now_us + 960_000
    assert not [k for k in rt.store.list(f"live/{channel['id']}") if k.endswith("/900.m4s")]
    text = _media(http, channel["id"])
    assert text.count(".m4s") == 3 and "#EXT-X-GAP" not in text
    if not packaged:  # the encoder's wall clock, to the millisecond
        pdt = parse_pdt(next(ln for ln in pusher.playlist_upto("360p", 2).decode().splitlines()[::-1]
                             if ln.startswith(PDT))[len(PDT):])
        assert f"{PDT}{format_pdt(pdt)}" in text
