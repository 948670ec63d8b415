"""VOD ingest end to end: a real mezzanine uploaded, transcoded by ffmpeg, served by the origin, pulled by ffmpeg."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import m3u8
import pytest

from streaming.ffmpeg import ffmpeg_exe
from tests.support.http import Client
from tests.support.mezzanine import SRT_POLISH, make_mezzanine
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg
DONE = ("ready", "failed", "cancelled")


def upload(http: Client, admin: dict, path: Path, filename: str | None = None, sets: str = "cmaf"):  # noqa: ANN201
    """Upload a file through the API as content ops do."""
    return http.post("/v1/admin/vod/assets", params={"filename": filename or path.name, "segment_sets": sets},
                     content=path.read_bytes(), headers={**admin, "content-type": "application/octet-stream"})


def wait_done(http: Client, admin: dict, asset_id: str, timeout_s: float = 120) -> dict:
    """Wait until an asset's ingest ends; return the asset."""
    return wait_for(lambda: (a := http.get(f"/v1/admin/vod/assets/{asset_id}", headers=admin).json())["state"] in DONE
                    and a, timeout_s, f"asset {asset_id} ingested")


@pytest.fixture(scope="module")
def ingested(http: Client, admin: dict, tmp_path_factory) -> dict:  # noqa: ANN001
    """One mezzanine with Polish and English audio and Polish subtitles, ingested as CMAF and TS, ready."""
    path = make_mezzanine(tmp_path_factory.mktemp("mezz") / "Żółw i zając (2024).mp4", seconds=8.0)
    resp = upload(http, admin, path, sets="cmaf,ts")
    # ffmpeg makes the same bytes every time: a second module using this fixture gets the same asset.
    assert resp.status_code == 201 or resp.json()["duplicate"], resp.text
    asset = resp.json()
    labels = {"audio": [{"language": "pol", "label": "Polski (lektor)", "default": True},
                        {"language": "eng", "label": "Original"}]}
    assert http.put(f"/v1/admin/vod/assets/{asset['id']}/audio", json=labels, headers=admin).status_code == 200
    resp = http.put(f"/v1/admin/vod/assets/{asset['id']}/subtitles/pol", params={"label": "Polski"},
                    content=SRT_POLISH.encode(), headers=admin)
    assert resp.status_code == 200, resp.text
    done = wait_done(http, admin, asset["id"])
    assert done["state"] == "ready", done
    return {**done, "path": path}


def test_ingest_reports_the_ladder_and_its_tracks(ingested: dict) -> None:
    assert ingested["progress"] == 100.0 and ingested["error"] is None
    assert ingested["filename"] == "Żółw i zając (2024).mp4"
    assert 7.5 <= ingested["duration_s"] <= 8.5
    kinds = {(t["kind"], t["name"]) for t in ingested["tracks"]}
    assert {("video", "360p"), ("video", "240p"), ("audio", "audio-0"), ("audio", "audio-1"),
            ("subtitles", "subs-pol")} <= kinds
    audio = {t["language"]: t["label"] for t in ingested["tracks"] if t["kind"] == "audio"}
    assert audio == {"pol": "Polski (lektor)", "eng": "Original"}
    assert ingested["probe"]["audio"][1]["language"] == "eng"


def test_master_playlist_lists_audio_subtitles_variants_and_iframes(http: Client, ingested: dict) -> None:
    base = f"/vod/{ingested['id']}/cmaf"
    master = m3u8.loads(http.playlist(f"{base}/master.m3u8").text)
    audio = [m for m in master.media if m.type == "AUDIO"]
    # LANGUAGE is an RFC 5646 tag: the two-letter code where there is one.
    assert [(a.language, a.name, a.default) for a in audio] == [("pl", "Polski (lektor)", "YES"),
                                                                  ("en", "Original", "NO")]
    subs = [m for m in master.media if m.type == "SUBTITLES"]
    assert [(s.language, s.name) for s in subs] == [("pl", "Polski")]
    variants = sorted(master.playlists, key=lambda p: p.stream_info.bandwidth)
    assert [v.stream_info.resolution for v in variants] == [(426, 240), (640, 360)]
    assert all(v.stream_info.audio == "aud" and v.stream_info.subtitles == "subs" for v in variants)
    # BANDWIDTH is measured: the peak segment rate of the rendition plus the heaviest audio.
    assert variants[1].stream_info.bandwidth > variants[0].stream_info.bandwidth > 300_000
    assert len(master.iframe_playlists) == 2
    for v in variants:
        media = m3u8.loads(http.playlist(f"{base}/{v.uri}", resolve=True).text)
        assert media.playlist_type == "vod" and media.is_endlist
        assert abs(sum(s.duration for s in media.segments) - ingested["duration_s"]) < 0.1
        assert all(abs(s.duration - 1.92) < 0.05 for s in media.segments[:-1])  # aligned GOP = segment
    for a in audio:
        http.playlist(f"{base}/{a.uri}", resolve=True)
    vtt = m3u8.loads(http.playlist(f"{base}/{subs[0].uri}").text)
    text = http.get(f"{base}/{vtt.segments[0].uri}").text
    assert text.startswith("WEBVTT") and "Żółw idzie do szkoły" in text and "00:00:00.500 --> 00:00:03.000" in text


def test_iframe_playlist_points_at_each_keyframe(http: Client, ingested: dict) -> None:
    base = f"/vod/{ingested['id']}/cmaf"
    text = http.playlist(f"{base}/360p-iframes.m3u8").text
    playlist = m3u8.loads(text)
    assert "#EXT-X-I-FRAMES-ONLY" in text and playlist.segments
    seg = playlist.segments[1]
    length, offset = (int(v) for v in seg.byterange.split("@"))
    body = http.get(f"{base}/{seg.uri}").content
    piece = body[offset:offset + length]
    assert piece[4:8] == b"moof" and length < len(body)
    init = http.get(f"{base}/360p/init.mp4").content
    # The byte range alone, after the init segment, decodes as one keyframe.
    frames = list(av.open(__import__("io").BytesIO(init + piece)).decode(video=0))
    assert len(frames) == 1 and frames[0].key_frame


@pytest.mark.parametrize("seg_set", ["cmaf", "ts"])
def test_ffmpeg_pulls_the_title_over_http(server: str, ingested: dict, tmp_path: Path, seg_set: str) -> None:
    url = f"{server}/vod/{ingested['id']}/{seg_set}/master.m3u8"
    out = tmp_path / "pulled.mkv"
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-y", "-i", url, "-map", "0:v:0", "-map", "0:a", "-c", "copy",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # ffmpeg's HLS reader takes each rendition's LANGUAGE from the master playlist.
    assert re.search(r"Stream #0:\d+\(pl\): Audio", proc.stderr), proc.stderr
    assert re.search(r"Stream #0:\d+\(en\): Audio", proc.stderr), proc.stderr
    with av.open(str(out)) as pulled:
        assert len(pulled.streams.video) == 1 and len(pulled.streams.audio) == 2
        assert abs(pulled.duration / 1e6 - ingested["duration_s"]) < 0.3
        assert pulled.streams.video[0].codec_context.width == 640


def test_the_ts_set_shares_the_cmaf_boundaries(http: Client, ingested: dict) -> None:
    assert ingested["segment_sets"] == ["cmaf", "ts"]
    base = f"/vod/{ingested['id']}"
    master = m3u8.loads(http.playlist(f"{base}/ts/master.m3u8").text)
    assert not master.iframe_playlists and len(master.playlists) == 2
    for name in ("360p", "audio-0"):
        ts = m3u8.loads(http.playlist(f"{base}/ts/{name}.m3u8", resolve=True).text)
        cmaf = m3u8.loads(http.playlist(f"{base}/cmaf/{name}.m3u8").text)
        assert ts.segment_map == [] and ts.segments[0].uri == f"{name}/0.ts"
        assert [round(s.duration, 2) for s in ts.segments] == [round(s.duration, 2) for s in cmaf.segments]
    assert http.get(f"{base}/ts/360p/0.ts").content[0] == 0x47  # MPEG-TS sync byte
    assert http.get(f"{base}/ts/360p/0.m4s").status_code == 404
    assert http.get(f"{base}/ts/360p-iframes.m3u8").status_code == 404


def test_the_same_file_again_is_the_same_asset(http: Client, admin: dict, ingested: dict) -> None:
    resp = upload(http, admin, ingested["path"], "copy of the same file.mp4")
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == ingested["id"] and resp.json()["duplicate"] is True
    listed = http.get("/v1/admin/vod/assets", params={"limit": 200}, headers=admin).json()
    assert sum(1 for a in listed["items"] if a["sha256"] == ingested["sha256"]) == 1


def test_relabelled_audio_reaches_players_without_a_transcode(http: Client, admin: dict, ingested: dict) -> None:
    labels = {"audio": [{"language": "pol", "label": "Lektor PL"}, {"language": "eng", "label": "Oryginał",
                                                                     "default": True}]}
    assert http.put(f"/v1/admin/vod/assets/{ingested['id']}/audio", json=labels, headers=admin).status_code == 200
    text = wait_for(lambda: (t := http.get(f"/vod/{ingested['id']}/cmaf/master.m3u8").text) and "Oryginał" in t and t,
                    10, "new labels")
    assert 'NAME="Oryginał",LANGUAGE="en",DEFAULT=YES' in text and 'NAME="Lektor PL",LANGUAGE="pl",DEFAULT=NO' in text
    restore = {"audio": [{"language": "pol", "label": "Polski (lektor)", "default": True},
                         {"language": "eng", "label": "Original"}]}
    assert http.put(f"/v1/admin/vod/assets/{ingested['id']}/audio", json=restore, headers=admin).status_code == 200


def test_unknown_tracks_and_segments_are_404(http: Client, ingested: dict) -> None:
    base = f"/vod/{ingested['id']}/cmaf"
    assert http.get(f"{base}/1080p.m3u8").json()["error"]["code"] == "NOT_FOUND"
    assert http.get(f"{base}/360p/99999.m4s").json()["error"]["code"] == "SEGMENT_NOT_FOUND"
    assert http.get(f"/vod/{'0' * 32}/cmaf/master.m3u8").json()["error"]["code"] == "ASSET_NOT_FOUND"
    assert http.get(f"/vod/{ingested['id']}/cmaf/..%2F..%2Fetc/passwd").status_code == 404
