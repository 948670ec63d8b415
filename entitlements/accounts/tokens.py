"""Pure token helpers: signed access tokens, opaque refresh tokens, TV user codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass

import jwt

ISSUER = "smartgo"
# RFC 8628 section 6.1: consonants only, no vowels (no words), no look-alikes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


@dataclass(frozen=True)
class AccessClaims:
    """What an access token asserts: who, on which device, in which sign-in session."""

    subscriber_id: str
    device_id: str
    session_id: str
    expires_at: int


class TokenKeys:
    """The signing key (newest) and the older keys still accepted, each with its key id."""

    # Genuine tokens already verified, by token: a player sends the same one for many minutes, and
    # verifying a signature again costs more than the rest of a start's work on the event loop.
    VERIFIED_MAX = 20_000

    def __init__(self, current: str, previous: list[str] | tuple[str, ...] = ()) -> None:
        self.current_kid = key_id(current)
        self.keys = derived_keys(b"smartgo-access-token:", current, previous)
        self._verified: dict[str, AccessClaims] = {}

    def sign(self, claims: AccessClaims, issued_at: int) -> str:
        """Return a signed access token for claims."""
        payload = {"iss": ISSUER, "sub": claims.subscriber_id, "dev": claims.device_id,
                   "sid": claims.session_id, "iat": issued_at, "exp": claims.expires_at, "typ": "access"}
        return jwt.encode(payload, self.keys[self.current_kid], algorithm="HS256",
                          headers={"kid": self.current_kid})

    def verify(self, token: str, now: int) -> AccessClaims | None:
        """Return the claims of a valid, unexpired access token, or None."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signed(token)
            if claims is None:
                return None
            if len(self._verified) >= self.VERIFIED_MAX:
                self._verified.clear()
            self._verified[token] = claims
        return claims if claims.expires_at > now else None

    def _verify_signed(self, token: str) -> AccessClaims | None:
        """Return the claims of a token this process signed (or an older key did), expired or not."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            data = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER,
                              options={"require": ["exp", "sub", "sid", "dev"], "verify_exp": False})
        except jwt.PyJWTError:
            return None
        if data.get("typ") != "access" or not isinstance(data["exp"], int):
            return None
        if not all(isinstance(data[k], str) for k in ("sub", "sid", "dev")):
            return None
        return AccessClaims(data["sub"], data["dev"], data["sid"], data["exp"])


def derived_keys(purpose: bytes, current: str, previous: list[str] | tuple[str, ...]) -> dict[str, bytes]:
    """Return a key of its own per purpose for each secret, by key id: 32 bytes whatever its length."""
    return {key_id(k): hashlib.sha256(purpose + k.encode()).digest() for k in (current, *previous) if k}


def key_id(secret: str) -> str:
    """Return a short public id of a secret, so tokens name the key that signed them."""
    return hashlib.sha256(b"smartgo-kid:" + secret.encode()).hexdigest()[:8]


def sha256_hex(value: str) -> str:
    """Return the SHA-256 of a token, the only form tokens are stored in."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_opaque_token(prefix: str) -> str:
    """Return a new random bearer secret (256 bits) with a readable prefix."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def new_user_code() -> str:
    """Return a TV sign-in code such as ``BCDF-GHJK`` (about 34 bits)."""
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_user_code(value: str) -> str:
    """Return a typed code in stored form: upper case, dash after four, separators ignored."""
    raw = "".join(c for c in value.upper() if c.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == USER_CODE_LENGTH else raw


def same(a: str, b: str) -> bool:
    """Compare secrets in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class PlaybackGrant:
    """What a playback URL's path token grants: one session's scope, mode and expiry."""

    session_id: str
    subscriber_id: str
    device_id: str
    scope: str  # "channel:tvp1", later "programme:...", "recording:...", "title:..."
    mode: str
    expires_at: int


PLAYBACK_MODES = ("live", "timeshift", "startover", "catchup", "recording", "vod")
_GRANT = struct.Struct(">B4s16s16s16sIB")  # version, kid, session, subscriber, device, expiry, mode


class PlaybackTokens:
    """Signs and checks playback tokens: packed, HMAC-SHA256 (128 bits kept), key id inside.

    A token names the key that signed it, so a new key signs new sessions while running ones,
    signed with an older key still listed, keep playing until they end.
    """

    def __init__(self, current: str, previous: list[str] | tuple[str, ...] = ()) -> None:
        self.current_kid = bytes.fromhex(key_id(current))
        self.keys = {bytes.fromhex(kid): key for kid, key in
                     derived_keys(b"smartgo-playback-token:", current, previous).items()}

    def sign(self, grant: PlaybackGrant) -> str:
        """Return the URL-safe token of a grant."""
        body = _GRANT.pack(1, self.current_kid, bytes.fromhex(grant.session_id),
                           bytes.fromhex(grant.subscriber_id), bytes.fromhex(grant.device_id),
                           grant.expires_at, PLAYBACK_MODES.index(grant.mode)) + grant.scope.encode()
        mac = hmac.new(self.keys[self.current_kid], body, hashlib.sha256).digest()[:16]
        return _b64(body) + "." + _b64(mac)

    def verify(self, token: str, now: int) -> PlaybackGrant | None:
        """Return the grant of a genuine, unexpired token, or None."""
        body_b64, dot, mac_b64 = token.partition(".")
        if not dot or len(token) > 400:
            return None
        try:
            body, mac = _unb64(body_b64), _unb64(mac_b64)
            version, kid, sid, sub, dev, expires, mode = _GRANT.unpack_from(body)
        except (ValueError, struct.error):
            return None
        key = self.keys.get(kid)
        if version != 1 or key is None or mode >= len(PLAYBACK_MODES):
            return None
        if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest()[:16], mac):
            return None
        if expires <= now:
            return None
        try:
            scope = body[_GRANT.size:].decode()
        except UnicodeDecodeError:
            return None
        return PlaybackGrant(sid.hex(), sub.hex(), dev.hex(), scope, PLAYBACK_MODES[mode], expires)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64_ALPHABET for c in text):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # a last character differing only in padding bits is another token
        raise ValueError("not canonical base64url")
    return raw


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
