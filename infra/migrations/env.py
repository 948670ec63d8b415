"""Alembic environment: the URL comes from SmartGo settings, the metadata from our models."""

from alembic import context
from sqlalchemy import text

from infra.composition.models import metadata
from infra.db import make_engine

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")


def run_offline() -> None:
    context.configure(url=url, target_metadata=metadata(), literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(url)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connection)


# Several processes started together (origins behind a balancer, workers) each migrate at start:
# on PostgreSQL they take turns on this lock, and each after the first finds nothing to do.
MIGRATION_LOCK = 0x736D61727467  # "smartg"


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=metadata(),
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
