"""Pure token helpers: signed access tokens, opaque refresh tokens, TV user codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
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

    def __init__(self, current: str, previous: list[str] | tuple[str, ...] = ()) -> None:
        self.current_kid = key_id(current)
        # A key of its own per purpose, derived from the secret: 32 bytes whatever its length.
        self.keys = {key_id(k): hashlib.sha256(b"smartgo-access-token:" + k.encode()).digest()
                     for k in (current, *previous) if k}

    def sign(self, claims: AccessClaims, issued_at: int) -> str:
        """Return a signed access token for claims."""
        payload = {"iss": ISSUER, "sub": claims.subscriber_id, "dev": claims.device_id,
                   "sid": claims.session_id, "iat": issued_at, "exp": claims.expires_at, "typ": "access"}
        return jwt.encode(payload, self.keys[self.current_kid], algorithm="HS256",
                          headers={"kid": self.current_kid})

    def verify(self, token: str, now: int) -> AccessClaims | None:
        """Return the claims of a valid, unexpired access token, or None."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            data = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER,
                              options={"require": ["exp", "sub", "sid", "dev"], "verify_exp": False})
        except jwt.PyJWTError:
            return None
        if data.get("typ") != "access" or not isinstance(data["exp"], int) or data["exp"] <= now:
            return None
        if not all(isinstance(data[k], str) for k in ("sub", "sid", "dev")):
            return None
        return AccessClaims(data["sub"], data["dev"], data["sid"], data["exp"])


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
