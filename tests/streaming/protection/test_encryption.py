"""AES-128 channels: keys by period, wrapped at rest; playlists name them; segments decrypt."""

from __future__ import annotations

import re
import subprocess
import uuid

import m3u8
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import select

from streaming.ffmpeg import ffmpeg_exe
from streaming.formats.hls import MediaPlaylistSpec, render_media
from streaming.protection.keys import (
    StoredKeySource,
    encrypt_segment,
    encrypted_length,
    key_source,
    segment_iv,
)
from streaming.protection.models import ContentKey
from tests.streaming.formats.test_hls import cmaf_init, segments_from
from tests.support.channels import channel_body
from tests.support.ffmpeg import LivePush
from tests.support.hls_conformance import check_media
from tests.support.waiting import wait_for


def _decrypt(data: bytes, key: bytes, seq: int) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(segment_iv(seq))).decryptor()
    unpad = padding.PKCS7(128).unpadder()
    return unpad.update(dec.update(data) + dec.finalize()) + unpad.finalize()


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 188 * 7, 65536])
def test_segments_encrypt_as_hls_aes_128(size: int) -> None:
    key, data = bytes(range(16)), bytes((i * 7) % 256 for i in range(size))
    out = encrypt_segment(data, key, seq=42)
    assert len(out) == encrypted_length(size) and out != data
    assert _decrypt(out, key, 42) == data
    assert encrypt_segment(data, key, seq=43) != out  # the IV is the sequence number


def test_playlists_name_a_key_per_period_and_keep_init_segments_clear() -> None:
    spec = MediaPlaylistSpec(target_duration=3, segment_ext="m4s", uri_prefix="360p/", init_uri=cmaf_init,
                             key_uri=lambda s: f"keys/{s.seq // 4}.key")
    text = render_media(segments_from(0), spec)
    assert check_media(text) == []
    lines = text.splitlines()
    keys = [ln for ln in lines if ln.startswith("#EXT-X-KEY")]
    assert keys[0] == '#EXT-X-KEY:METHOD=AES-128,URI="keys/0.key"'
    assert '#EXT-X-KEY:METHOD=AES-128,URI="keys/1.key"' in keys
    # Every EXT-X-MAP is under METHOD=NONE: the key in force before it (if any) was lifted.
    in_force = None
    for ln in lines:
        if ln.startswith("#EXT-X-KEY"):
            in_force = None if "METHOD=NONE" in ln else ln
        if ln.startswith("#EXT-X-MAP"):
            assert in_force is None, text
    # Segment 4 starts period 1: its key line comes right before it, after its PDT/INF context.
    parsed = m3u8.loads(text)
    by_uri = {s.uri: (s.key.uri if s.key else None) for s in parsed.segments}
    assert by_uri["360p/0.m4s"] == "keys/0.key" and by_uri["360p/5.m4s"] == "keys/1.key"


def test_keys_are_wrapped_at_rest_and_stable(rt, make_channel) -> None:  # noqa: ANN001
    ch = make_channel(encryption="aes-128", key_rotation_s=60)
    source = key_source(rt)
    first = source.key_for(ch["id"], 7)
    assert len(first) == 16 and source.key_for(ch["id"], 7) == first and source.key_for(ch["id"], 8) != first
    with rt.db.session(write=False) as s:
        row = s.scalar(select(ContentKey).where(ContentKey.channel_id == ch["id"], ContentKey.period == 7))
    assert first.hex() not in row.wrapped and first not in row.wrapped.encode()

    assert StoredKeySource(rt).key_for(ch["id"], 7) == first  # another process unwraps the same key


@pytest.mark.ffmpeg
def test_an_encrypted_channel_plays_in_ffmpeg_and_its_segments_decrypt(http, admin, server) -> None:  # noqa: ANN001
    cid = f"enc-{uuid.uuid4().hex[:8]}"
    body = channel_body(cid, encryption="aes-128", key_rotation_s=60)
    created = http.post("/v1/admin/channels", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["encryption"] == "aes-128"
    password = http.get(f"/v1/admin/channels/{cid}/ingest", headers=admin).json()["password"]
    push = LivePush(server, cid, password).start()
    try:
        media = f"/live/{cid}/cmaf/360p.m3u8"
        wait_for(lambda: http.get(media).text.count(".m4s") >= 3, 40, "live segments")
        text = http.playlist(media).text
        uri = re.search(r'#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)"', text).group(1)
        key = http.get(f"/live/{cid}/cmaf/{uri}")
        assert key.status_code == 200 and len(key.content) == 16 and "no-store" in key.headers["cache-control"]
        seg = m3u8.loads(text).segments[-1]
        seq = int(seg.uri.rsplit("/", 1)[1].split(".")[0])
        data = http.get(f"/live/{cid}/cmaf/{seg.uri}").content
        clear = _decrypt(data, http.get(f"/live/{cid}/cmaf/{seg.key.uri}").content, seq)
        assert clear[4:8] in (b"styp", b"moof")  # a CMAF segment once decrypted
        assert http.get(f"/live/{cid}/cmaf/{seg.uri}").content == data  # the next viewer: from memory, same bytes
        assert http.get(f"/live/{cid}/cmaf/keys/99999999.key").json()["error"]["code"] == "KEY_NOT_FOUND"
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-allowed_extensions", "ALL", "-i",
                               f"{server}/live/{cid}/cmaf/master.m3u8", "-t", "3", "-f", "null", "-"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "Error" not in proc.stderr or "decrypt" not in proc.stderr.lower()
    finally:
        push.stop()
