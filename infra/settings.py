"""Typed settings read from the environment (prefix ``SMARTGO_``), checked at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Known development secrets: accepted only in the embedded mode, refused anywhere else.
DEV_SECRET = "smartgo-dev-secret-change-me"
DEV_ADMIN_KEY = "smartgo-dev-admin-key"
# x264's presets, fastest first: the live packager's and VOD ingest's encoders take one each.
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                     "veryslow"]


class SettingsError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class Settings(BaseSettings):
    """Every knob of a SmartGo process; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="SMARTGO_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""

    secret_key: str = DEV_SECRET
    ingest_secret: str = DEV_SECRET
    bootstrap_admin_key: str = DEV_ADMIN_KEY

    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str = ""
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    live_window_s: float = Field(30.0, gt=0)
    publish_deadline_factor: float = Field(1.0, gt=0, le=2.0)
    segment_delivery: Literal["proxy", "redirect"] = "proxy"
    segment_memory_mb: int = Field(64, ge=0)  # recently served segments kept per origin process
    catchup_pad_before_s: int = Field(60, ge=0, le=1800)  # start-over and catch-up begin this early
    catchup_pad_after_s: int = Field(120, ge=0, le=3600)  # and end this late (overruns)
    recording_retention_days: int = Field(365, ge=1, le=3650)  # a recording is kept this long after it aired
    epg_max_bytes: int = Field(512 * 1024 * 1024, ge=1024)  # a guide larger than this (unpacked) fails
    epg_fetch_timeout_s: float = Field(60.0, gt=0)
    # Internal networks (CIDR) and host names guide fetches may reach, comma-separated; loopback,
    # private and link-local addresses are refused otherwise (catalog/guide/fetch.py).
    epg_fetch_allow: str = ""
    max_ingest_object_bytes: int = Field(32 * 1024 * 1024, gt=0)
    # While storage is away, pushed segments wait in {data_dir}/spool up to this size (streaming/ingest/spool.py).
    ingest_spool_mb: int = Field(1024, ge=0)
    storage_timeout_s: float = Field(5.0, gt=0)
    # Every wait on PostgreSQL is bounded (infra/db.py): connecting, a statement (server side; a
    # frozen server is cut from our side a few seconds later), a free pooled connection.
    database_connect_timeout_s: float = Field(2.0, ge=2, le=60)  # libpq's least
    database_statement_timeout_s: float = Field(60.0, ge=1, le=3600)
    database_pool_timeout_s: float = Field(5.0, gt=0, le=60)
    ingest_url: str = ""
    packager_lease_s: float = Field(2.0, gt=0.2, le=60)
    # x264 preset of the live channels a packager encodes: each step faster costs less CPU per
    # channel (ultrafast about half of veryfast on the 360p/240p ladder) for more bits per quality.
    live_preset: X264Preset = "veryfast"
    # SIGTERM: /readyz answers 503 this long (so balancers move players away) before the
    # process stops taking work, finishes what it holds and exits.
    drain_s: float = Field(5.0, ge=0, le=300)
    # The worker's and packager's /healthz and /readyz (0: not served); the API serves its own.
    health_port: int = Field(0, ge=0, le=65535)

    # Subscribers, sign-in and billing (entitlements/)
    key_encryption_key: str = ""  # wraps content keys at rest; defaults to one derived from SMARTGO_SECRET_KEY
    previous_secret_keys: str = ""  # comma-separated older SMARTGO_SECRET_KEYs still accepted
    billing_keys: str = f"dev:{DEV_SECRET}"  # comma-separated KEY_ID:SECRET of billing clients
    billing_max_skew_s: float = Field(300.0, ge=5, le=3600)
    access_token_ttl_s: int = Field(900, ge=60, le=86400)
    refresh_token_ttl_s: int = Field(30 * 86400, ge=3600)
    session_max_age_s: int = Field(180 * 86400, ge=3600)
    default_device_limit: int = Field(5, ge=1, le=100)
    device_code_ttl_s: int = Field(600, ge=60, le=3600)
    device_code_interval_s: int = Field(5, ge=1, le=60)
    password_reset_ttl_s: int = Field(3600, ge=300, le=86400)
    # The login throttle (entitlements/packages/rules.py): per account, free attempts, then a delay that
    # doubles from login_delay_s up to login_max_delay_s, and a lock of login_lock_s after
    # login_lock_after attempts within login_lock_s; per address, a lock after that many failures.
    login_free_attempts: int = Field(3, ge=1, le=100)
    login_delay_s: float = Field(1.0, ge=0)
    login_max_delay_s: float = Field(60.0, ge=0)
    login_lock_after: int = Field(10, ge=1, le=1000)
    login_lock_s: float = Field(1800.0, gt=0)
    login_address_failures: int = Field(100, ge=1)
    # Serve /live/... without a playback token (the demo, and tests of the origin alone);
    # otherwise players need the URL POST /v1/playback gives.
    open_playback: bool = False
    stream_lease_s: float = Field(45.0, ge=5, le=600)  # a stream lapses this long after its last sign
    default_stream_limit: int = Field(2, ge=1, le=100)  # concurrent streams when no package sets it
    playback_session_max_s: int = Field(12 * 3600, ge=600, le=7 * 86400)  # a playback URL's life
    playback_decision_retention_days: int = Field(90, ge=1, le=3650)
    # What the door does while the database or Redis is away (entitlements/playback/outage.py): "closed"
    # refuses starts that need them (503); "open" admits a start that passes every check it can
    # still make, including a decision this process made for the same request within the grace.
    playback_outage_policy: Literal["closed", "open"] = "closed"
    playback_outage_grace_s: int = Field(900, ge=0, le=86400)
    # Admission to the door (entitlements/playback/admission.py): starts worked on at once per
    # process, the longest a start waits before it is refused with 429 and Retry-After, and the
    # starts one account may have in flight per process.
    playback_start_concurrency: int = Field(4, ge=1, le=64)
    playback_start_queue_s: float = Field(5.0, gt=0, le=60)
    playback_starts_per_account: int = Field(2, ge=1, le=100)
    notifier: str = "outbox"  # "outbox", or "package.module:Class" of your own Notifier
    # The signed webhook relay of outbox events (infra/webhooks.py); an empty URL turns it off.
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_kinds: str = "recording."  # comma-separated prefixes of the message kinds sent
    max_request_body_bytes: int = Field(1024 * 1024, ge=1024)
    # VOD ingest (streaming/vod/ingest.py): the ladder (rungs taller than the source are dropped),
    # segment length (a whole number of AAC frames at 48 kHz and of frames at 25 fps), x264 preset.
    vod_ladder: str = "1080p:1920x1080:5000,720p:1280x720:2800,480p:854x480:1200,360p:640x360:700"
    vod_segment_s: float = Field(3.84, ge=1.0, le=10.0)
    vod_preset: X264Preset = "veryfast"
    vod_max_upload_bytes: int = Field(8 * 1024**3, ge=1024)  # through the API; larger ones go multipart

    @model_validator(mode="after")
    def _fill_and_check(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'smartgo.db').resolve()}"
        if not self.storage_url:
            self.storage_url = f"file://{(self.data_dir / 'objects').resolve()}"
        scheme = urlparse(self.storage_url).scheme
        if scheme not in ("file", "s3"):
            raise SettingsError(
                f"SMARTGO_STORAGE_URL must start with file:// or s3:// (got {self.storage_url!r})"
            )
        if scheme == "s3" and not urlparse(self.storage_url).netloc:
            raise SettingsError("SMARTGO_STORAGE_URL=s3://BUCKET[/prefix] needs a bucket name")
        db_scheme = self.database_url.split(":", 1)[0]
        if not (db_scheme.startswith("sqlite") or db_scheme.startswith("postgresql")):
            raise SettingsError(
                "SMARTGO_DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://... "
                f"(got scheme {db_scheme!r})"
            )
        if self.webhook_url:
            self._check_webhook()
        if self.database_url.startswith("postgresql://"):
            self.database_url = "postgresql+psycopg://" + self.database_url[len("postgresql://") :]
        if not self.embedded:
            weak = [
                name
                for name, value in (
                    ("SMARTGO_SECRET_KEY", self.secret_key),
                    ("SMARTGO_INGEST_SECRET", self.ingest_secret),
                    ("SMARTGO_BOOTSTRAP_ADMIN_KEY", self.bootstrap_admin_key),
                )
                if value in (DEV_SECRET, DEV_ADMIN_KEY) or len(value) < 16
            ]
            if any(secret in (DEV_SECRET, "") or len(secret) < 16
                   for _, secret in self.billing_key_map.items()) or not self.billing_key_map:
                weak.append("SMARTGO_BILLING_KEYS")
            if weak:
                raise SettingsError(
                    "outside the embedded mode these secrets must be set to your own values "
                    f"of at least 16 characters: {', '.join(weak)}"
                )
        return self

    def _check_webhook(self) -> None:
        url = urlparse(self.webhook_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SettingsError(
                f"SMARTGO_WEBHOOK_URL must be an http:// or https:// URL (got {self.webhook_url!r})"
            )
        if self.webhook_secret in (DEV_SECRET, DEV_ADMIN_KEY) or len(self.webhook_secret) < 16:
            raise SettingsError(
                "SMARTGO_WEBHOOK_URL is set: SMARTGO_WEBHOOK_SECRET must be your own value of at least "
                "16 characters (receivers check the signature with it)"
            )
        if not self.webhook_kind_prefixes:
            raise SettingsError("SMARTGO_WEBHOOK_KINDS is empty: name the kinds to send, e.g. 'recording.'")

    def webhook_wants(self, kind: str) -> bool:
        """True when the webhook is on and sends messages of this kind."""
        return bool(self.webhook_url) and kind.startswith(self.webhook_kind_prefixes)

    @property
    def webhook_kind_prefixes(self) -> tuple[str, ...]:
        """Return the kind prefixes the webhook sends (from SMARTGO_WEBHOOK_KINDS)."""
        return tuple(k.strip() for k in self.webhook_kinds.split(",") if k.strip())

    @property
    def base_url(self) -> str:
        """Return the URL clients use to reach the API and origin."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def ingest_base_url(self) -> str:
        """Return the URL our packagers push to (the API's ingest, possibly internal)."""
        return (self.ingest_url or self.base_url).rstrip("/")

    @property
    def billing_key_map(self) -> dict[str, str]:
        """Return the billing clients' secrets by key id (from SMARTGO_BILLING_KEYS)."""
        pairs = (item.strip().partition(":") for item in self.billing_keys.split(",") if item.strip())
        return {kid.strip(): secret.strip() for kid, _, secret in pairs if kid.strip() and secret.strip()}

    @property
    def previous_secret_key_list(self) -> list[str]:
        """Return the older secret keys whose tokens are still accepted."""
        return [k.strip() for k in self.previous_secret_keys.split(",") if k.strip()]

    @property
    def embedded(self) -> bool:
        """True when no external server is used: SQLite, local folder storage, no Redis."""
        return (
            self.database_url.startswith("sqlite")
            and not self.redis_url
            and self.storage_url.startswith("file://")
        )

    @property
    def mode(self) -> str:
        """'embedded' or 'distributed', for logs and the status endpoint."""
        return "embedded" if self.embedded else "distributed"


@lru_cache
def get_settings() -> Settings:
    """Return the process settings, read once from the environment."""
    return Settings()
