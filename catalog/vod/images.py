"""Title images (poster, backdrop): checked to be images, resized, stored under their content hash.

Objects are written before the title records them and the previous image's objects are deleted
only after the new record is committed, so a title never points at a missing object; a refused
or failed upload deletes what it wrote. Keys hold the content hash, so players may cache an
image URL forever.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import Session

from catalog.vod import admin as vod_admin
from catalog.vod import service as vod
from catalog.vod.errors import ImageNotFound, InvalidImage
from infra.runtime import Runtime, run_after_commit

KINDS = ("poster", "backdrop")
WIDTHS = (320, 640, 1280)
MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 50_000_000  # well under Pillow's bomb limit: a 7,000 x 7,000 image decodes to 150 MB
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
PREFIX = "vod-images/"
# title id / kind / sha256 / variant: the only keys the image route serves.
PUBLIC_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}/(poster|backdrop)/[a-f0-9]{64}/"
                        r"([0-9]{1,4}\.jpg|original\.(jpg|png|webp))$")


@dataclass(frozen=True)
class Rendered:
    """An image's hash and size, and the bytes of each object to store (name -> (bytes, type))."""

    sha256: str
    width: int
    height: int
    objects: dict[str, tuple[bytes, str]]


def render(data: bytes) -> Rendered:
    """Check that data is a JPEG, PNG or WebP image and make its JPEG variants; raise InvalidImage."""
    if not data:
        raise InvalidImage("the image is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt, (width, height) = probe.format, probe.size
            if fmt not in FORMATS:
                raise InvalidImage(f"images must be JPEG, PNG or WebP, not {fmt}", format=fmt)
            if width * height > MAX_PIXELS:
                raise InvalidImage(f"the image has {width * height} pixels; at most {MAX_PIXELS}")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # verify() checks the structure only; decoding finds truncated data
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InvalidImage("the body is not a readable image", reason=str(err)[:200]) from err
    ext, content_type = FORMATS[fmt]
    objects = {f"original.{ext}": (data, content_type)}
    for target in [w for w in WIDTHS if w < width] + [min(width, WIDTHS[-1])]:
        resized = rgb if target == width else rgb.resize((target, max(1, round(height * target / width))),
                                                         Image.Resampling.LANCZOS)
        out = io.BytesIO()
        resized.save(out, "JPEG", quality=85, optimize=True, progressive=True)
        objects[f"{target}.jpg"] = (out.getvalue(), "image/jpeg")
    return Rendered(hashlib.sha256(data).hexdigest(), width, height, objects)


def _keys(title_id: str, kind: str, rendered: Rendered) -> dict[str, str]:
    base = f"{PREFIX}{title_id}/{kind}/{rendered.sha256}/"
    return {name.split(".")[0]: base + name for name in rendered.objects}


def store(rt: Runtime, *, title_id: str, kind: str, rendered: Rendered) -> dict[str, str]:
    """Write an image's objects; on a storage failure delete those written and re-raise."""
    store_, keys, written = rt.store, _keys(title_id, kind, rendered), []
    try:
        for name, (data, content_type) in rendered.objects.items():
            key = keys[name.split(".")[0]]
            store_.put(key, data, content_type)
            written.append(key)
    except Exception:
        store_.delete_many(written)
        raise
    return keys


def record_image(rt: Runtime, *, db_session: Session, title_id: str, kind: str, rendered: Rendered | None,
                 keys: dict[str, str] | None, actor: str, if_match: int | None):  # noqa: ANN201
    """Point a title's image of a kind at new objects (None removes it); drop the old ones after commit."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    before = (title.images or {}).get(kind)
    if rendered is not None and before and before["hash"] == rendered.sha256:
        return title  # the same image again: its objects are the ones just overwritten
    after = None if rendered is None else {"hash": rendered.sha256, "width": rendered.width,
                                           "height": rendered.height, "keys": keys}
    if before is None and after is None:
        return title
    vod_admin.touch(title, if_match)
    images = {k: v for k, v in (title.images or {}).items() if k != kind}
    title.images = images if after is None else {**images, kind: after}
    vod_admin.record(db_session=db_session, title_id=title_id, actor=actor, action="image",
                     changes={f"images.{kind}": (before and before["hash"], after and after["hash"])})
    db_session.flush()
    if before:
        old = list(before["keys"].values())
        run_after_commit(db_session, lambda: rt.store.delete_many(old))
    return title


def check_title(*, db_session: Session, title_id: str) -> None:
    """Raise TitleNotFound unless the title exists (before an upload is processed)."""
    vod.get_title(db_session=db_session, title_id=title_id)


def public_key(path: str) -> tuple[str, str]:
    """Return the object key an image URL path names and its content type, or raise ImageNotFound."""
    if not PUBLIC_KEY.match(path):
        raise ImageNotFound("no such image")
    # From the name, not the store: a local folder keeps no content types.
    ext = path.rsplit(".", 1)[1]
    return PREFIX + path, next(t for e, t in FORMATS.values() if e == ext)
