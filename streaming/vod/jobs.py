"""VOD media jobs: ingest of an asset, and the reconcile that queues what waits for it."""

from __future__ import annotations

import datetime as dt
import logging

from infra.errors import ServiceUnavailable
from infra.jobs import JobSpec, queue_job
from infra.runtime import Runtime
from streaming.vod import ingest, uploads
from streaming.vod import service as assets

log = logging.getLogger(__name__)


def reconcile_assets(rt: Runtime) -> int:
    """Queue ingest for every asset that waits for it (queued, or its worker went silent) with tries
    left, fail those without; drop multipart uploads abandoned for two days."""
    now = dt.datetime.now(dt.UTC)
    with rt.db.session() as s:
        given_up = assets.give_up(db_session=s, now=now)
        due = assets.to_ingest(db_session=s, now=now)
        abandoned = uploads.abandoned(db_session=s, now=now)
    for asset_id in given_up:
        log.warning("asset %s failed: its ingest used every try", asset_id)
    for asset_id in abandoned:
        try:
            with rt.db.session() as s:
                uploads.abort(db_session=s, store=rt.store, asset_id=asset_id, now=now)
        except ServiceUnavailable:
            log.warning("abandoned upload %s: storage unavailable, dropped on a later pass", asset_id)
        except Exception:  # storage refuses to drop the parts: forget the upload (its parts expire there)
            log.exception("abandoned upload %s: its parts could not be dropped", asset_id)
            with rt.db.session() as s:
                uploads.forget(db_session=s, asset_id=asset_id, now=now)
    for asset_id in due:
        queue_job(rt, "streaming.ingest_asset", f"streaming.ingest:{asset_id}", asset_id=asset_id)
    return len(due)


JOBS = (
    JobSpec("streaming.ingest_asset", ingest.ingest_asset, timeout_s=6 * 3600, max_tries=3),
    JobSpec("streaming.reconcile_assets", reconcile_assets, timeout_s=60, max_tries=1, every_s=2),
)
