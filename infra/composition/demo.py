"""`smartgo demo`: API, jobs, packager and two test-pattern channels in one process tree."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger("smartgo.demo")
WEB = Path(__file__).resolve().parents[2] / "web"

DEMO_CHANNELS = [
    {
        "id": "demo-1", "name": "Test Card 1", "number": 1, "source_url": "testcard:",
        "segment_duration_ms": 1920, "timeshift_window_s": 3600,
        "renditions": [
            {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 700},
            {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 350},
        ],
        "audio_tracks": [
            {"name": "pol", "language": "pol", "label": "Polski", "default": True},
            {"name": "org", "language": "eng", "label": "Original"},
        ],
    },
    {
        "id": "demo-2", "name": "Test Card 2", "number": 2, "source_url": "testcard:",
        "segment_duration_ms": 1920, "timeshift_window_s": 3600,
        "renditions": [
            {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 700},
            {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 350},
        ],
        "audio_tracks": [{"name": "pol", "language": "pol", "label": "Polski", "default": True}],
    },
]


def ensure_players() -> None:
    """Install the pinned hls.js and Shaka Player for the test page (npm), if missing."""
    if (WEB / "node_modules" / "hls.js").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        log.warning("npm not found: the test page will not have its players (the API still works)")
        return
    log.info("installing the test page's players with npm (once)")
    subprocess.run([npm, "ci" if (WEB / "package-lock.json").exists() else "install", "--no-audit",
                    "--no-fund"], cwd=WEB, check=False, timeout=600)


def ensure_channels(rt) -> None:  # noqa: ANN001
    """Create the demo channels unless they exist."""
    from catalog.channels import service as catalog_service
    from catalog.channels.errors import ChannelNotFound
    from catalog.channels.schemas import ChannelCreate

    with rt.db.session() as s:
        for body in DEMO_CHANNELS:
            try:
                catalog_service.get(db_session=s, channel_id=body["id"])
            except ChannelNotFound:
                catalog_service.create(db_session=s, channel_in=ChannelCreate(**body))


DEMO_TITLES = ["Wiadomości", "Pogoda", "Klan", "M jak miłość", "Magazyn sportowy", "Film: Żółwie i łabędzie"]


def ensure_guide(rt) -> int:  # noqa: ANN001
    """Import a guide around now for the demo channels (10-minute programmes, 3 hours each way).

    Re-imported at every start: programmes already there keep their ids. Programmes from before
    the demo first ran have nothing recorded, and catch-up says so (NOT_RECORDED).
    """
    import datetime as dt
    import tempfile
    from xml.sax.saxutils import escape

    from catalog.guide import sources as epg
    from catalog.guide.errors import EpgSourceNotFound
    from catalog.guide.imports import run_import
    from catalog.guide.schemas import EpgSourceCreate
    from infra.db import new_id

    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    first = now - dt.timedelta(hours=3, minutes=now.minute % 10)
    rows = []
    for ch in ("demo-1", "demo-2"):
        for i in range(36):
            start, stop = first + dt.timedelta(minutes=10 * i), first + dt.timedelta(minutes=10 * i + 10)
            title = escape(DEMO_TITLES[(i + (ch == "demo-2")) % len(DEMO_TITLES)])
            rows.append(f'<programme start="{start:%Y%m%d%H%M%S} +0000" stop="{stop:%Y%m%d%H%M%S} +0000" '
                        f'channel="{ch}"><title lang="pl">{title}</title></programme>')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "guide.xml"
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<tv>' + "\n".join(rows) + "</tv>\n", "utf-8")
        import_id = new_id()
        key = f"{epg.UPLOAD_PREFIX}{import_id}"
        rt.store.put_file(key, path)
    with rt.db.session() as s:
        try:
            epg.get_source(db_session=s, source_id="demo")
        except EpgSourceNotFound:
            epg.create_source(db_session=s, source_in=EpgSourceCreate(id="demo", name="Demo guide"))
        epg.queue_import(db_session=s, source_id="demo", origin="file", object_key=key, import_id=import_id,
                         claimed=True)
    run_import(rt, import_id)
    return len(rows)


DEMO_SRT = ("1\n00:00:01,000 --> 00:00:05,000\nŻółw i zając: napisy po polsku\n\n"
            "2\n00:00:06,000 --> 00:00:10,000\nDzień dobry, Łódź!\n")


def ensure_vod(rt) -> None:  # noqa: ANN001
    """Ingest a demo film (Polish and English audio, Polish subtitles) and publish it once ready, unless there."""
    import datetime as dt
    import tempfile
    import threading

    from catalog.vod import admin as vod_admin
    from catalog.vod import service as catalog_vod
    from catalog.vod.errors import TitleNotFound
    from catalog.vod.schemas import TextIn, TitleCreate
    from infra.db import new_id
    from streaming import ffmpeg
    from streaming.vod import index as vod
    from streaming.vod import service as assets
    from streaming.vod.subtitles import to_webvtt

    with rt.db.session(write=False) as s:
        try:
            catalog_vod.get_title(db_session=s, title_id="demo-film")
            return
        except TitleNotFound:
            pass
    asset_id = new_id()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "film.mp4"
        ffmpeg.run([ffmpeg.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30",
                    "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=30",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-metadata:s:a:0", "language=pol",
                    "-metadata:s:a:1", "language=eng", str(path)], timeout_s=120)
        rt.store.put_file(assets.source_key(asset_id), path)
    text, cues = to_webvtt(DEMO_SRT.encode())
    rt.store.put(vod.subtitle_key(asset_id, "subs-pol"), text.encode(), "text/vtt")
    with rt.db.session() as s:
        assets.create(db_session=s, asset_id=asset_id, filename="demo-film.mp4", size=0, sha256=None,
                      created_by="demo", now=dt.datetime.now(dt.UTC), segment_sets=("cmaf", "ts"),
                      audio_labels=[{"language": "pol", "label": "Polski (lektor)", "default": True},
                                    {"language": "eng", "label": "Original"}])
        assets.add_subtitles(db_session=s, asset_id=asset_id, language="pol", label="Polski", cues=cues)
        vod_admin.create(db_session=s, actor="demo", body=TitleCreate(
            id="demo-film", kind="movie", genres=["family"], age_rating="AL", year=2026,
            texts={"pol": TextIn(title="Żółw i zając", short_synopsis="Film testowy z lektorem i napisami."),
                   "eng": TextIn(title="The Tortoise and the Hare", short_synopsis="A test film.")}))
        vod_admin.set_asset(db_session=s, title_id="demo-film", asset_id=asset_id, actor="demo", if_match=None)

    def publish_when_ready() -> None:
        import time

        for _ in range(600):
            with rt.db.session(write=False) as s:
                state = assets.get(db_session=s, asset_id=asset_id).state
            if state == "ready":
                with rt.db.session() as s:
                    vod_admin.publish(db_session=s, title_id="demo-film", actor="demo")
                log.info("demo film ingested and published")
                return
            if state in ("failed", "cancelled"):
                log.warning("demo film ingest ended %s", state)
                return
            time.sleep(1)

    threading.Thread(target=publish_when_ready, name="demo-vod", daemon=True).start()


DEMO_PACKAGES = [
    {"code": "start", "name": "Start", "kind": "base", "max_devices": 3, "max_streams": 2,
     "recording_hours": 20, "channels": ["demo-1"]},
    {"code": "comfort", "name": "Comfort", "kind": "base", "max_devices": 5, "max_streams": 3,
     "recording_hours": 50, "channels": ["demo-1", "demo-2"]},
    {"code": "hbo", "name": "HBO", "kind": "addon", "max_streams": 1, "channels": ["demo-2"]},
    {"code": "sports", "name": "Sports", "kind": "addon", "recording_hours": 20, "channels": []},
]
# (customer number, e-mail, password, packages, suspension reason)
DEMO_SUBSCRIBERS = [
    ("1000001", "anna@example.com", "demo-anna-1", ["start"], None),
    ("1000002", "piotr@example.com", "demo-piotr-2", ["comfort", "hbo", "sports"], None),
    ("1000003", "ewa@example.com", "demo-ewa-3", ["start"], "unpaid invoice FV/2026/11/0042"),
]


def ensure_subscribers(rt) -> list[str]:  # noqa: ANN001
    """Create the demo packages and subscribers unless they exist; return lines to print."""
    from entitlements.accounts import service as accounts_service
    from entitlements.accounts.errors import SubscriberNotFound
    from entitlements.accounts.schemas import BillingSubscriberUpsert, PackageGrant
    from entitlements.packages import service as packages_service
    from entitlements.packages.errors import PackageNotFound
    from entitlements.packages.schemas import PackageCreate

    lines = []
    with rt.db.session() as s:
        for body in DEMO_PACKAGES:
            try:
                packages_service.get_package(db_session=s, code=body["code"])
            except PackageNotFound:
                packages_service.create_package(db_session=s, package_in=PackageCreate(**body))
        for number, email, password, packages, suspended in DEMO_SUBSCRIBERS:
            try:
                accounts_service.get_by_customer_number(db_session=s, customer_number=number)
            except SubscriberNotFound:
                sub, _ = accounts_service.upsert_subscriber(db_session=s, customer_number=number, actor="demo",
                                               body=BillingSubscriberUpsert(email=email, password=password))
                accounts_service.set_packages(db_session=s, sub=sub, grants=[PackageGrant(code=c) for c in packages],
                                 actor="demo")
                if suspended:
                    accounts_service.set_status(db_session=s, sub=sub, status="suspended", reason=suspended, actor="demo")
            note = f"  (suspended: {suspended})" if suspended else ""
            lines.append(f"    {number} or {email:<18} password {password:<13} {'+'.join(packages)}{note}")
    return lines


def run_demo(settings, *, port: int | None = None) -> int:  # noqa: ANN001
    """Run the whole system in one process until Ctrl-C."""
    from infra.composition.web import create_app
    from infra.composition.wiring import build
    from infra.http_server import SmartGoServer, server_config
    from infra.migrate import upgrade
    from infra.runtime import set_runtime
    from streaming.packager.node import PackagerNode

    if port:
        settings.port = port
    # The test page plays channels without signing in (it lists them with their state).
    settings.open_playback = True
    ensure_players()
    upgrade(settings.database_url)
    rt = build(settings)
    set_runtime(rt)
    ensure_channels(rt)
    ensure_guide(rt)
    logins = ensure_subscribers(rt)
    ensure_vod(rt)
    server = SmartGoServer(server_config(create_app(rt, run_jobs=True), host=settings.host,
                                         port=settings.port))
    local = f"http://127.0.0.1:{settings.port}"

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                await serving
                return
            await asyncio.sleep(0.05)
        node = PackagerNode(rt, ingest_url=local, lease_s=settings.packager_lease_s)
        await node.start()
        base = settings.base_url
        print(f"\n  TV Smart GO demo ({settings.mode} mode, data in {settings.data_dir})\n"
              f"  test page:   {base}/demo/          (Shaka Player: {base}/demo/?player=shaka)\n"
              f"  channels:    {base}/v1/channels   (a guide around now: sign in on the test page"
              f" to start over or catch up)\n"
              f"  playlists:   {base}/live/demo-1/cmaf/master.m3u8\n"
              f"  VOD:         {base}/v1/vod/rows (signed in; the demo film is ingested at first start)\n"
              f"  admin API:   {base}/docs  (X-API-Key: {settings.bootstrap_admin_key})\n"
              f"  subscribers (POST {base}/v1/auth/login; TV sign-in by code at {base}/activate):\n"
              + "\n".join(logins) + "\n"
              "  Ctrl-C stops everything.\n", flush=True)
        try:
            await serving
        finally:
            await node.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    rt.close()
    return 0
