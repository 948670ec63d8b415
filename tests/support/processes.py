"""Other SmartGo processes in a test: the environment that points them at the test's services."""

from __future__ import annotations

import os

from infra.settings import Settings


def smartgo_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Return os.environ with SMARTGO_* set so a child process uses the same database, store and secrets."""
    return {**os.environ,
            "SMARTGO_DATA_DIR": str(settings.data_dir),
            "SMARTGO_DATABASE_URL": settings.database_url, "SMARTGO_REDIS_URL": settings.redis_url or "",
            "SMARTGO_STORAGE_URL": settings.storage_url or "", "SMARTGO_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
            "SMARTGO_S3_ACCESS_KEY_ID": "testing", "SMARTGO_S3_SECRET_ACCESS_KEY": "testing",
            "SMARTGO_INGEST_SECRET": settings.ingest_secret, "SMARTGO_SECRET_KEY": settings.secret_key,
            "SMARTGO_BILLING_KEYS": settings.billing_keys,
            "SMARTGO_BOOTSTRAP_ADMIN_KEY": settings.bootstrap_admin_key,
            "SMARTGO_LIVE_PRESET": settings.live_preset, **extra}
