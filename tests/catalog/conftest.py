"""Helpers of the VOD catalogue tests: staff keys per role, ready assets, subscribers."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import pytest

from infra import staff
from streaming.vod.models import MediaAsset
from tests.entitlements.conftest import (  # noqa: F401
    billing,
    make_package,
    make_subscriber,
)


@pytest.fixture(scope="session")
def staff_keys(rt) -> dict[str, dict[str, str]]:  # noqa: ANN001
    """Headers of a key of every staff role."""
    with rt.db.session() as s:
        return {role: {"X-API-Key": staff.create_key(db_session=s, name=f"vod {role}", role=role)}
                for role in staff.ROLES}


def make_asset(rt, state: str = "ready", duration_ms: int | None = 5_400_000) -> str:  # noqa: ANN001
    """Insert a media asset row in a given state (no transcode) and return its id."""

    asset_id = secrets.token_hex(16)
    with rt.db.session() as s:
        s.add(MediaAsset(id=asset_id, filename="film.mp4", source_key=f"vod-test/{asset_id}", state=state,
                         duration_ms=duration_ms, created_by="test", created_at=dt.datetime.now(dt.UTC)))
    return asset_id


def title_body(**overrides) -> dict:  # noqa: ANN003
    """Return a valid movie creation body with a unique id and Polish and English texts."""

    body = {"id": f"t-{uuid.uuid4().hex[:12]}", "kind": "movie", "year": 2020, "genres": ["drama"],
            "texts": {"pol": {"title": "Film testowy", "synopsis": "Opis."},
                      "eng": {"title": "Test film", "short_synopsis": "A test."}}}
    body.update(overrides)
    return body


def make_title(http, headers: dict, **overrides) -> dict:  # noqa: ANN001, ANN003
    """Create a title and return its JSON."""
    resp = http.post("/v1/admin/vod/titles", json=title_body(**overrides), headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def publish_title(http, rt, headers: dict, **overrides) -> dict:  # noqa: ANN001, ANN003
    """Create a title, give it a ready asset unless it is a container, publish it; return its JSON."""
    title = make_title(http, headers, **overrides)
    base = f"/v1/admin/vod/titles/{title['id']}"
    if title["kind"] not in ("series", "season"):
        resp = http.put(base + "/asset", json={"asset_id": make_asset(rt)}, headers=headers)
        assert resp.status_code == 200, resp.text
    resp = http.post(base + "/publish", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()
