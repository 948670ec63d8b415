"""What this test run uses: real services where their URLs are given, and the keys the fixtures make."""

from __future__ import annotations

import os
import secrets

ADMIN_KEY = "test-admin-key-" + "x" * 16
BILLING_KEY_ID, BILLING_SECRET = "test-billing", secrets.token_hex(16)
REAL = {
    "database": os.environ.get("SMARTGO_TEST_DATABASE_URL", ""),
    "redis": os.environ.get("SMARTGO_TEST_REDIS_URL", ""),
    "s3": os.environ.get("SMARTGO_TEST_S3_ENDPOINT", ""),
}
