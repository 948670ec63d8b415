"""Request dependencies of the entitlement APIs: the signed-in subscriber, the billing client."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Path, Request

from entitlements import auth, billing
from entitlements.auth import Principal
from entitlements.schemas import CustomerNumber, PackageCode
from infra.deps import SessionDep


def client_address(request: Request) -> str:
    """Return the peer address a request came from (the throttle's per-address key)."""
    return request.client.host if request.client else "unknown"


def bearer_token(request: Request) -> str | None:
    """Return the bearer token of the Authorization header, if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def current_principal(request: Request, db_session: SessionDep) -> Principal:
    """Return the signed-in subscriber of the request or refuse it."""
    return auth.authenticate(db_session=db_session, access_token=bearer_token(request))


async def billing_client(request: Request) -> str:
    """Verify a billing request's signature; return the client's key id."""
    rt = request.app.state.runtime
    body = await request.body()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    h = request.headers
    return billing.verify_request(
        keys=rt.settings.billing_key_map, cache=rt.cache, key_id=h.get("x-smartgo-key-id"),
        timestamp=h.get("x-smartgo-timestamp"), signature_hex=h.get("x-smartgo-signature"),
        method=request.method, target=target, body=body, now=time.time(),
        max_skew_s=rt.settings.billing_max_skew_s, request_id=h.get("idempotency-key"))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
BillingClient = Annotated[str, Depends(billing_client)]
CustomerNumberPath = Annotated[CustomerNumber, Path(description="the subscriber's customer number")]
PackageCodePath = Annotated[PackageCode, Path(description="package code")]
DeviceIdPath = Annotated[str, Path(pattern=r"^[a-f0-9]{32}$", description="device id")]
