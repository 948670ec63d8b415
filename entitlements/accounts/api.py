"""Account HTTP APIs: player sign-in and account, staff packages, billing integration."""

from __future__ import annotations

import json
from html import escape
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from entitlements.accounts import auth, billing, passwords, profiles, service
from entitlements.accounts.deps import (
    BillingClient,
    CurrentPrincipal,
    CustomerNumberPath,
    DeviceIdPath,
    client_address,
)
from entitlements.accounts.errors import InvalidCredentials, OAuthError
from entitlements.accounts.schemas import (
    AccountChangePagination,
    AccountChangeRead,
    AccountRead,
    BillingPackages,
    BillingSubscriberUpsert,
    DeviceApproval,
    DeviceCodeRequest,
    DeviceCodeResponse,
    DeviceProfileRead,
    DeviceProfileSet,
    DeviceRead,
    DeviceRename,
    LoginRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    PinSet,
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
    RefreshRequest,
    SubscriberRead,
    Suspension,
    TokenPair,
)
from entitlements.packages import service as packages_service
from entitlements.packages.schemas import (
    PackageRead,
)
from infra.deps import RuntimeDep, SessionDep, require_staff
from infra.errors import InvalidInput, SmartGoError
from infra.validation import Offset
from streaming.formats import device_profiles

router = APIRouter()
viewer = [Depends(require_staff("viewer"))]
operator = [Depends(require_staff("operator"))]
admin = [Depends(require_staff("admin"))]
ProfileIdPath = Annotated[str, Path(pattern=r"^[a-f0-9]{32}$", description="profile id")]


# -- sign-in ----------------------------------------------------------------------------------
@router.post("/v1/auth/login", response_model=TokenPair, tags=["sign-in"])
def login(body: LoginRequest, request: Request, rt: RuntimeDep) -> TokenPair:
    """Sign in with customer number or e-mail and password; registers the device."""
    # Two transactions on purpose: argon2 costs ~37 ms of CPU, and is checked outside the
    # write transaction (SQLite has one writer; PostgreSQL keeps its locks short).
    with rt.db.session(write=False) as s:
        sub = auth.check_credentials(rt, db_session=s, login=body.login, password=body.password,
                                     address=client_address(request))
    with rt.db.session() as s:
        return auth.start_session(rt, db_session=s, subscriber_id=sub.id, device=body.device,
                                  password=body.password)


@router.post("/v1/auth/refresh", response_model=TokenPair, tags=["sign-in"])
def refresh(body: RefreshRequest, db_session: SessionDep, rt: RuntimeDep) -> TokenPair:
    """Trade a refresh token for new tokens (the old one stops working)."""
    return auth.refresh(rt, db_session=db_session, refresh_token=body.refresh_token)


@router.post("/v1/auth/logout", status_code=204, tags=["sign-in"])
def logout(who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Sign out this app on this device."""
    auth.logout(db_session=db_session, session_id=who.session_id)
    return Response(status_code=204)


@router.post("/v1/auth/logout-everywhere", tags=["sign-in"])
def logout_everywhere(who: CurrentPrincipal, db_session: SessionDep) -> dict:
    """Sign out every device of the account."""
    return {"revoked": auth.logout_everywhere(db_session=db_session, subscriber_id=who.subscriber_id)}


@router.post("/v1/auth/password-reset", status_code=202, tags=["sign-in"])
def password_reset(body: PasswordResetRequest, db_session: SessionDep, rt: RuntimeDep) -> dict:
    """Send a reset link to the account's e-mail; the answer is the same for unknown logins."""
    auth.request_password_reset(rt, db_session=db_session, login=body.login)
    return {"status": "accepted"}


@router.post("/v1/auth/password-reset/confirm", status_code=204, tags=["sign-in"])
def password_reset_confirm(body: PasswordResetConfirm, db_session: SessionDep) -> Response:
    """Set a new password with a reset token; signs the account out everywhere."""
    auth.confirm_password_reset(db_session=db_session, token=body.token, new_password=body.new_password)
    return Response(status_code=204)


@router.post("/v1/auth/device/code", response_model=DeviceCodeResponse, tags=["sign-in"])
def device_code(request: Request, db_session: SessionDep, rt: RuntimeDep,
                body: DeviceCodeRequest | None = None) -> DeviceCodeResponse:
    """Start a TV sign-in by code (RFC 8628 device authorization request)."""
    return auth.start_device_authorization(rt, db_session=db_session, request=body or DeviceCodeRequest(),
                                           base_url=rt.settings.public_base_url or str(request.base_url))


async def _form_or_json(request: Request) -> dict:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "the body must be a JSON object or a form")
        return {k: v for k, v in data.items() if isinstance(v, str)}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


_DEVICE_TOKEN_REQUEST = {"type": "object", "required": ["grant_type", "device_code"], "properties": {
    "grant_type": {"type": "string", "enum": [auth.DEVICE_CODE_GRANT]}, "device_code": {"type": "string"}}}


@router.post("/v1/auth/device/token", response_model=TokenPair, tags=["sign-in"], openapi_extra={"requestBody": {
    "required": True, "content": {t: {"schema": _DEVICE_TOKEN_REQUEST}
                                  for t in ("application/x-www-form-urlencoded", "application/json")}}})
def device_token(db_session: SessionDep, rt: RuntimeDep,
                 params: Annotated[dict, Depends(_form_or_json)]) -> TokenPair:
    """Poll for the TV's tokens (RFC 8628 section 3.4); errors are RFC 6749 shaped."""
    return auth.poll_device_token(rt, db_session=db_session, grant_type=params.get("grant_type"),
                                  device_code=params.get("device_code"))


@router.post("/v1/auth/device/approve", tags=["sign-in"])
def device_approve(body: DeviceApproval, who: CurrentPrincipal, db_session: SessionDep, rt: RuntimeDep) -> dict:
    """Confirm (or refuse) the code a TV shows, from a phone that is signed in."""
    return auth.approve_device(rt, db_session=db_session, subscriber_id=who.subscriber_id,
                               user_code=body.user_code, approve=body.approve)


# -- the subscriber's own account ------------------------------------------------------------
@router.get("/v1/me", response_model=AccountRead, tags=["account"])
def me(who: CurrentPrincipal, db_session: SessionDep, rt: RuntimeDep) -> AccountRead:
    """Show the account: status, active packages, combined limits."""
    sub = service.get_subscriber(db_session=db_session, subscriber_id=who.subscriber_id)
    active = service.active_packages(db_session=db_session, subscriber_id=sub.id)
    return AccountRead(id=sub.id, customer_number=sub.customer_number, email=sub.email, status=sub.status,
                       status_reason=sub.status_reason, packages=[service.to_active(g, p) for g, p in active],
                       limits=service.account_limits(rt, db_session=db_session, sub=sub),
                       devices=len(service.list_devices(db_session=db_session, subscriber_id=sub.id)))


@router.get("/v1/me/devices", response_model=list[DeviceRead], tags=["account"])
def my_devices(who: CurrentPrincipal, db_session: SessionDep) -> list[DeviceRead]:
    """List the account's devices."""
    return [service.to_device_read(d, who.device_id)
            for d in service.list_devices(db_session=db_session, subscriber_id=who.subscriber_id)]


@router.patch("/v1/me/devices/{device_id}", response_model=DeviceRead, tags=["account"])
def rename_device(device_id: DeviceIdPath, body: DeviceRename, who: CurrentPrincipal,
                  db_session: SessionDep) -> DeviceRead:
    """Rename a device."""
    device = service.get_device(db_session=db_session, subscriber_id=who.subscriber_id, device_id=device_id)
    device.name = body.name
    return service.to_device_read(device, who.device_id)


@router.delete("/v1/me/devices/{device_id}", status_code=204, tags=["account"])
def remove_device(device_id: DeviceIdPath, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Remove a device; its sign-ins stop working at once."""
    service.remove_device(db_session=db_session, subscriber_id=who.subscriber_id, device_id=device_id)
    return Response(status_code=204)


@router.get("/v1/admin/subscribers/{customer_number}", response_model=SubscriberRead, dependencies=viewer,
            tags=["subscribers"])
def staff_subscriber(customer_number: CustomerNumberPath, db_session: SessionDep) -> SubscriberRead:
    """Show a subscriber (customer care)."""
    sub = service.get_by_customer_number(db_session=db_session, customer_number=customer_number)
    return service.to_subscriber_read(db_session=db_session, sub=sub)


@router.get("/v1/admin/subscribers/{customer_number}/changes", response_model=AccountChangePagination,
            dependencies=viewer, tags=["subscribers"])
def staff_changes(customer_number: CustomerNumberPath, db_session: SessionDep,
                  offset: Offset = 0,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AccountChangePagination:
    """Show who changed the account, when, and what it was before and after."""
    sub = service.get_by_customer_number(db_session=db_session, customer_number=customer_number)
    rows, total = service.list_changes(db_session=db_session, subscriber_id=sub.id, offset=offset, limit=limit)
    return AccountChangePagination(items=[AccountChangeRead.model_validate(r, from_attributes=True)
                                          for r in rows], total=total)


# -- billing and self-care (signed, idempotent) --------------------------------------------------
async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]
# The answers of a billing change, a retry's included (the stored answer, marked as replayed).
_REPLAYED = {"Idempotent-Replayed": {"description": "true when this is the stored answer of an earlier request "
                                                   "with the same Idempotency-Key", "schema": {"type": "string"}}}
CHANGED = {200: {"model": SubscriberRead, "description": "The subscriber as changed", "headers": _REPLAYED}}
UPSERTED = {**CHANGED, 201: {"model": SubscriberRead, "description": "The subscriber created", "headers": _REPLAYED}}


def _billing_change(request: Request, db_session: SessionDep, client: str, body: bytes, run) -> JSONResponse:  # noqa: ANN001
    status, response, replayed = billing.idempotent(
        db_session=db_session, client=client, request_id=request.headers.get("idempotency-key"), body=body,
        run=run)
    return JSONResponse(response, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None)


def _subscriber_json(db_session, sub) -> dict:  # noqa: ANN001
    return service.to_subscriber_read(db_session=db_session, sub=sub).model_dump(mode="json")


@router.put("/v1/billing/subscribers/{customer_number}", tags=["billing"], responses=UPSERTED)
def billing_upsert(customer_number: CustomerNumberPath, body: BillingSubscriberUpsert, request: Request,
                   raw: RawBody, client: BillingClient, db_session: SessionDep) -> JSONResponse:
    """Create or update a subscriber (e-mail, password or its argon2id hash, device limit)."""
    def run() -> tuple[int, dict]:
        sub, created = service.upsert_subscriber(db_session=db_session, customer_number=customer_number,
                                                 body=body, actor=f"billing:{client}",
                                                 request_id=request.headers.get("idempotency-key"))
        return (201 if created else 200), _subscriber_json(db_session, sub)

    return _billing_change(request, db_session, client, raw, run)


@router.get("/v1/billing/subscribers/{customer_number}", response_model=SubscriberRead, tags=["billing"])
def billing_get(customer_number: CustomerNumberPath, client: BillingClient, db_session: SessionDep) -> SubscriberRead:
    """Show a subscriber as billing set it."""
    sub = service.get_by_customer_number(db_session=db_session, customer_number=customer_number)
    return service.to_subscriber_read(db_session=db_session, sub=sub)


@router.put("/v1/billing/subscribers/{customer_number}/packages", tags=["billing"], responses=CHANGED)
def billing_packages(customer_number: CustomerNumberPath, body: BillingPackages, request: Request,
                     raw: RawBody, client: BillingClient, db_session: SessionDep) -> JSONResponse:
    """Set the subscriber's whole set of packages with their validity dates."""
    def run() -> tuple[int, dict]:
        sub = service.get_by_customer_number(db_session=db_session, customer_number=customer_number)
        service.set_packages(db_session=db_session, sub=sub, grants=body.packages, actor=f"billing:{client}",
                             request_id=request.headers.get("idempotency-key"))
        return 200, _subscriber_json(db_session, sub)

    return _billing_change(request, db_session, client, raw, run)


@router.post("/v1/billing/subscribers/{customer_number}/suspend", tags=["billing"], responses=CHANGED)
def billing_suspend(customer_number: CustomerNumberPath, body: Suspension, request: Request, raw: RawBody,
                    client: BillingClient, db_session: SessionDep) -> JSONResponse:
    """Suspend an account (unpaid invoices, fraud...) with a reason."""
    return _set_status(customer_number, "suspended", body.reason, request, raw, client, db_session)


@router.post("/v1/billing/subscribers/{customer_number}/resume", tags=["billing"], responses=CHANGED)
def billing_resume(customer_number: CustomerNumberPath, request: Request, raw: RawBody, client: BillingClient,
                   db_session: SessionDep) -> JSONResponse:
    """Resume a suspended account."""
    if raw.strip() not in (b"", b"{}"):
        raise InvalidInput("resume takes no body")
    return _set_status(customer_number, "active", None, request, raw, client, db_session)


def _set_status(customer_number: str, status: str, reason: str | None, request: Request, raw: bytes,
                client: str, db_session) -> JSONResponse:  # noqa: ANN001
    def run() -> tuple[int, dict]:
        sub = service.get_by_customer_number(db_session=db_session, customer_number=customer_number)
        service.set_status(db_session=db_session, sub=sub, status=status, reason=reason,
                           actor=f"billing:{client}", request_id=request.headers.get("idempotency-key"))
        return 200, _subscriber_json(db_session, sub)

    return _billing_change(request, db_session, client, raw, run)


@router.get("/v1/billing/packages", response_model=list[PackageRead], tags=["billing"])
def billing_package_list(client: BillingClient, db_session: SessionDep) -> list[PackageRead]:
    """List the package codes billing may grant."""
    return [packages_service.to_package_read(db_session=db_session, package=p)
            for p in packages_service.list_packages(db_session=db_session)]


# -- the sign-in page a TV points to (RFC 8628 verification_uri) -----------------------------
_ACTIVATE = """<!doctype html><meta charset=utf-8><title>Sign in your TV</title>
<style>body{{font-family:sans-serif;max-width:26em;margin:3em auto}}input{{display:block;width:100%;
margin:.3em 0 1em;padding:.4em;font-size:1.1em}}p.msg{{padding:.6em;background:#eef}}</style>
<h1>Sign in your TV</h1>{message}
<form method=post action=/activate>
<label>Code shown on the TV<input name=user_code value="{code}" autocomplete=off required></label>
<label>Customer number or e-mail<input name=login required></label>
<label>Password<input name=password type=password required></label>
<button>Sign in the TV</button></form>"""


@router.get("/activate", include_in_schema=False)
def activate_page(user_code: Annotated[str, Query(max_length=16)] = "") -> Response:
    """Show the page where a subscriber types the code their TV shows."""
    return Response(_ACTIVATE.format(message="", code=escape(user_code)), media_type="text/html")


@router.post("/activate", include_in_schema=False)
async def activate_submit(request: Request) -> Response:
    """Confirm a TV's code with the subscriber's login and password."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    code = form.get("user_code", "")[:16]
    rt = request.app.state.runtime

    def approve() -> str:
        with rt.db.session(write=False) as s:
            sub = auth.check_credentials(rt, db_session=s, login=form.get("login", "")[:254],
                                         password=form.get("password", "")[:1024],
                                         address=client_address(request))
        with rt.db.session() as s:
            auth.approve_device(rt, db_session=s, subscriber_id=sub.id, user_code=code)
        return "Your TV is signed in. You can close this page."

    try:
        message, status = await run_in_threadpool(approve), 200
    except SmartGoError as err:
        message, status = f"{err.message} ({err.code})", err.status
    return Response(_ACTIVATE.format(message=f"<p class=msg>{escape(message)}</p>", code=escape(code)),
                    media_type="text/html", status_code=status)


# -- profiles and the PIN ----------------------------------------------------------------------
def _profile_read(p) -> ProfileRead:  # noqa: ANN001
    return ProfileRead(id=p.id, name=p.name, parental_threshold=p.parental_threshold)


@router.get("/v1/me/profiles", response_model=list[ProfileRead], tags=["account"])
def list_profiles(who: CurrentPrincipal, db_session: SessionDep) -> list[ProfileRead]:
    """List the household's profiles."""
    return [_profile_read(p) for p in profiles.list_profiles(db_session=db_session, subscriber_id=who.subscriber_id)]


@router.post("/v1/me/profiles", response_model=ProfileRead, status_code=201, tags=["account"])
def create_profile(body: ProfileCreate, who: CurrentPrincipal, db_session: SessionDep) -> ProfileRead:
    """Add a profile (a child's, with a parental threshold)."""
    return _profile_read(profiles.create_profile(db_session=db_session, subscriber_id=who.subscriber_id, body=body))


@router.patch("/v1/me/profiles/{profile_id}", response_model=ProfileRead, tags=["account"])
def update_profile(profile_id: ProfileIdPath, body: ProfileUpdate, who: CurrentPrincipal,
                   db_session: SessionDep, rt: RuntimeDep) -> ProfileRead:
    """Rename a profile or change its threshold (loosening it needs the PIN)."""
    sub = service.get_subscriber(db_session=db_session, subscriber_id=who.subscriber_id)
    return _profile_read(profiles.update_profile(rt, db_session=db_session, sub=sub, profile_id=profile_id, body=body))


@router.delete("/v1/me/profiles/{profile_id}", status_code=204, tags=["account"])
def delete_profile(profile_id: ProfileIdPath, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Remove a profile."""
    db_session.delete(profiles.get_profile(db_session=db_session, subscriber_id=who.subscriber_id,
                                         profile_id=profile_id))
    return Response(status_code=204)


@router.put("/v1/me/pin", status_code=204, tags=["account"])
def set_pin(body: PinSet, who: CurrentPrincipal, db_session: SessionDep, rt: RuntimeDep) -> Response:
    """Set the household's parental PIN (with the account password)."""
    sub = service.get_subscriber(db_session=db_session, subscriber_id=who.subscriber_id)
    if not passwords.verify_password(sub.password_hash, body.password):
        raise InvalidCredentials("wrong password")
    profiles.set_pin(rt, db_session=db_session, sub=sub, pin=body.pin)
    return Response(status_code=204)


# -- staff: device profiles ------------------------------------------------------------------------
@router.get("/v1/admin/device-profiles", response_model=list[DeviceProfileRead], dependencies=viewer,
            tags=["devices"])
def list_device_profiles() -> list[DeviceProfileRead]:
    """List the device profiles, in the order a device is matched against them."""
    return [service.to_profile_read(p) for p in device_profiles.PROFILES]


@router.get("/v1/admin/subscribers/{customer_number}/devices", response_model=list[DeviceRead],
            dependencies=viewer, tags=["devices"])
def staff_devices(customer_number: CustomerNumberPath, db_session: SessionDep) -> list[DeviceRead]:
    """List a subscriber's devices with the profile each plays with (customer care)."""
    sub = service.get_by_customer_number(db_session=db_session, customer_number=customer_number)
    return [service.to_device_read(d) for d in service.list_devices(db_session=db_session, subscriber_id=sub.id)]


@router.put("/v1/admin/devices/{device_id}/profile", response_model=DeviceRead, dependencies=operator,
            tags=["devices"])
def put_device_profile(device_id: DeviceIdPath, body: DeviceProfileSet,
                       db_session: SessionDep) -> DeviceRead:
    """Play a device with another profile (a TV that stalls on long windows), or back to its own with null."""
    return service.to_device_read(service.set_device_profile(db_session=db_session, device_id=device_id,
                                                             profile=body.profile))
