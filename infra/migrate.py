"""Apply Alembic migrations from code (the CLI and the tests use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

INI = Path(__file__).with_name("alembic.ini")


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config bound to a database URL."""
    cfg = Config(str(INI))
    cfg.set_main_option("script_location", str(INI.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to revision (default: the newest)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to revision."""
    command.downgrade(alembic_config(database_url), revision)


def schema_is_current(database_url: str) -> bool:
    """Tell whether the database is at the newest migration this code knows (raises when unreachable)."""
    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
    connect_args = {} if database_url.startswith("sqlite") else {"connect_timeout": 3}
    engine = create_engine(database_url, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads()) == heads
    finally:
        engine.dispose()
