"""The VOD ingest job: probe, transcode once into the ladder, store, index; idempotent per asset.

Run by a worker with the asset's id. It claims the asset (a conditional update, so two workers
never both transcode it), works in a temporary folder, reports progress and a heartbeat about
once a second (reading back whether staff cancelled it), stores every object, and only then
makes the asset ready in one update. A failure or cancel deletes what it stored: nothing
half-made stays in storage, and a worker killed mid-way leaves an asset the reconcile pass
queues again once its heartbeat is stale.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import subprocess
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from infra.errors import ObjectNotFound, ServiceUnavailable, SmartGoError
from infra.runtime import Runtime
from streaming import ffmpeg
from streaming.vod import index as vod
from streaming.vod import service as assets
from streaming.vod.media import (
    MediaRejected,
    parse_ladder,
    plan_audio,
    plan_ladder,
    poster_args,
    poster_time,
    probe,
    progress_percent,
    transcode_args,
    transcode_timeout_s,
    ts_remux_args,
)

log = logging.getLogger(__name__)
UPLOAD_THREADS = 8


class Cancelled(Exception):
    """Staff cancelled the asset, or another worker took it back."""


class TranscodeFailed(Exception):
    """ffmpeg did not produce the ladder; the message carries its last words."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ingest_asset(rt: Runtime, asset_id: str) -> str:
    """Ingest one asset if it is queued (or its worker went silent); return the state it ends in.

    A file that cannot become a title fails at once with its reason; a try that breaks off on
    anything else is taken again after STALE_AFTER_S, and the asset fails after assets.MAX_TRIES
    of them (a try broken off because storage or the database was unavailable does not count).
    """
    with rt.db.session() as s:
        row = assets.claim(db_session=s, asset_id=asset_id, now=_now())
        if row is None:
            return assets.get(db_session=s, asset_id=asset_id).state
        attempt, labels, key, known_sha = row.attempt, list(row.audio_labels), row.source_key, row.sha256
        sets, tries = tuple(row.segment_sets), row.tries
    found = None
    try:
        with tempfile.TemporaryDirectory(prefix=f"smartgo-vod-{asset_id[:8]}-") as tmp:
            work = Path(tmp)
            source = work / "source"
            sha256 = _download(rt, key, source)
            if known_sha is None:  # a multipart upload: the API never saw its bytes
                with rt.db.session() as s:
                    twin = assets.record_sha256(db_session=s, asset_id=asset_id, sha256=sha256)
                if twin is not None:
                    rt.store.delete_many([key])
                    raise MediaRejected("DUPLICATE_UPLOAD", f"the same file as asset {twin}", asset_id=twin)
            found = probe(source)
            index, files = _transcode(rt, asset_id, attempt, source, found, labels, work)
            if "ts" in sets:
                files += _remux_ts(index, work, rt.settings.vod_segment_s)
            _store(rt, asset_id, files)
        with rt.db.session() as s:
            if assets.finish(db_session=s, asset_id=asset_id, attempt=attempt, index=index,
                             probe=found.as_dict(), now=_now()):
                return "ready"
        raise Cancelled()
    except Cancelled:
        _delete(rt, asset_id)
        log.info("asset %s: ingest stopped (cancelled or taken back)", asset_id)
        return "cancelled"
    except (MediaRejected, TranscodeFailed) as err:
        _delete(rt, asset_id)
        code = err.code if isinstance(err, MediaRejected) else "TRANSCODE_FAILED"
        message = err.message if isinstance(err, MediaRejected) else str(err)
        with rt.db.session() as s:
            assets.fail(db_session=s, asset_id=asset_id, attempt=attempt, code=code, message=message,
                        probe=found.as_dict() if found else None, now=_now())
        log.warning("asset %s refused: %s %s", asset_id, code, message)
        return "failed"
    except Exception as err:  # noqa: BLE001 - whatever it is, the asset must not stay taken forever
        transient = isinstance(err, ServiceUnavailable)
        if not transient:
            log.exception("asset %s: ingest try %s of %s broke off", asset_id, tries, assets.MAX_TRIES)
        try:
            _delete(rt, asset_id)
        except SmartGoError:
            log.warning("asset %s: could not delete a failed try's objects (the next try replaces them)", asset_id)
        message = f"{type(err).__name__}: {err}"
        with rt.db.session() as s:
            if not transient and tries >= assets.MAX_TRIES:
                assets.fail(db_session=s, asset_id=asset_id, attempt=attempt, code="INGEST_FAILED",
                            message=f"ingest broke off {tries} times; the last time, {message}",
                            probe=found.as_dict() if found else None, now=_now())
                return "failed"
            assets.try_again_later(db_session=s, asset_id=asset_id, attempt=attempt,
                                   code=getattr(err, "code", "INGEST_ERROR"), message=message, now=_now(),
                                   counts=not transient)
        return "processing"


def _download(rt: Runtime, key: str, path: Path) -> str:
    """Fetch the mezzanine into path; return its SHA-256."""
    digest = hashlib.sha256()
    try:
        with path.open("wb") as fh:
            for chunk in rt.store.read_chunks(key, 1 << 20):
                fh.write(chunk)
                digest.update(chunk)
    except ObjectNotFound as err:
        raise MediaRejected("MEZZANINE_MISSING", "the uploaded file is not in storage: upload it again") from err
    return digest.hexdigest()


def _transcode(rt: Runtime, asset_id: str, attempt: int, source: Path, found, labels: list[dict],  # noqa: ANN001
               work: Path) -> tuple[dict, list[tuple[Path, str]]]:
    settings = rt.settings
    try:
        ladder = parse_ladder(settings.vod_ladder)
    except ValueError as err:  # staff fix the setting, then retry the asset
        raise MediaRejected("VOD_LADDER_INVALID", f"SMARTGO_VOD_LADDER: {err}") from err
    rungs = plan_ladder(ladder, found)
    audio = plan_audio(found, labels)
    out = work / "out"
    out.mkdir()
    exe = ffmpeg.ffmpeg_exe()
    poster = work / "poster.jpg"
    # The poster frame is one fast-seek decode: taken while the ladder encodes, not after it.
    poster_proc = ffmpeg.start(poster_args(ffmpeg=exe, source=str(source), at_s=poster_time(found.duration_s),
                                           out=str(poster)))
    args = transcode_args(ffmpeg=exe, source=str(source), out_dir=str(out), rungs=rungs, audio=audio,
                          segment_s=settings.vod_segment_s, frame_rate=found.frame_rate, preset=settings.vod_preset)
    try:
        _run_ffmpeg(rt, asset_id, attempt, args, found.duration_s)
    finally:
        with contextlib.suppress(ffmpeg.FFmpegFailed):  # a title without a poster still plays
            ffmpeg.wait(poster_proc, timeout_s=60)
    index, files = vod.build_index(out, rungs=rungs, audio=audio, segment_s=settings.vod_segment_s,
                                   frame_rate=found.frame_rate)
    if poster.is_file() and poster.stat().st_size:
        files.append((poster, "poster.jpg"))
        index["poster"] = True
    return index, files


def _remux_ts(index: dict, work: Path, segment_s: float) -> list[tuple[Path, str]]:
    """Repackage every CMAF track as MPEG-TS (a copy per track, several at once); return the files."""
    exe = ffmpeg.ffmpeg_exe()

    def remux(name: str) -> None:
        out = work / "ts" / name
        out.mkdir(parents=True)
        args = ts_remux_args(ffmpeg=exe, playlist=str(work / "out" / name / "index.m3u8"), out_dir=str(out),
                             segment_s=segment_s)
        try:
            ffmpeg.run(args, timeout_s=600)
        except ffmpeg.FFmpegFailed as err:
            raise TranscodeFailed(f"the MPEG-TS remux of {name} failed: {err.stderr_tail or err}") from err

    with ThreadPoolExecutor(4, thread_name_prefix="vod-ts") as pool:
        list(pool.map(remux, [t["name"] for t in index["video"] + index["audio"]]))
    return vod.add_ts_index(index, work / "ts")


def _run_ffmpeg(rt: Runtime, asset_id: str, attempt: int, args: list[str], duration_s: float) -> None:
    """Run the transcode, reporting progress about once a second; stop it if the asset was cancelled."""
    proc = ffmpeg.start(args, stdout=subprocess.PIPE, text=True)
    stderr: deque[str] = deque(maxlen=30)
    reader = threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + transcode_timeout_s(duration_s)
    last_report, percent, stopped = 0.0, 0.0, None
    try:
        for line in proc.stdout:
            done = progress_percent(line, duration_s)
            if done is not None:
                percent = done
            if time.monotonic() > deadline:
                stopped = TranscodeFailed(f"the transcode took longer than {transcode_timeout_s(duration_s):.0f} s")
                break
            if time.monotonic() - last_report >= 1.0:
                last_report = time.monotonic()
                with rt.db.session() as s:
                    if not assets.report_progress(db_session=s, asset_id=asset_id, attempt=attempt,
                                                  progress=percent, now=_now()):
                        stopped = Cancelled()
                        break
    except BaseException:
        proc.kill()
        raise
    finally:
        if stopped is not None:
            proc.kill()
        try:  # stdout closed: ffmpeg is ending; anything else (an error above) ends it
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        reader.join(timeout=5)
    if stopped is not None:
        raise stopped
    if code != 0:
        last = " | ".join(line.strip() for line in stderr if line.strip())[-600:]
        raise TranscodeFailed(f"ffmpeg exited with {code}: {last}" if last else f"ffmpeg exited with {code}")


def _store(rt: Runtime, asset_id: str, files: list[tuple[Path, str]]) -> None:
    """Store the ladder's files under the asset's prefix, several at a time."""
    def put(item: tuple[Path, str]) -> None:
        path, name = item
        rt.store.put_file(f"{vod.asset_prefix(asset_id)}{name}", path, _content_type(name))

    with ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="vod-store") as pool:
        list(pool.map(put, files))


def _content_type(name: str) -> str:
    return {"m4s": "video/iso.segment", "mp4": "video/mp4", "jpg": "image/jpeg", "ts": "video/mp2t"}.get(name.rsplit(".", 1)[-1],
                                                                                      "application/octet-stream")


def _delete(rt: Runtime, asset_id: str) -> None:
    """Delete what ingest stored for an asset (not its mezzanine, nor its subtitles)."""
    keys = [k for k in rt.store.list(vod.asset_prefix(asset_id)) if "/subs/" not in k]
    rt.store.delete_many(keys)


def delete_asset_objects(rt: Runtime, asset_id: str, source: str) -> None:
    """Delete everything stored for an asset: its ladder, subtitles and mezzanine."""
    rt.store.delete_many([*rt.store.list(vod.asset_prefix(asset_id)), source])

