"""Large mezzanines straight to object storage: multipart uploads with a URL per part.

On S3 each part URL is presigned for the bucket, so the bytes never pass through the API. The
local folder store has no such URLs: its part URLs point at the API, signed the same way (HMAC of
the asset, the upload, the part and the expiry), so clients use one protocol on both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.errors import InvalidInput, Unauthorized
from infra.storage import ObjectStore
from infra.uploads import UploadIncomplete
from streaming.vod import service as assets
from streaming.vod.errors import AssetStateConflict
from streaming.vod.models import MediaAsset

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part (but the last)
DEFAULT_PART_BYTES = 64 * 1024 * 1024
MAX_PARTS = 10_000  # S3's most
URL_LIFETIME_S = 24 * 3600
ABANDONED_AFTER = dt.timedelta(days=2)


class UploadUrlInvalid(Unauthorized):
    code = "UPLOAD_URL_INVALID"


class UploadSizeMismatch(UploadIncomplete):
    """The joined parts are not the size announced: the upload is spent, and the asset failed (kept)."""

    keeps_changes = True


@dataclass(frozen=True)
class PartPlan:
    """How a file of a given size is cut into parts."""

    part_size: int
    count: int


def plan_parts(size: int, part_size: int | None) -> PartPlan:
    """Cut size bytes into parts of part_size (or a default that keeps within 10,000 parts)."""
    wanted = part_size or max(DEFAULT_PART_BYTES, math.ceil(size / MAX_PARTS))
    if wanted < MIN_PART_BYTES:
        raise InvalidInput(f"part_size must be at least {MIN_PART_BYTES} bytes", minimum=MIN_PART_BYTES)
    count = math.ceil(size / wanted)
    if count > MAX_PARTS:
        raise InvalidInput(f"{size} bytes in parts of {wanted} makes more than {MAX_PARTS} parts", parts=count)
    return PartPlan(wanted, count)


def part_signature(secret: str, asset_id: str, upload_id: str, part: int, expires: int) -> str:
    """Return the signature of a local part URL."""
    return hmac.new(secret.encode(), f"vod-part:{asset_id}:{upload_id}:{part}:{expires}".encode(),
                    hashlib.sha256).hexdigest()


def part_urls(store: ObjectStore, *, secret: str, base_url: str, row: MediaAsset, count: int,
              now: dt.datetime) -> list[dict]:
    """Return where each part goes: a presigned store URL, or the API's signed part URL."""
    expires = int(now.timestamp()) + URL_LIFETIME_S
    out = []
    for n in range(1, count + 1):
        url = store.part_url(row.source_key, row.upload_id, n, URL_LIFETIME_S)
        if url is None:
            sig = part_signature(secret, row.id, row.upload_id, n, expires)
            url = f"{base_url}/v1/admin/vod/uploads/{row.id}/parts/{n}?expires={expires}&signature={sig}"
        out.append({"part_number": n, "url": url})
    return out


def check_part_url(*, secret: str, row: MediaAsset, part: int, expires: int, signature: str, now: dt.datetime) -> None:
    """Refuse a local part upload for an upload no longer under way (409: it was completed or aborted),
    or whose URL is forged or expired."""
    if row.state != "uploading" or row.upload_id is None:
        raise AssetStateConflict(f"the asset takes no more parts (state {row.state})", state=row.state)
    expected = part_signature(secret, row.id, row.upload_id, part, expires)
    if not hmac.compare_digest(expected, signature) or expires < now.timestamp():
        raise UploadUrlInvalid("this part URL is not valid (forged or expired)")


def begin(*, db_session: Session, store: ObjectStore, asset_id: str, filename: str, size: int, created_by: str,
          now: dt.datetime, segment_sets: tuple[str, ...]) -> MediaAsset:
    """Record an asset whose mezzanine is being uploaded in parts."""
    row = assets.create(db_session=db_session, asset_id=asset_id, filename=filename, size=size, sha256=None,
                        created_by=created_by, now=now, audio_labels=[], state="uploading",
                        segment_sets=segment_sets)
    row.upload_id = store.start_multipart(row.source_key)
    db_session.flush()
    return row


def uploading(*, db_session: Session, asset_id: str) -> MediaAsset:
    """Return an asset whose upload is under way (locked), or raise."""
    row = assets.get(db_session=db_session, asset_id=asset_id, lock=True)
    if row.state != "uploading" or row.upload_id is None:
        raise AssetStateConflict(f"the asset has no upload under way (state {row.state})", state=row.state)
    return row


def complete(*, db_session: Session, store: ObjectStore, asset_id: str, parts: list[tuple[int, str]],
             now: dt.datetime) -> MediaAsset:
    """Join the uploaded parts into the mezzanine and queue the asset; parts that join into another
    size than announced spend the upload and fail the asset (upload the file again)."""
    row = uploading(db_session=db_session, asset_id=asset_id)
    numbers = [n for n, _ in parts]
    if numbers != list(range(1, len(numbers) + 1)):
        raise InvalidInput("parts must be listed once each, in order, from 1", parts=numbers[:20])
    size = store.complete_multipart(row.source_key, row.upload_id, parts)
    if size != row.size:
        store.delete_many([row.source_key])
        message = f"the parts hold {size} bytes of the {row.size} announced"
        row.state, row.upload_id, row.finished_at = "failed", None, now
        row.error_code, row.error = "UPLOAD_INCOMPLETE", message + ": upload the file again"
        db_session.flush()
        raise UploadSizeMismatch(message, received=size)
    row.state, row.upload_id, row.tries = "queued", None, 0
    db_session.flush()
    return row


def abort(*, db_session: Session, store: ObjectStore, asset_id: str, now: dt.datetime) -> MediaAsset:
    """Give up an upload under way: its parts are dropped and the asset is cancelled (for good: it has
    no file to ingest, so it cannot be retried)."""
    row = uploading(db_session=db_session, asset_id=asset_id)
    store.abort_multipart(row.source_key, row.upload_id)
    _cancel(db_session, row, now)
    return row


def forget(*, db_session: Session, asset_id: str, now: dt.datetime) -> None:
    """Cancel an abandoned upload whose parts storage would not drop (they expire there), if it is
    still under way."""
    row = assets.get(db_session=db_session, asset_id=asset_id, lock=True)
    if row.state == "uploading":
        _cancel(db_session, row, now)


def _cancel(db_session: Session, row: MediaAsset, now: dt.datetime) -> None:
    row.state, row.upload_id, row.finished_at = "cancelled", None, now
    row.error_code, row.error = "UPLOAD_ABORTED", "the upload was aborted before it was completed"
    db_session.flush()


def abandoned(*, db_session: Session, now: dt.datetime) -> list[str]:
    """Return uploads begun long ago and never completed."""
    return list(db_session.scalars(select(MediaAsset.id).where(
        MediaAsset.state == "uploading", MediaAsset.created_at < now - ABANDONED_AFTER).limit(100)))
