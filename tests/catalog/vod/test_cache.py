"""The per-process cache of what every player sees alike: kept per catalogue change, bounded by a TTL."""

from __future__ import annotations

import datetime as dt
import itertools

from catalog.vod import cache as vod_cache
from catalog.vod.models import TitleChange


def test_a_value_is_kept_until_a_change_or_its_ttl(rt) -> None:  # noqa: ANN001
    counter = itertools.count()
    with rt.db.session() as s:
        first = vod_cache.cached(db_session=s, name="test", ttl_s=60, compute=lambda: next(counter))
        assert vod_cache.cached(db_session=s, name="test", ttl_s=60, compute=lambda: next(counter)) == first
        assert vod_cache.cached(db_session=s, name="test", ttl_s=0, compute=lambda: next(counter)) == first + 1
    with rt.db.session() as s:
        s.add(TitleChange(title_id="cache-test", at=dt.datetime.now(dt.UTC), actor="test", action="updated",
                          changes={}))
    with rt.db.session() as s:
        assert vod_cache.cached(db_session=s, name="test", ttl_s=60, compute=lambda: next(counter)) == first + 2
