"""One place that imports every table module, for Alembic and for tests."""


def import_all_models() -> None:
    """Import every package's models so Base.metadata knows all tables."""
    import catalog.channels.models  # noqa: F401
    import catalog.guide.models  # noqa: F401
    import catalog.vod.models  # noqa: F401
    import entitlements.accounts.models  # noqa: F401
    import entitlements.packages.models  # noqa: F401
    import entitlements.playback.models  # noqa: F401
    import infra.notify  # noqa: F401
    import infra.staff  # noqa: F401
    import recorder.models  # noqa: F401
    import streaming.ingest.models  # noqa: F401
    import streaming.packager.models  # noqa: F401
    import streaming.protection.models  # noqa: F401
    import streaming.timeline.models  # noqa: F401
    import streaming.vod.models  # noqa: F401
