"""Ingest over HTTP refuses what is not media: real segments mutated, refused with a code,
nothing stored, nothing published; and no client input is a 500."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.streaming.ingest.test_ingest import Pusher
from tests.support.bad_media import (
    box_at,
    first_trun_sizes_at,
    make_ts,
    put_u32,
    retype,
    ts_noise,
    ts_pmt_pid,
    ts_without,
    without_trak,
)

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(scope="module")
def ts_sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A muxed MPEG-TS segment and an audio-only one, as ffmpeg's HLS muxer writes them."""
    root = tmp_path_factory.mktemp("ts")
    return {"muxed": make_ts(root / "muxed").read_bytes(), "audio": make_ts(root / "audio", video=False).read_bytes()}


def _remember(pusher: Pusher, rt, admin) -> Pusher:  # noqa: ANN001
    pusher.before = (sorted(rt.store.list(f"live/{pusher.channel['id']}")), pusher.timeline(admin)["runs"])
    return pusher


@pytest.fixture
def live(http, make_channel, sample_hls, admin, rt) -> Pusher:  # noqa: ANN001
    """A CMAF channel, its inits pushed and segment 0 on the timeline."""
    # The encoder started a moment ago, so a segment timed by its arrival continues segment 0.
    pusher = Pusher(http, make_channel(), sample_hls, started_s_ago=4)
    pusher.init()
    pusher.segment(0)
    assert _remember(pusher, rt, admin).before[1], "segment 0 is on the timeline"
    return pusher


@pytest.fixture
def live_ts(http, make_channel, sample_hls, admin, rt) -> Pusher:  # noqa: ANN001
    """A channel with the CMAF and MPEG-TS sets, its CMAF inits pushed."""
    pusher = Pusher(http, make_channel(segment_sets=["cmaf", "ts"]), sample_hls, started_s_ago=4)
    pusher.init()
    return _remember(pusher, rt, admin)


def _assert_refused(live: Pusher, rt, admin, resp, code: str) -> None:  # noqa: ANN001
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == code, resp.text
    assert resp.json()["error"]["message"]
    assert (sorted(rt.store.list(f"live/{live.channel['id']}")), live.timeline(admin)["runs"]) == live.before


def _seg(sample: Path) -> bytes:
    return (sample / "360p" / "seg_1.m4s").read_bytes()


def _init(sample: Path) -> bytes:
    return (sample / "360p" / "init_0.mp4").read_bytes()


CMAF_SEGMENTS = [
    ("truncated", lambda d: d[:len(d) // 2], "MEDIA_TRUNCATED"),
    ("box-sizes-lie", lambda d: put_u32(d, box_at(d, b"moof")[0], box_at(d, b"moof")[1] + 8), "MEDIA_MALFORMED"),
    ("trun-sizes-exceed-mdat", lambda d: put_u32(d, first_trun_sizes_at(d), len(d)), "MEDIA_MALFORMED"),
    ("no-tfdt", lambda d: retype(d, b"tfdt", b"free"), "MEDIA_MALFORMED"),
    ("track-not-in-init", lambda d: put_u32(d, box_at(d, b"tfhd")[0] + 12, 7), "TRACK_MISMATCH"),
]


@pytest.mark.parametrize(("mutate", "code"), [c[1:] for c in CMAF_SEGMENTS], ids=[c[0] for c in CMAF_SEGMENTS])
def test_bad_cmaf_segments_are_refused(live: Pusher, rt, admin, mutate, code: str) -> None:  # noqa: ANN001
    _assert_refused(live, rt, admin, live.put("360p", "seg_1.m4s", mutate(_seg(live.sample))), code)


INITS = [
    ("cut-inside-moov", lambda d: d[:box_at(d, b"moov")[0] + 600], "MEDIA_TRUNCATED"),
    ("cut-inside-a-box-after-moov", lambda d: d + struct.pack(">I4s", 64, b"free") + bytes(20), "MEDIA_TRUNCATED"),
    ("no-video-track", lambda d: without_trak(d, b"vide"), "TRACK_MISMATCH"),
    ("no-audio-track-in-a-muxed-rendition", lambda d: without_trak(d, b"soun"), "TRACK_MISMATCH"),
]


@pytest.mark.parametrize(("mutate", "code"), [c[1:] for c in INITS], ids=[c[0] for c in INITS])
def test_bad_init_segments_are_refused(live: Pusher, rt, admin, mutate, code: str) -> None:  # noqa: ANN001
    _assert_refused(live, rt, admin, live.put("360p", "init.mp4", mutate(_init(live.sample))), code)
    live.segment(1)  # the track's init is still the good one
    assert live.timeline(admin)["runs"][0]["count"] == 2


def test_an_init_cut_right_after_its_moov_is_taken(live: Pusher, admin) -> None:  # noqa: ANN001
    init = _init(live.sample)
    pos, size = box_at(init, b"moov")
    assert pos + size == len(init)  # ffmpeg writes ftyp + moov: a cut after moov is the whole file
    assert live.put("360p", "init.mp4", init).status_code == 200


TS = [
    ("sync-bytes-around-random-payload", lambda s: ts_noise(s["muxed"]), "TS_NO_PROGRAM"),
    ("no-pat-nor-pmt", lambda s: ts_without(s["muxed"], {0, ts_pmt_pid(s["muxed"])}), "TS_NO_PROGRAM"),
    ("no-video-stream", lambda s: s["audio"], "TRACK_MISMATCH"),
    ("partial-last-packet", lambda s: s["muxed"][:-77], "MEDIA_TRUNCATED"),
]


@pytest.mark.parametrize(("make", "code"), [c[1:] for c in TS], ids=[c[0] for c in TS])
def test_bad_mpeg_ts_is_refused(live_ts: Pusher, rt, admin, ts_sample, make, code: str) -> None:  # noqa: ANN001
    _assert_refused(live_ts, rt, admin, live_ts.put("360p", "seg_1.ts", make(ts_sample), seg_set="ts"), code)


def test_good_mpeg_ts_is_taken(live_ts: Pusher, rt, ts_sample) -> None:  # noqa: ANN001
    assert live_ts.put("360p", "seg_1.ts", ts_sample["muxed"], seg_set="ts").status_code == 200
    assert any(k.endswith("/1.ts") for k in rt.store.list(f"live/{live_ts.channel['id']}/ts/360p"))


@pytest.mark.parametrize("name", ["seg_12345678901234567890123456.m4s", "seg_9007199254740992.m4s"])
def test_absurd_sequence_numbers_are_refused_before_anything_is_stored(live: Pusher, rt, admin, name: str) -> None:  # noqa: ANN001
    _assert_refused(live, rt, admin, live.put("360p", name, _seg(live.sample)), "SEQUENCE_OUT_OF_RANGE")


def _playlist(body: str) -> bytes:
    return ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + body).encode()


NO_500 = [
    ("empty-segment", "seg_1.m4s", b"", 422),
    ("empty-init", "init.mp4", b"", 422),
    ("empty-playlist", "index.m3u8", b"", 422),
    ("ts-in-the-cmaf-set", "seg_1.ts", None, 415),
    ("m4s-in-the-ts-set", "seg_1.m4s", None, 415),
    ("no-extension", "seg_1", None, 415),
    ("no-sequence-number", "segment.m4s", None, 400),
    ("non-utf8-playlist", "index.m3u8", b"#EXTM3U\n#EXTINF:2,\n\xff\xfeseg_1.m4s\n", 422),
    ("playlist-garbage", "index.m3u8", bytes(range(256)) * 40, 422),
    ("negative-extinf", "index.m3u8", "#EXTINF:-1.92,\nseg_1.m4s\n", 422),
    ("huge-extinf", "index.m3u8", "#EXTINF:1e300,\nseg_1.m4s\n", 200),  # nothing pending it could time
    ("year-9999", "index.m3u8", "#EXT-X-PROGRAM-DATE-TIME:9999-12-31T23:59:59Z\n#EXTINF:1.92,\nseg_1.m4s\n", 200),
    ("year-1", "index.m3u8", "#EXT-X-PROGRAM-DATE-TIME:0001-01-01T00:00:00Z\n#EXTINF:1.92,\nseg_1.m4s\n", 200),
    ("absurd-sequence-in-playlist", "index.m3u8", "#EXTINF:1.92,\nseg_" + "9" * 30 + ".m4s\n", 422),
]


@pytest.mark.parametrize(("name", "body", "status"), [c[1:] for c in NO_500], ids=[c[0] for c in NO_500])
def test_no_client_input_is_a_500(live_ts: Pusher, rt, admin, name: str, body, status: int) -> None:  # noqa: ANN001
    live = live_ts
    seg_set = "ts" if name == "seg_1.m4s" and body is None else "cmaf"
    if body is None:
        body = _seg(live.sample)
    elif isinstance(body, str):
        body = _playlist(body)
    resp = live.put("360p", name, body, seg_set=seg_set)
    assert resp.status_code == status, resp.text
    if status != 200:
        assert resp.json()["error"]["code"]
        assert (sorted(rt.store.list(f"live/{live.channel['id']}")), live.timeline(admin)["runs"]) == live.before


@pytest.mark.parametrize("pdt", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_playlist_with_an_absurd_date_times_its_segment_by_arrival(live: Pusher, admin, pdt: str) -> None:  # noqa: ANN001
    """Year 9999 or year 1: the segment joins the live edge by its arrival, no years of gaps."""
    for rendition in ("360p", "240p"):
        assert live.put(rendition, "seg_1.m4s").status_code == 200
        playlist = live.playlist_upto(rendition, 1).decode().splitlines()
        playlist = [f"#EXT-X-PROGRAM-DATE-TIME:{pdt}" if ln.startswith("#EXT-X-PROGRAM-DATE-TIME") else ln
                    for ln in playlist]
        assert live.put(rendition, "index.m3u8", ("\n".join(playlist) + "\n").encode()).status_code == 200
    runs = live.timeline(admin)["runs"]
    assert not any(r["gap"] for r in runs)
    assert sum(r["count"] for r in runs) == 2
