"""Alembic migrations build the same schema as the models, up and down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from infra.composition.models import metadata
from infra.migrate import downgrade, upgrade


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
