"""One place that imports every table module, for Alembic and for tests."""


def import_all_models() -> None:
    """Import every package's models so Base.metadata knows all tables."""
    import catalog.models  # noqa: F401
    import entitlements.models  # noqa: F401
    import infra.notify  # noqa: F401
    import infra.staff  # noqa: F401
    import recorder.models  # noqa: F401
    import streaming.models  # noqa: F401
