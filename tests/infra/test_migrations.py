"""Alembic migrations build the same schema as the models, up and down."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url

from infra.composition.models import metadata
from infra.migrate import downgrade, upgrade
from tests.support.run import REAL

ROOT = Path(__file__).resolve().parents[2]


def test_upgrade_matches_models_and_downgrade_empties(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata())
    assert diff == []
    assert {"channels", "segment_runs", "ingest_tracks"} <= set(inspect(engine).get_table_names())
    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_the_database_under_test_is_at_head(rt) -> None:  # noqa: ANN001
    with rt.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata())
    assert diff == []


@pytest.mark.skipif(not REAL["database"], reason="the migration lock is PostgreSQL's (the embedded mode is one process)")
def test_processes_migrating_one_database_at_once_take_turns() -> None:
    """Several origins and workers started together each migrate at start; none may fail for the others."""
    given = make_url(REAL["database"])
    name = f"{given.database}_migrate_{uuid.uuid4().hex[:8]}"
    plain = given.set(drivername="postgresql").render_as_string(hide_password=False)
    url = given.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        code = f"from infra.migrate import upgrade; upgrade({url!r})"
        procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE) for _ in range(4)]
        results = [(p.wait(120), p.stderr.read().decode()[-500:]) for p in procs]
        assert [rc for rc, _ in results] == [0, 0, 0, 0], results
        engine = create_engine(url)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata()) == []
        engine.dispose()
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
