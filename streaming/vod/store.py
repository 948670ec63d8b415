"""What other packages ask of a media asset: its state and its segment sets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from streaming.vod.models import MediaAsset


def asset_state(*, db_session: Session, asset_id: str) -> tuple[str, int | None] | None:
    """Return a VOD asset's state and duration in ms (None: no such asset); "ready" plays."""
    row = db_session.execute(select(MediaAsset.state, MediaAsset.duration_ms)
                             .where(MediaAsset.id == asset_id)).first()
    return (row[0], row[1]) if row else None


def asset_segment_sets(*, db_session: Session, asset_id: str) -> tuple[str, ...]:
    """Return the segment sets a ready VOD asset holds (none when it is not ready).

    Read from the sets ingest was asked for (a ready asset has made them all), not from the
    index: the playback door asks on every request, and a film's index is tens of kilobytes.
    """
    row = db_session.execute(select(MediaAsset.state, MediaAsset.segment_sets)
                             .where(MediaAsset.id == asset_id)).first()
    return tuple(row[1]) if row is not None and row[0] == "ready" else ()
