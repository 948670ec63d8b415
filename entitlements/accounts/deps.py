"""Request dependencies of the account APIs: the signed-in subscriber, the billing client."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from entitlements.accounts import auth, billing
from entitlements.accounts.schemas import CustomerNumber, PackageCode, Principal
from infra.deps import RuntimeDep, SessionDep


def client_address(request: Request) -> str:
    """Return the peer address a request came from (the throttle's per-address key)."""
    return request.client.host if request.client else "unknown"


# How the OpenAPI document shows the two kinds of caller (the headers are read below).
SUBSCRIBER_TOKEN = HTTPBearer(scheme_name="SubscriberToken", auto_error=False,
                              description="The access token of POST /v1/auth/login (or /v1/auth/refresh).")
BILLING_SIGNATURE = APIKeyHeader(
    name="X-SmartGo-Signature", scheme_name="BillingSignature", auto_error=False,
    description="HMAC-SHA256 of the request with the billing client's secret, sent with X-SmartGo-Key-Id, "
                "X-SmartGo-Timestamp and (for changes) Idempotency-Key; see entitlements/accounts/billing.py.")


async def access_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(SUBSCRIBER_TOKEN)]) -> str | None:
    """Return the access token a request carries (Authorization: Bearer), if any."""
    return credentials.credentials if credentials else None


AccessToken = Annotated[str | None, Depends(access_token)]


def current_principal(db_session: SessionDep, rt: RuntimeDep, token: AccessToken) -> Principal:
    """Return the signed-in subscriber of the request or refuse it."""
    return auth.authenticate(rt, db_session=db_session, access_token=token)


async def billing_client(request: Request, signature: Annotated[str | None, Depends(BILLING_SIGNATURE)]) -> str:
    """Verify a billing request's signature; return the client's key id."""
    rt = request.app.state.runtime
    body = await request.body()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    h = request.headers
    return billing.verify_request(
        keys=rt.settings.billing_key_map, cache=rt.cache, key_id=h.get("x-smartgo-key-id"),
        timestamp=h.get("x-smartgo-timestamp"), signature_hex=signature,
        method=request.method, target=target, body=body, now=time.time(),
        max_skew_s=rt.settings.billing_max_skew_s, request_id=h.get("idempotency-key"))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
BillingClient = Annotated[str, Depends(billing_client)]
CustomerNumberPath = Annotated[CustomerNumber, Path(description="the subscriber's customer number")]
PackageCodePath = Annotated[PackageCode, Path(description="package code")]
DeviceIdPath = Annotated[str, Path(pattern=r"^[a-f0-9]{32}$", description="device id")]
