"""Settings are checked at start-up with messages that say what to fix."""

from __future__ import annotations

import pytest

from infra.settings import Settings


def test_embedded_defaults_need_no_configuration(tmp_path) -> None:  # noqa: ANN001
    s = Settings(data_dir=tmp_path)
    assert s.embedded and s.mode == "embedded"
    assert s.database_url.startswith("sqlite:///") and s.storage_url.startswith("file://")


def test_distributed_mode_refuses_default_secrets(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="SMARTGO_SECRET_KEY"):
        Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="SMARTGO_BILLING_KEYS"):
        Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", secret_key="s" * 20,
                 ingest_secret="i" * 20, bootstrap_admin_key="k" * 20)
    ok = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", secret_key="s" * 20,
                  ingest_secret="i" * 20, bootstrap_admin_key="k" * 20, billing_keys="crm:" + "b" * 20)
    assert ok.mode == "distributed" and ok.billing_key_map == {"crm": "b" * 20}


@pytest.mark.parametrize("field,value,match", [
    ("storage_url", "ftp://x", "SMARTGO_STORAGE_URL"),
    ("storage_url", "s3://", "bucket"),
    ("database_url", "mysql://x", "SMARTGO_DATABASE_URL"),
])
def test_bad_urls_are_explained(tmp_path, field, value, match) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        Settings(data_dir=tmp_path, **{field: value})


def test_postgresql_url_gets_the_psycopg_driver(tmp_path) -> None:  # noqa: ANN001
    s = Settings(data_dir=tmp_path, database_url="postgresql://u@h/db", secret_key="s" * 20,
                 ingest_secret="i" * 20, bootstrap_admin_key="k" * 20, billing_keys="crm:" + "b" * 20)
    assert s.database_url == "postgresql+psycopg://u@h/db"
