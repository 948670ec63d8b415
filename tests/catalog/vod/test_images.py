"""Title images: real images resized and stored, anything else refused with nothing stored."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from catalog.vod import images as vod_images
from tests.catalog.conftest import make_title

BASE = "/v1/admin/vod/titles"


def image(width: int, height: int, fmt: str = "JPEG", colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, fmt)
    return out.getvalue()


def _stored(rt, title_id: str) -> list[str]:  # noqa: ANN001
    return sorted(rt.store.list(f"vod-images/{title_id}/"))


def test_a_poster_is_resized_served_and_replaced(http, rt, staff_keys) -> None:  # noqa: ANN001
    editor = staff_keys["editor"]
    title = make_title(http, editor)
    url = f"{BASE}/{title['id']}/images/poster"
    resp = http.put(url, content=image(2000, 3000), headers={**editor, "Content-Type": "image/jpeg"})
    assert resp.status_code == 200, resp.text
    poster = resp.json()["images"]["poster"]
    assert (poster["width"], poster["height"]) == (2000, 3000)
    assert set(poster["urls"]) == {"original", "320", "640", "1280"}
    served = http.get(poster["urls"]["640"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size == (640, 960)
    first = _stored(rt, title["id"])
    assert len(first) == 4
    small = http.put(url, content=image(200, 300, "PNG", "blue"), headers=editor).json()["images"]["poster"]
    assert set(small["urls"]) == {"original", "200"}
    assert _stored(rt, title["id"]) == sorted(f"vod-images/{p.removeprefix('/v1/vod/images/')}"
                                              for p in small["urls"].values()), "the old image's objects are gone"
    assert http.get(poster["urls"]["640"]).status_code == 404
    assert http.delete(url, headers=editor).json()["images"] == {}
    assert _stored(rt, title["id"]) == []
    actions = [c["changes"] for c in http.get(f"{BASE}/{title['id']}/history", headers=editor).json()["items"]
               if c["action"] == "image"]
    assert actions == [{"images.poster": [None, poster["hash"]]}, {"images.poster": [poster["hash"], small["hash"]]},
                       {"images.poster": [small["hash"], None]}]


@pytest.mark.parametrize("body, status, expected", [
    (b"", 422, "INVALID_IMAGE"),
    (b"this is not an image at all", 422, "INVALID_IMAGE"),
    (image(800, 600)[:400], 422, "INVALID_IMAGE"),  # truncated
    (image(64, 64, "GIF"), 422, "INVALID_IMAGE"),
])
def test_what_is_not_an_image_stores_nothing(http, rt, staff_keys, body, status, expected) -> None:  # noqa: ANN001
    title = make_title(http, staff_keys["editor"])
    resp = http.put(f"{BASE}/{title['id']}/images/backdrop", content=body, headers=staff_keys["editor"])
    assert resp.status_code == status and resp.json()["error"]["code"] == expected, resp.text
    assert _stored(rt, title["id"]) == []
    assert http.get(f"{BASE}/{title['id']}", headers=staff_keys["viewer"]).json()["images"] == {}


def test_bad_image_requests(http, staff_keys) -> None:  # noqa: ANN001
    editor, title = staff_keys["editor"], make_title(http, staff_keys["editor"])
    too_big = http.put(f"{BASE}/{title['id']}/images/poster", content=b"\0" * (vod_images.MAX_BYTES + 1),
                       headers=editor)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "IMAGE_TOO_LARGE"
    assert http.put(f"{BASE}/{title['id']}/images/logo", content=image(10, 10), headers=editor).status_code == 422
    assert http.put(f"{BASE}/no-such/images/poster", content=image(10, 10), headers=editor).status_code == 404
    assert http.put(f"{BASE}/{title['id']}/images/poster", content=image(10, 10),
                    headers=staff_keys["viewer"]).status_code == 403
    for path in ("../../etc/passwd", f"{title['id']}/poster/{'a' * 64}/640.png", "x/poster/short/640.jpg"):
        resp = http.get(f"/v1/vod/images/{path}")
        assert resp.status_code == 404, path
