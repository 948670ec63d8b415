"""The ``smartgo`` command: api, worker, migrate and staff tools."""

from __future__ import annotations

import argparse
import logging
import sys

from infra.logging import configure_logging
from infra.settings import SettingsError, get_settings

log = logging.getLogger("smartgo")


def _settings():  # noqa: ANN202
    try:
        return get_settings()
    except (SettingsError, ValueError) as err:
        print(f"smartgo: configuration error: {err}", file=sys.stderr)
        raise SystemExit(2) from err


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply database migrations."""
    from infra.migrate import downgrade, upgrade

    settings = _settings()
    if args.downgrade:
        downgrade(settings.database_url, args.downgrade)
    else:
        upgrade(settings.database_url)
    print(f"database at {args.downgrade or 'head'}")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    """Run the API and origin (migrating first unless told not to)."""
    settings = _settings()
    if not args.no_migrate:
        from infra.migrate import upgrade

        upgrade(settings.database_url)
    workers = args.workers
    if workers > 1 and settings.embedded:
        print("smartgo: the embedded mode runs one API process; use Redis/PostgreSQL for more",
              file=sys.stderr)
        return 2
    from infra.http_server import SmartGoServer, server_config

    config = server_config("infra.composition.asgi:app", host=args.host or settings.host,
                           port=args.port or settings.port, workers=workers)
    server = SmartGoServer(config, drain_s=settings.drain_s)
    server.run() if workers == 1 else _multi(config, server)
    return 0


def _multi(config, server) -> None:  # noqa: ANN001
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    Multiprocess(config, target=server.run, sockets=[sock]).run()


def cmd_worker(args: argparse.Namespace) -> int:
    """Run background jobs: queued ones from arq, periodic ones on the scheduler (distributed mode)."""
    settings = _settings()
    if not settings.redis_url:
        print("smartgo: the worker needs SMARTGO_REDIS_URL; in the embedded mode the API process "
              "runs jobs itself", file=sys.stderr)
        return 2
    import asyncio
    import os

    from infra.composition.wiring import build
    from infra.runtime import set_runtime
    from workers.worker import serve_worker

    # arq logs every job at INFO and each connection loss with a traceback; our own lines say
    # what matters (failures, and one line per outage through the health monitor).
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("arq").setLevel(logging.WARNING)
    rt = build(settings)
    set_runtime(rt)
    port = settings.health_port if args.health_port is None else args.health_port
    drain = {} if args.drain_timeout is None else {"drain_timeout_s": args.drain_timeout}
    finished = asyncio.run(serve_worker(rt, health_port=port, **drain))
    rt.close()
    if not finished:  # a job thread still runs; it cannot be stopped, and it is back on the queue
        logging.shutdown()
        os._exit(0)
    return 0


def cmd_packager(args: argparse.Namespace) -> int:
    """Run a packager node: take channels through leases and supervise their ffmpeg."""
    settings = _settings()
    if settings.embedded:
        print("smartgo: in the embedded mode the packager runs inside `smartgo demo`; a separate "
              "packager process needs SMARTGO_REDIS_URL for its leases", file=sys.stderr)
        return 2
    import asyncio
    import signal

    import uvloop

    from infra.composition.wiring import build
    from infra.readiness import Lifecycle, serve_probes
    from infra.runtime import set_runtime
    from streaming.packager.node import PackagerNode

    rt = build(settings)
    set_runtime(rt)
    health_port = args.health_port if args.health_port is not None else settings.health_port

    async def run() -> None:
        lifecycle = rt.lifecycle = Lifecycle("packager", settings.mode, rt.health)
        probes = asyncio.create_task(rt.health.run(), name="health-probes")
        endpoint = await serve_probes(lifecycle, settings.host, health_port) if health_port else None
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        node = PackagerNode(rt, ingest_url=settings.ingest_base_url, lease_s=settings.packager_lease_s)
        await node.start()
        lifecycle.started = True
        log.info("packager node %s pushing to %s", node.node_id, settings.ingest_base_url)
        try:
            await stop.wait()
        finally:
            # Draining: its channels are let go at once (leases released), so other nodes take
            # them within a lease round instead of a lease lifetime.
            lifecycle.drain()
            log.warning("packager node %s stopping: releasing its channels", node.node_id)
            await node.stop()
            await rt.bus.stop()
            probes.cancel()
            if endpoint is not None:
                endpoint.close()

    uvloop.run(run())  # as the API: the node's work is event-loop work (pipes, timers, bus)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run API, jobs, packager and two test channels in one process; print the test page."""
    from infra.composition.demo import run_demo

    return run_demo(_settings(), port=args.port)


def cmd_staff_key(args: argparse.Namespace) -> int:
    """Create a staff API key and print it once."""
    from infra import staff
    from infra.db import Database

    settings = _settings()
    db = Database(settings.database_url)
    with db.session() as s:
        key = staff.create_key(db_session=s, name=args.name, role=args.role)
    print(key)
    return 0


def cmd_epg_import(args: argparse.Namespace) -> int:
    """Import a guide file (XMLTV, gzip or not) into a source now, and print its report."""
    import json
    from pathlib import Path

    from catalog.guide import sources as epg
    from catalog.guide.imports import run_import
    from infra.composition.wiring import build
    from infra.db import new_id
    from infra.runtime import set_runtime

    if not Path(args.file).is_file():
        print(f"smartgo: no such file: {args.file}", file=sys.stderr)
        return 2
    rt = build(_settings())
    set_runtime(rt)
    try:
        import_id = new_id()
        key = f"{epg.UPLOAD_PREFIX}{import_id}"
        with rt.db.session() as s:
            epg.get_source(db_session=s, source_id=args.source)
        rt.store.put_file(key, Path(args.file), "application/xml")
        with rt.db.session() as s:
            epg.queue_import(db_session=s, source_id=args.source, origin="file", object_key=key,
                             import_id=import_id, claimed=True)
        status = run_import(rt, import_id)
        with rt.db.session(write=False) as s:
            imp = epg.get_import(db_session=s, import_id=import_id)
            print(json.dumps({"id": imp.id, "status": imp.status, "error": imp.error, "report": imp.report},
                             indent=2, ensure_ascii=False))
        return 0 if status == "succeeded" else 1
    finally:
        rt.close()


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the smartgo command."""
    from infra.staff import ROLES

    parser = argparse.ArgumentParser(prog="smartgo", description="TV Smart GO backend")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("api", help="run the API and HLS origin")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-migrate", action="store_true")
    p.set_defaults(func=cmd_api)
    p = sub.add_parser("worker", help="run background jobs (arq, needs Redis)")
    p.add_argument("--health-port", type=int, help="serve /healthz and /readyz here (default SMARTGO_HEALTH_PORT; 0: off)")
    p.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                   help="on SIGTERM, wait this long (default 60) for running jobs before putting them back on the queue")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("packager", help="run a packager node (distributed mode)")
    p.add_argument("--health-port", type=int, help="serve /healthz and /readyz on this port")
    p.set_defaults(func=cmd_packager)
    p = sub.add_parser("demo", help="run everything with two test channels and a test page")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--downgrade", metavar="REVISION")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("staff-key", help="create a staff API key")
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=list(ROLES), default="operator")
    p.set_defaults(func=cmd_staff_key)
    p = sub.add_parser("epg-import", help="import an XMLTV guide file into a guide source now")
    p.add_argument("--source", required=True)
    p.add_argument("file")
    p.set_defaults(func=cmd_epg_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the smartgo command."""
    args = build_parser().parse_args(argv)
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
