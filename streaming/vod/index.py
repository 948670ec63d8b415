"""The VOD segment index and the playlists rendered from it.

ffmpeg's playlists are read once, at ingest, into the asset's index (``manifest``): per track,
its segment durations, its init segment, its measured bit rates, and for video the byte range
of every segment's keyframe. Players never see ffmpeg's playlists: the origin renders master,
media, I-frame and subtitle playlists from the index, as it renders channel playlists from the
timeline, so labels staff change later and the player's token in the path need no re-packaging.
Everything here is pure but `build_index`, which reads the transcode's output folder.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from streaming.formats.fmp4 import first_sample_range
from streaming.formats.hls import (
    AudioMediaSpec,
    IFrameVariantSpec,
    SubtitlesMediaSpec,
    VariantSpec,
    VodEntry,
    render_master,
    render_vod_playlist,
)
from streaming.formats.hls_input import parse_encoder_playlist
from streaming.vod.media import AudioOut, Rung

INDEX_VERSION = 1
SEGMENT_SETS = ("cmaf", "ts")
EXT = {"cmaf": "m4s", "ts": "ts"}


def asset_prefix(asset_id: str) -> str:
    """Return the object-key prefix of everything an asset's ingest stores."""
    return f"vod/{asset_id}/"


def segment_key(asset_id: str, seg_set: str, track: str, n: int) -> str:
    """Return the object key of segment n of a track in a segment set (cmaf or ts)."""
    return f"vod/{asset_id}/{seg_set}/{track}/{n}.{EXT[seg_set]}"


def init_key(asset_id: str, track: str) -> str:
    """Return the object key of a CMAF track's init segment."""
    return f"vod/{asset_id}/cmaf/{track}/init.mp4"


def subtitle_key(asset_id: str, name: str) -> str:
    """Return the object key of a WebVTT subtitle track."""
    return f"vod/{asset_id}/subs/{name}.vtt"


def poster_key(asset_id: str) -> str:
    """Return the object key of the asset's poster frame."""
    return f"vod/{asset_id}/poster.jpg"


def _bitrates(sizes: list[int], durations_us: list[int]) -> tuple[int, int]:
    """Return (peak, average) bits per second over a track's segments (RFC 8216 4.3.4.2)."""
    rates = [s * 8 * 1_000_000 / d for s, d in zip(sizes, durations_us) if d > 0]
    total_us = sum(durations_us)
    avg = sum(sizes) * 8 * 1_000_000 / total_us if total_us else 0
    return (math.ceil(max(rates)) if rates else 0), math.ceil(avg)


def _codecs(master_text: str) -> dict[str, str]:
    """Return the CODECS ffmpeg wrote per variant URI folder (e.g. "360p" -> "avc1.64001e,mp4a.40.2")."""
    out, pending = {}, None
    for line in master_text.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:") and 'CODECS="' in line:
            pending = line.split('CODECS="', 1)[1].split('"', 1)[0]
        elif line and not line.startswith("#") and pending is not None:
            out[line.split("/", 1)[0]] = pending
            pending = None
    return out


def build_index(out_dir: Path, *, rungs: tuple[Rung, ...], audio: tuple[AudioOut, ...], segment_s: float,
                frame_rate: float) -> tuple[dict, list[tuple[Path, str]]]:
    """Read the transcode's output into the asset's index; return it and the files to store (path, key under
    the asset's prefix)."""
    codecs = _codecs((out_dir / "master.m3u8").read_text())
    index: dict = {"version": INDEX_VERSION, "segment_s": segment_s, "video": [], "audio": []}
    files: list[tuple[Path, str]] = []

    def track(name: str) -> dict:
        folder = out_dir / name
        text = (folder / "index.m3u8").read_text()
        segments = parse_encoder_playlist(text)
        paths = [folder / s.uri for s in segments]
        init = folder / text.split('#EXT-X-MAP:URI="', 1)[-1].split('"', 1)[0]
        if not segments or not init.is_file() or not all(p.is_file() for p in paths):
            raise RuntimeError(f"ffmpeg left track {name} incomplete")
        durations = [s.duration_us for s in segments]
        peak, avg = _bitrates([p.stat().st_size for p in paths], durations)
        files.append((init, f"cmaf/{name}/init.mp4"))
        files.extend((p, f"cmaf/{name}/{n}.m4s") for n, p in enumerate(paths))
        return {"name": name, "durations_us": durations, "bandwidth": peak, "average_bandwidth": avg,
                "_paths": paths}

    for r in rungs:
        t = track(r.name)
        t["iframes"] = [first_sample_range(p.read_bytes()) for p in t["_paths"]]
        if not all(t["iframes"]):
            t["iframes"] = None
        video_codec = codecs.get(r.name, "avc1.640028").split(",")[0]
        index["video"].append({**t, "width": r.width, "height": r.height, "frame_rate": frame_rate,
                               "codecs": video_codec})
    for a in audio:
        index["audio"].append({**track(a.name), "source_index": a.source_index, "codecs": "mp4a.40.2",
                               "channels": 2, "language": a.language, "label": a.label, "default": a.default})
    for t in index["video"] + index["audio"]:
        del t["_paths"]
    index["duration_ms"] = max(sum(t["durations_us"]) for t in index["video"]) // 1000
    return index, files


def add_ts_index(index: dict, ts_dir: Path) -> list[tuple[Path, str]]:
    """Add the MPEG-TS set (remuxed from the CMAF one) to the index; return its files to store."""
    index["ts"], files = {}, []
    for t in index["video"] + index["audio"]:
        folder = ts_dir / t["name"]
        segments = parse_encoder_playlist((folder / "index.m3u8").read_text())
        paths = [folder / s.uri for s in segments]
        if not segments or not all(p.is_file() for p in paths):
            raise RuntimeError(f"the MPEG-TS remux left track {t['name']} incomplete")
        durations = [s.duration_us for s in segments]
        peak, avg = _bitrates([p.stat().st_size for p in paths], durations)
        index["ts"][t["name"]] = {"durations_us": durations, "bandwidth": peak, "average_bandwidth": avg}
        files.extend((p, f"ts/{t['name']}/{n}.ts") for n, p in enumerate(paths))
    return files


def track_in(index: dict, seg_set: str, track: dict) -> dict:
    """Return a track as one segment set holds it (TS durations and bit rates differ from CMAF's)."""
    return track if seg_set == "cmaf" else {**track, **index["ts"][track["name"]], "iframes": None}


def sets_of(index: dict) -> tuple[str, ...]:
    """Return the segment sets an asset's index holds."""
    return ("cmaf", "ts") if index.get("ts") else ("cmaf",)


# -- rendering ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioLabel:
    """How an audio track is shown: staff's labels win over what ingest found."""

    language: str
    label: str
    default: bool


def audio_labels(index: dict, labels: list[dict]) -> list[AudioLabel]:
    """Return each indexed audio track's language, label and default flag (staff's labels by position)."""
    out = []
    for t in index["audio"]:
        given = labels[t["source_index"]] if t["source_index"] < len(labels) else {}
        out.append(AudioLabel(given.get("language") or t["language"], given.get("label") or t["label"],
                              bool(given.get("default", t["default"]))))
    if out and not any(a.default for a in out):
        out[0] = AudioLabel(out[0].language, out[0].label, True)
    return out


# RFC 8216 4.3.4.1: LANGUAGE is an RFC 5646 tag, which takes the two-letter ISO 639-1 code where one
# exists ("pl", not "pol"); players compare tags, so Shaka Player reports "pl" whatever it was given.
BCP47 = {"pol": "pl", "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it",
         "ukr": "uk", "rus": "ru", "ces": "cs", "cze": "cs", "slk": "sk", "slo": "sk", "hun": "hu", "nld": "nl",
         "dut": "nl", "por": "pt", "swe": "sv", "nor": "no", "dan": "da", "fin": "fi", "tur": "tr", "jpn": "ja",
         "kor": "ko", "zho": "zh", "chi": "zh", "ara": "ar", "heb": "he", "lit": "lt", "lav": "lv", "est": "et",
         "ron": "ro", "rum": "ro", "bul": "bg", "hrv": "hr", "srp": "sr", "slv": "sl", "ell": "el", "gre": "el"}


def language_tag(language: str) -> str:
    """Return the RFC 5646 tag of an ISO 639-2 language code for LANGUAGE attributes."""
    return BCP47.get(language, language)


def render_vod_master(index: dict, labels: list[AudioLabel], subtitles: list[dict], seg_set: str = "cmaf") -> str:
    """Render the master playlist of a segment set: audio and subtitle renditions, variants, I-frame variants."""
    index = {**index, "video": [track_in(index, seg_set, t) for t in index["video"]],
             "audio": [track_in(index, seg_set, t) for t in index["audio"]]}
    audio = [AudioMediaSpec(uri=f'{t["name"]}.m3u8', group="aud", name=a.label, language=language_tag(a.language),
                            default=a.default, channels=t["channels"]) for t, a in zip(index["audio"], labels)]
    subs = [SubtitlesMediaSpec(uri=f'{s["name"]}.m3u8', group="subs", name=s["label"],
                               language=language_tag(s["language"])) for s in subtitles]
    audio_peak = max((t["bandwidth"] for t in index["audio"]), default=0)
    audio_avg = max((t["average_bandwidth"] for t in index["audio"]), default=0)
    audio_codec = ",mp4a.40.2" if index["audio"] else ""
    by_bandwidth = sorted(index["video"], key=lambda v: -v["bandwidth"])
    variants = [VariantSpec(uri=f'{v["name"]}.m3u8', bandwidth=v["bandwidth"] + audio_peak,
                            average_bandwidth=v["average_bandwidth"] + audio_avg, codecs=v["codecs"] + audio_codec,
                            width=v["width"], height=v["height"], frame_rate=v["frame_rate"],
                            audio_group="aud" if index["audio"] else None,
                            subtitles_group="subs" if subtitles else None) for v in by_bandwidth]
    iframes = [IFrameVariantSpec(uri=f'{v["name"]}-iframes.m3u8', bandwidth=_iframe_bandwidth(v), codecs=v["codecs"],
                                 width=v["width"], height=v["height"]) for v in by_bandwidth if v.get("iframes")]
    return render_master(variants, audio, version=7 if seg_set == "cmaf" else 4, subtitles=subs, iframes=iframes)


def _iframe_bandwidth(video: dict) -> int:
    """Peak bit rate of the I-frame track: the largest keyframe over its segment's duration."""
    return max(math.ceil(length * 8 * 1_000_000 / d)
               for (_, length), d in zip(video["iframes"], video["durations_us"]))


def target_duration(durations_us: list[int]) -> int:
    """Return EXT-X-TARGETDURATION: the longest segment rounded to the nearest second (RFC 8216 4.3.3.1)."""
    return max(1, max(int(d / 1_000_000 + 0.5) for d in durations_us))


def render_vod_media(track: dict, seg_set: str = "cmaf") -> str:
    """Render a track's media playlist (segment URIs relative: ``{track}/{n}.m4s`` or ``.ts``)."""
    name = track["name"]
    cmaf = seg_set == "cmaf"
    entries = [VodEntry(d, f"{name}/{n}.{EXT[seg_set]}") for n, d in enumerate(track["durations_us"])]
    return render_vod_playlist(entries, version=7 if cmaf else 3,
                               target_duration=target_duration(track["durations_us"]),
                               map_uri=f"{name}/init.mp4" if cmaf else None)


def render_iframes(track: dict) -> str:
    """Render a video track's I-frame playlist: each segment's keyframe as a byte range (RFC 8216 4.3.3.6)."""
    name = track["name"]
    entries = [VodEntry(d, f"{name}/{n}.m4s", byterange)
               for n, (byterange, d) in enumerate(zip(track["iframes"], track["durations_us"]))]
    return render_vod_playlist(entries, version=7, target_duration=target_duration(track["durations_us"]),
                               map_uri=f"{name}/init.mp4", iframes_only=True)


def render_subtitles(subtitle: dict, duration_us: int) -> str:
    """Render a subtitle track's playlist: the whole WebVTT file as one segment of the title's length."""
    return render_vod_playlist([VodEntry(duration_us, f'{subtitle["name"]}/0.vtt')], version=7,
                               target_duration=math.ceil(duration_us / 1_000_000), independent=False)


def etag(body: bytes) -> bytes:
    """Return a strong ETag for a rendered playlist."""
    return b'"' + hashlib.blake2b(body, digest_size=8).hexdigest().encode() + b'"'
