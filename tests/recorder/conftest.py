"""The recorder tests sign subscribers in like the entitlement tests do."""

from streaming.timeline import service as streaming_service
from streaming.timeline.runs import make_run
from tests.entitlements.conftest import (  # noqa: F401
    billing,
    make_package,
    make_subscriber,
)


def fill_archive(rt, channel_id: str, start_us: int, count: int, duration_us: int = 2_000_000):  # noqa: ANN001, ANN201
    """Put count segments from start_us on a channel's timeline, with 1,000 bytes on every track; return the run."""

    run = make_run(first_seq=0, start_us=start_us, count=count, duration_us=duration_us)
    with rt.db.session() as s:
        streaming_service.write_runs(db_session=s, channel_id=channel_id, runs=[run])
        tracks = streaming_service.channel_spec(db_session=s, channel_id=channel_id).tracks
    for seq in range(count):
        for track in tracks:
            rt.store.put(streaming_service.segment_key(channel_id, track, 0, seq), bytes([seq]) * 1000)
    return run, tracks
