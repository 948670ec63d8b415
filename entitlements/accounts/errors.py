"""Account errors: each has a stable code the apps and billing act on."""

from __future__ import annotations

from typing import Any

from infra.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SmartGoError,
    TooManyRequests,
    Unauthorized,
)


class InvalidCredentials(Unauthorized):
    """The same error for an unknown login and a wrong password."""

    code = "INVALID_CREDENTIALS"


class LoginThrottled(TooManyRequests):
    code = "LOGIN_THROTTLED"
    status = 429


class AuthRequired(Unauthorized):
    code = "AUTH_REQUIRED"


class InvalidAccessToken(Unauthorized):
    code = "INVALID_ACCESS_TOKEN"


class InvalidRefreshToken(Unauthorized):
    code = "INVALID_REFRESH_TOKEN"


class RefreshTokenReused(Unauthorized):
    """An old refresh token came back: the whole family is revoked (it may have been stolen)."""

    code = "REFRESH_TOKEN_REUSED"


class InvalidResetToken(InvalidInput):
    code = "INVALID_RESET_TOKEN"


class WeakPassword(InvalidInput):
    code = "WEAK_PASSWORD"


class DeviceLimit(Forbidden):
    code = "DEVICE_LIMIT"


class DeviceNotFound(NotFound):
    code = "DEVICE_NOT_FOUND"


class UnknownDeviceProfile(InvalidInput):
    code = "UNKNOWN_DEVICE_PROFILE"


class UserCodeNotFound(NotFound):
    code = "USER_CODE_NOT_FOUND"


class SubscriberNotFound(NotFound):
    code = "SUBSCRIBER_NOT_FOUND"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"


class InvalidValidity(InvalidInput):
    code = "INVALID_VALIDITY"


class BillingAuthRequired(Unauthorized):
    code = "BILLING_AUTH_REQUIRED"


class BadSignature(Unauthorized):
    code = "BAD_SIGNATURE"


class StaleRequest(Unauthorized):
    code = "STALE_REQUEST"


class ReplayedRequest(Conflict):
    code = "REPLAYED_REQUEST"


class RequestIdRequired(InvalidInput):
    code = "REQUEST_ID_REQUIRED"


class IdempotencyMismatch(Conflict):
    """A request id came back with a different body."""

    code = "IDEMPOTENCY_MISMATCH"


class RequestInProgress(Conflict):
    code = "REQUEST_IN_PROGRESS"
    headers = {"Retry-After": "1"}


class OAuthError(SmartGoError):
    """An error of the OAuth token endpoint, in the shape RFC 6749 section 5.2 prescribes.

    TV apps use stock OAuth clients that read ``error``; the code is as stable as ours.
    """

    status = 400

    def __init__(self, error: str, description: str = "", **details: Any) -> None:
        super().__init__(description or error, **details)
        self.code = error

    @classmethod
    def response_schema(cls, codes: list[str] | None) -> dict[str, Any]:
        """Return the JSON schema of the RFC 6749 error body."""
        return {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"} if codes is None else {"type": "string", "enum": codes},
            "error_description": {"type": "string"}}}

    def to_dict(self) -> dict[str, Any]:
        """Return the RFC 6749 error body."""
        return {"error": self.code, "error_description": self.message}


class PinInvalid(Forbidden):
    code = "PIN_INVALID"
    keeps_changes = True


class PinNotSet(InvalidInput):
    code = "PIN_NOT_SET"


class ProfileNotFound(NotFound):
    code = "PROFILE_NOT_FOUND"


class PinLocked(TooManyRequests):
    code = "PIN_LOCKED"
    status = 429
