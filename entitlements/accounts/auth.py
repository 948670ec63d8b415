"""Player sign-in: passwords, rotating refresh tokens, TV sign-in by code, password reset.

Services take ``db_session`` and never commit. Errors that must leave a trace (a reused
refresh token revokes its family; a too-fast poll lengthens the interval) keep their changes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from entitlements.accounts import passwords, service
from entitlements.accounts.errors import (
    AuthRequired,
    DeviceLimit,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidResetToken,
    OAuthError,
    RefreshTokenReused,
    UserCodeNotFound,
    WeakPassword,
)
from entitlements.accounts.models import (
    AuthSession,
    Device,
    DeviceAuthorization,
    PasswordReset,
    RefreshToken,
    Subscriber,
)
from entitlements.accounts.schemas import (
    DeviceCodeRequest,
    DeviceCodeResponse,
    DeviceInfo,
    Principal,
    TokenPair,
)
from entitlements.accounts.throttle import LoginThrottle
from entitlements.accounts.tokens import (
    AccessClaims,
    TokenKeys,
    new_opaque_token,
    new_user_code,
    normalize_user_code,
    sha256_hex,
)
from entitlements.packages.rules import ThrottlePolicy
from infra.db import new_id, utc
from infra.notify import load_notifier
from infra.runtime import Runtime

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class RefreshReuse(RefreshTokenReused):
    keeps_changes = True


class PollError(OAuthError):
    keeps_changes = True


def token_keys(rt: Runtime) -> TokenKeys:
    """Return the access-token keys of this process's settings."""
    keys = rt.state(TokenKeys, lambda rt: TokenKeys(rt.settings.secret_key, rt.settings.previous_secret_key_list))
    return keys


def account_throttle(rt: Runtime) -> ThrottlePolicy:
    """Return the per-account login policy of this process's settings."""
    st = rt.settings
    return ThrottlePolicy(free_attempts=st.login_free_attempts, base_delay_s=st.login_delay_s,
                          max_delay_s=st.login_max_delay_s, lock_after=st.login_lock_after,
                          window_s=st.login_lock_s, lock_s=st.login_lock_s)


def address_throttle(rt: Runtime) -> ThrottlePolicy:
    """Return the per-address policy: only a lock, after SMARTGO_LOGIN_ADDRESS_FAILURES failures.

    One address may be a carrier-grade NAT with many households behind it: no delays.
    """
    n = rt.settings.login_address_failures
    return ThrottlePolicy(free_attempts=n, base_delay_s=0.0, max_delay_s=0.0, lock_after=n)


def _throttle(rt: Runtime) -> LoginThrottle:
    return LoginThrottle(rt.cache)


# -- passwords ------------------------------------------------------------------------------
def check_credentials(rt: Runtime, *, db_session: Session, login: str, password: str, address: str) -> Subscriber:
    """Return the subscriber if login and password match; throttled per account and address.

    An unknown login and a wrong password give the same error after the same work.
    """
    sub = service.find_by_login(db_session=db_session, login=login)
    account_key = f"acct:{sub.id}" if sub else f"login:{sha256_hex(login.strip().lower())}"
    address_key = f"addr:{address}"
    throttle = _throttle(rt)
    address_policy, account_policy = address_throttle(rt), account_throttle(rt)
    throttle.check(address_key)
    account_n = throttle.admit(account_key, account_policy)
    if not passwords.verify_password(sub.password_hash if sub else None, password):
        throttle.failed(address_key, address_policy)
        throttle.failed(account_key, account_policy, account_n)
        raise InvalidCredentials("wrong customer number, e-mail or password")
    throttle.succeeded(account_key)
    return sub


def start_session(rt: Runtime, *, db_session: Session, subscriber_id: str, device: DeviceInfo,
                  password: str | None = None) -> TokenPair:
    """Register (or recognise) the device and open a signed-in session on it."""
    sub = service.get_subscriber(db_session=db_session, subscriber_id=subscriber_id)
    if password is not None and sub.password_hash and passwords.needs_rehash(sub.password_hash):
        sub.password_hash = passwords.hash_password(password)
    dev = service.register_device(rt, db_session=db_session, sub=sub, info=device)
    return _open_session(rt, db_session, sub.id, dev.id)


def _open_session(rt: Runtime, db_session: Session, subscriber_id: str, device_id: str) -> TokenPair:
    now = service.now_utc()
    session = AuthSession(id=new_id(), subscriber_id=subscriber_id, device_id=device_id,
                          created_at=now, expires_at=now + dt.timedelta(seconds=rt.settings.session_max_age_s))
    db_session.add(session)
    db_session.flush()
    return _issue(rt, db_session, session, now)


def _issue(rt: Runtime, db_session: Session, session: AuthSession, now: dt.datetime) -> TokenPair:
    settings = rt.settings
    refresh = new_opaque_token("sgr")
    refresh_end = min(now + dt.timedelta(seconds=settings.refresh_token_ttl_s), utc(session.expires_at))
    db_session.add(RefreshToken(token_sha256=sha256_hex(refresh), session_id=session.id, issued_at=now,
                                expires_at=refresh_end))
    db_session.flush()
    issued = int(now.timestamp())
    access_end = min(issued + settings.access_token_ttl_s, int(utc(session.expires_at).timestamp()))
    access = token_keys(rt).sign(AccessClaims(session.subscriber_id, session.device_id, session.id, access_end),
                               issued)
    return TokenPair(access_token=access, expires_in=access_end - issued, refresh_token=refresh,
                     device_id=session.device_id, subscriber_id=session.subscriber_id)


def refresh(rt: Runtime, *, db_session: Session, refresh_token: str) -> TokenPair:
    """Trade a refresh token for new tokens; an old one coming back revokes its whole family."""
    now = service.now_utc()
    row = db_session.scalar(select(RefreshToken).where(RefreshToken.token_sha256 == sha256_hex(refresh_token))
                            .with_for_update())
    session = db_session.get(AuthSession, row.session_id) if row else None
    if row is None or session is None or session.revoked_at is not None:
        raise InvalidRefreshToken("unknown, expired or revoked refresh token")
    if row.used_at is not None:
        session.revoked_at, session.revoked_reason = now, "refresh_token_reused"
        raise RefreshReuse("this refresh token was already used; every token of its sign-in is revoked")
    if utc(row.expires_at) <= now or utc(session.expires_at) <= now:
        raise InvalidRefreshToken("unknown, expired or revoked refresh token")
    row.used_at = now
    return _issue(rt, db_session, session, now)


def authenticate(rt: Runtime, *, db_session: Session, access_token: str | None) -> Principal:
    """Return who an access token belongs to; a revoked sign-in or removed device is refused."""
    principal = principal_from_token(rt, access_token)
    session = db_session.get(AuthSession, principal.session_id)
    if session is None or session.revoked_at is not None:
        raise InvalidAccessToken("invalid, expired or revoked access token")
    return principal


_SUB, _DEV, _AUTH = Subscriber.__table__.c, Device.__table__.c, AuthSession.__table__.c
# Built once and run on the connection: the playback door asks it on every start.
_SIGNED_IN_FOR_UPDATE = (
    select(_SUB.id, _SUB.status, _SUB.updated_at, _SUB.device_limit, _SUB.parental_pin_hash,
           _DEV.id.label("device_id"), _DEV.device_type, _DEV.platform, _DEV.os_version, _DEV.profile_override)
    .select_from(Subscriber.__table__.join(AuthSession.__table__, _AUTH.subscriber_id == _SUB.id)
                 .outerjoin(Device.__table__, _DEV.id == _AUTH.device_id))
    .where(_AUTH.id == bindparam("session_id"), _AUTH.revoked_at.is_(None), _SUB.id == bindparam("subscriber_id"))
    .with_for_update(of=Subscriber.__table__))


def lock_signed_in(*, db_session: Session, principal: Principal) -> Row:
    """Return the account row of a principal (`principal_from_token`), locked for this transaction,
    with its device's columns (None when the device is gone), in one round trip: the playback
    door's start. A revoked sign-in or removed device is refused."""
    row = db_session.connection().execute(_SIGNED_IN_FOR_UPDATE, {
        "session_id": principal.session_id, "subscriber_id": principal.subscriber_id}).first()
    if row is None:
        raise InvalidAccessToken("invalid, expired or revoked access token")
    return row


def principal_from_token(rt: Runtime, access_token: str | None) -> Principal:
    """Return who an access token names by its signature and expiry alone (no sign-out is seen)."""
    if not access_token:
        raise AuthRequired("sign in first (header Authorization: Bearer ACCESS_TOKEN)")
    claims = token_keys(rt).verify(access_token, int(service.now_utc().timestamp()))
    if claims is None:
        raise InvalidAccessToken("invalid, expired or revoked access token")
    return Principal(claims.subscriber_id, claims.device_id, claims.session_id)


def logout(*, db_session: Session, session_id: str) -> None:
    """Revoke one sign-in (its refresh tokens stop working, its access tokens too)."""
    db_session.execute(update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
                       .values(revoked_at=service.now_utc(), revoked_reason="logout"))


def logout_everywhere(*, db_session: Session, subscriber_id: str) -> int:
    """Revoke every sign-in of an account; return how many were open."""
    result = db_session.execute(
        update(AuthSession).where(AuthSession.subscriber_id == subscriber_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=service.now_utc(), revoked_reason="logout_everywhere"))
    return result.rowcount or 0


# -- TV sign-in by code (RFC 8628) -------------------------------------------------------------
def start_device_authorization(rt: Runtime, *, db_session: Session, request: DeviceCodeRequest,
                               base_url: str | None = None) -> DeviceCodeResponse:
    """Create a device code for a TV and the short user code it shows."""
    settings = rt.settings
    now = service.now_utc()
    device_code = new_opaque_token("sgd")
    for _ in range(5):  # a clash among live codes is rare; try another
        user_code = new_user_code()
        if db_session.scalar(select(DeviceAuthorization.user_code)
                             .where(DeviceAuthorization.user_code == user_code)) is None:
            break
    db_session.add(DeviceAuthorization(
        device_code_sha256=sha256_hex(device_code), user_code=user_code, device_type=request.type,
        name=request.name, model=request.model, platform=request.platform, os_version=request.os_version,
        status="pending", interval_s=settings.device_code_interval_s,
        created_at=now, expires_at=now + dt.timedelta(seconds=settings.device_code_ttl_s)))
    db_session.flush()
    uri = f"{(base_url or settings.base_url).rstrip('/')}/activate"
    return DeviceCodeResponse(device_code=device_code, user_code=user_code, verification_uri=uri,
                              verification_uri_complete=f"{uri}?user_code={user_code}",
                              expires_in=settings.device_code_ttl_s, interval=settings.device_code_interval_s)


def approve_device(rt: Runtime, *, db_session: Session, subscriber_id: str, user_code: str,
                   approve: bool = True) -> dict:
    """Approve (or deny) the TV showing user_code for the signed-in subscriber."""
    now = service.now_utc()
    row = db_session.scalar(select(DeviceAuthorization).where(
        DeviceAuthorization.user_code == normalize_user_code(user_code)).with_for_update())
    if row is None or row.status != "pending" or utc(row.expires_at) <= now:
        raise UserCodeNotFound("no TV is waiting for this code (it may have expired)")
    if approve:
        sub = service.get_subscriber(db_session=db_session, subscriber_id=subscriber_id)
        devices = service.list_devices(db_session=db_session, subscriber_id=sub.id)
        limit = service.account_limits(rt, db_session=db_session, sub=sub).max_devices
        if len(devices) >= limit:
            raise DeviceLimit(f"this account may register {limit} devices; remove one to add this TV",
                              limit=limit, devices=[service.to_device_read(d).model_dump(mode="json")
                                                    for d in devices])
    row.status, row.subscriber_id = ("approved" if approve else "denied"), subscriber_id
    return {"status": row.status, "device": {"type": row.device_type, "name": row.name, "model": row.model}}


def poll_device_token(rt: Runtime, *, db_session: Session, grant_type: str | None,
                      device_code: str | None) -> TokenPair:
    """Answer a TV's poll: tokens once approved, else the RFC 8628 error that says why not."""
    if grant_type != DEVICE_CODE_GRANT:
        raise OAuthError("unsupported_grant_type", f"grant_type must be {DEVICE_CODE_GRANT}")
    if not device_code or len(device_code) > 200:
        raise OAuthError("invalid_request", "device_code is required")
    now = service.now_utc()
    row = db_session.scalar(select(DeviceAuthorization).where(
        DeviceAuthorization.device_code_sha256 == sha256_hex(device_code)).with_for_update())
    if row is None or row.status == "used":
        raise OAuthError("invalid_grant", "unknown or already used device code")
    if utc(row.expires_at) <= now:
        raise OAuthError("expired_token", "the code expired; start again")
    last, row.last_polled_at = row.last_polled_at, now
    if last is not None and (now - utc(last)).total_seconds() < row.interval_s:
        row.interval_s += 5  # RFC 8628 section 3.5: every slow_down adds 5 seconds
        raise PollError("slow_down", f"poll at most every {row.interval_s} s", interval=row.interval_s)
    if row.status == "pending":
        raise PollError("authorization_pending", "waiting for the subscriber to confirm the code")
    if row.status == "denied":
        row.status = "used"
        raise PollError("access_denied", "the subscriber refused this TV")
    row.status = "used"
    try:
        return start_session(rt, db_session=db_session, subscriber_id=row.subscriber_id,
                             device=DeviceInfo(type=row.device_type, name=row.name, model=row.model,
                                               platform=row.platform, os_version=row.os_version))
    except DeviceLimit as err:
        raise OAuthError("access_denied", err.message) from err


# -- password reset ------------------------------------------------------------------------------
def request_password_reset(rt: Runtime, *, db_session: Session, login: str) -> None:
    """Send a one-time reset token to the account's e-mail, if there is such an account."""
    sub = service.find_by_login(db_session=db_session, login=login)
    if sub is None or not sub.email:
        return  # the same answer either way: no account enumeration
    settings = rt.settings
    token = new_opaque_token("sgp")
    now = service.now_utc()
    expires = now + dt.timedelta(seconds=settings.password_reset_ttl_s)
    db_session.add(PasswordReset(token_sha256=sha256_hex(token), subscriber_id=sub.id, created_at=now,
                                 expires_at=expires))
    db_session.flush()
    load_notifier(settings).send(
        db_session=db_session, kind="password_reset", recipient=sub.email,
        payload={"token": token, "customer_number": sub.customer_number, "expires_at": expires.isoformat()})


def confirm_password_reset(*, db_session: Session, token: str, new_password: str) -> None:
    """Set a new password with a reset token; every sign-in of the account is revoked."""
    now = service.now_utc()
    row = db_session.scalar(select(PasswordReset).where(PasswordReset.token_sha256 == sha256_hex(token))
                            .with_for_update())
    if row is None or row.used_at is not None or utc(row.expires_at) <= now:
        raise InvalidResetToken("this reset link is unknown, used or expired")
    problem = passwords.password_problem(new_password)
    if problem:
        raise WeakPassword(problem)
    sub = service.get_subscriber(db_session=db_session, subscriber_id=row.subscriber_id)
    before = service.account_snapshot(db_session=db_session, sub=sub)
    sub.password_hash = passwords.hash_password(new_password)
    row.used_at = now
    logout_everywhere(db_session=db_session, subscriber_id=sub.id)
    service.record_change(db_session=db_session, sub=sub, actor="subscriber", action="password_reset",
                          before=before)
