"""Every table module, imported in one place so Alembic and the tests see the whole schema."""

from __future__ import annotations

from sqlalchemy import MetaData

import catalog.channels.models
import catalog.guide.models
import catalog.vod.models
import entitlements.accounts.models
import entitlements.packages.models
import entitlements.playback.models
import infra.notify
import infra.staff
import recorder.models
import streaming.ingest.models
import streaming.packager.models
import streaming.protection.models
import streaming.timeline.models
import streaming.vod.models
from infra.db import Base

TABLE_MODULES = (catalog.channels.models, catalog.guide.models, catalog.vod.models, entitlements.accounts.models,
                 entitlements.packages.models, entitlements.playback.models, infra.notify, infra.staff,
                 recorder.models, streaming.ingest.models, streaming.packager.models, streaming.protection.models,
                 streaming.timeline.models, streaming.vod.models)


def metadata() -> MetaData:
    """Return the metadata of every table of every package."""
    return Base.metadata
