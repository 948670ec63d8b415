"""Content keys for AES-128 channels: a key per period, kept encrypted at rest, and the cipher.

`KeySource` is the interface a commercial key provider will implement later; `StoredKeySource`
generates keys itself and keeps them in the database wrapped with AES-GCM under a key-encryption
key derived from SMARTGO_KEY_ENCRYPTION_KEY (or the secret key). Keys are cached per process: a
playlist or segment request never waits on the database for a key it has used before.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from abc import ABC, abstractmethod

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError

from infra.runtime import Runtime
from streaming.protection.models import ContentKey


def segment_iv(seq: int) -> bytes:
    """Return the IV a player uses when EXT-X-KEY has none: the media sequence number (RFC 8216 5.2)."""
    return seq.to_bytes(16, "big")


def encrypt_segment(data: bytes, key: bytes, seq: int) -> bytes:
    """Encrypt a whole segment as HLS METHOD=AES-128 does: AES-128-CBC, PKCS7, IV from seq."""
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(segment_iv(seq))).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


def encrypted_length(length: int) -> int:
    """Return the size of a segment of length bytes once encrypted (PKCS7 always pads)."""
    return (length // 16 + 1) * 16


class KeySource(ABC):
    """Where a channel's content keys come from."""

    @abstractmethod
    def key_for(self, channel_id: str, period: int) -> bytes:
        """Return the 16-byte key of a channel's key period (creating it if the source may)."""


class StoredKeySource(KeySource):
    """Keys made here, stored wrapped (AES-GCM) in the content_keys table."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        secret = rt.settings.key_encryption_key or rt.settings.secret_key
        self._kek = AESGCM(hashlib.sha256(b"smartgo-key-encryption:" + secret.encode()).digest())
        self._cache: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()

    def key_for(self, channel_id: str, period: int) -> bytes:
        hit = self._cache.get((channel_id, period))
        if hit is not None:
            return hit
        with self._lock:
            key = self._load_or_make(channel_id, period)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[(channel_id, period)] = key
            return key

    def _aad(self, channel_id: str, period: int) -> bytes:
        # The wrapped key is bound to its channel and period: a row copied elsewhere fails.
        return f"{channel_id}:{period}".encode()

    def _unwrap(self, row: ContentKey) -> bytes:
        raw = base64.b64decode(row.wrapped)
        return self._kek.decrypt(raw[:12], raw[12:], self._aad(row.channel_id, row.period))

    def _load_or_make(self, channel_id: str, period: int) -> bytes:
        with self.rt.db.session(write=False) as s:
            row = s.get(ContentKey, (channel_id, period))
            if row is not None:
                return self._unwrap(row)
        key, nonce = os.urandom(16), os.urandom(12)
        wrapped = base64.b64encode(nonce + self._kek.encrypt(nonce, key, self._aad(channel_id, period))).decode()
        try:
            with self.rt.db.session() as s:
                s.add(ContentKey(channel_id=channel_id, period=period, wrapped=wrapped))
            return key
        except IntegrityError:  # another process made it first: theirs is the key
            with self.rt.db.session(write=False) as s:
                return self._unwrap(s.get(ContentKey, (channel_id, period)))


def key_source(rt: Runtime) -> KeySource:
    """Return this process's key source."""
    source = rt.state(StoredKeySource)
    return source
