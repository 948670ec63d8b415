"""Every subscription between packages, in one place, and the runtime's job registry.

A lower package announces a change as an event inside the transaction (infra.events); the
packages above react here. Reading this module tells who reacts to what.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from catalog.channels.events import ChannelCreated, ChannelDeleted
from catalog.guide.events import GuideChanged, ProgrammeRightsChanged
from entitlements.accounts.events import AccountChanged, DeviceRemoved
from entitlements.packages.events import CatalogueChanged
from entitlements.playback import service as playback_service
from infra import events
from infra.composition import jobs
from infra.runtime import Runtime, build_runtime, runtime
from infra.settings import Settings
from recorder import service as recorder_service
from streaming.timeline import service as timeline_service


def _with_runtime(handler: Callable[..., None]) -> Callable[[Any, Any], None]:
    """A handler that takes the runtime first, called with the process's runtime when the event comes.

    Not the runtime of the wiring's time: a process may build several (the tests do), while the
    one serving requests and running jobs is the one the composition installed.
    """

    @functools.wraps(handler)
    def call(db_session: Any, event: Any) -> None:
        handler(runtime(), db_session, event)

    return call


def wire_events() -> None:
    """Subscribe every package's handlers to the events of the packages below it, replacing an earlier wiring."""
    events.unsubscribe_all()
    # A channel's timeline starts with it; on deletion the timeline goes first, then recordings.
    events.subscribe(ChannelCreated, timeline_service.start_channel_timeline)
    events.subscribe(ChannelDeleted, timeline_service.drop_channel_timeline)
    events.subscribe(ChannelDeleted, _with_runtime(recorder_service.drop_channel_recordings))
    # Recordings follow the guide: a moved programme moves its recordings, a cancelled one fails them.
    events.subscribe(GuideChanged, _with_runtime(recorder_service.follow_guide_change))
    # The door keeps deciding: running sessions follow account, device, package and rights changes.
    events.subscribe(AccountChanged, _with_runtime(playback_service.recheck_changed_account))
    events.subscribe(DeviceRemoved, _with_runtime(playback_service.end_removed_device_sessions))
    events.subscribe(CatalogueChanged, _with_runtime(playback_service.recheck_changed_catalogue))
    events.subscribe(ProgrammeRightsChanged, _with_runtime(playback_service.recheck_programme))
    # The recorder asks the door, above it, whether a subscriber may record.
    recorder_service.check_recording.provide(playback_service.check_recording)


def assemble(rt: Runtime) -> Runtime:
    """Wire the packages together and give rt the job registry; return rt."""
    wire_events()
    rt.job_specs = jobs.job_specs()
    return rt


def build(settings: Settings) -> Runtime:
    """Build the process's runtime from settings, wired (what every process and test starts with)."""
    return assemble(build_runtime(settings))
