"""Publishing while the database is away: the timeline goes on in memory, the index catches up.

An outage of the database must not be a hole in every channel: live viewers have to see the
segments during the outage, because RFC 8216 6.2.1 forbids filling a gap players were already
shown. So when a push finds the database unreachable, the ingest process carries on with the
channel's ingest state in its own memory (the state it wrote last, which it keeps for this):
the same pure functions (``streaming.ingest.state``) decide sessions, timing and what publishes;
the bytes are stored as always; what publishes goes to every origin over the bus, which adds it
to their in-memory views; and a journal object in storage (``journal/{channel}/provisional.json``:
the runs, holes and ingest state since the outage began) describes it all. When the database
answers again, the journal is written to the index in one transaction (checked against the
version it started from) and deleted. A process that died during the outage leaves its journal
behind; the next one to start finds it and writes it.

One process carries a channel through an outage: the one that handled its last push (it holds
the newest state). A process whose state is older than the newest version it heard of on the bus
refuses the push (503, the encoder retries), so two processes never extend one channel from
different states. Route a channel's pushes to one ingest process (hash on the path) to be sure
it is always the same one.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson

from infra.db import DatabaseUnavailable
from infra.errors import ObjectNotFound
from infra.runtime import Runtime
from streaming.ingest import store as ingest_store
from streaming.ingest.memory import IngestMemory
from streaming.ingest.state import ChannelIngest, PendingEntry, TrackIngest
from streaming.timeline import service as timeline_service
from streaming.timeline.runs import Run

log = logging.getLogger(__name__)
JOURNAL_PREFIX = "journal/"
CATCH_UP_EVERY_S = 1.0


def journal_key(channel_id: str) -> str:
    """Return the object key of a channel's journal of what it published while the database was away."""
    return f"{JOURNAL_PREFIX}{channel_id}/provisional.json"


def run_to_json(run: Run) -> dict:
    """Return a run as JSON-able values (for the journal and the bus)."""
    values = timeline_service.run_values(run, "")
    del values["channel_id"]
    if values["durations"] is not None:
        values["durations"] = base64.b64encode(values["durations"]).decode()
    return values


def run_from_json(values: dict) -> Run:
    """Read a run written by run_to_json."""
    durations = values.get("durations")
    return Run(first_seq=values["first_seq"], start_us=values["start_us"], count=values["count"],
               duration_us=values["duration_us"], durations=base64.b64decode(durations) if durations else None,
               discontinuity=values["discontinuity"], disc_count=values["disc_count"], gap=values["gap"],
               session=values["session"], enc_offset=values["enc_offset"], inits=dict(values["inits"] or {}),
               end_us=values["end_us"])


def chan_to_json(chan: ChannelIngest) -> dict:
    """Return a channel's ingest state as JSON-able values."""
    return {"channel_id": chan.channel_id, "last_session": chan.last_session, "version": chan.version,
            "last_publish_us": chan.last_publish_us, "packager_epoch": chan.packager_epoch,
            "tracks": [[t.track, t.session, t.last_encseq, t.init_hash, t.init_since_segment, t.announced,
                        [p.to_json() for p in t.pending], t.peak_bps, t.avg_bps,
                        [[k, *v] for k, v in t.init_timing.items()]] for t in chan.tracks.values()]}


def chan_from_json(values: dict) -> ChannelIngest:
    """Read a channel's ingest state written by chan_to_json."""
    tracks = {t[0]: TrackIngest(t[0], t[1], t[2], t[3], t[4], list(t[5]), [PendingEntry.from_json(p) for p in t[6]],
                                t[7], t[8], {int(x[0]): list(x[1:]) for x in t[9]})
              for t in values["tracks"]}
    return ChannelIngest(values["channel_id"], values["last_session"], values["version"],
                         values["last_publish_us"], tracks, packager_epoch=values.get("packager_epoch", 0))


@dataclass
class ProvisionalChannel:
    """A channel carried through a database outage by this process."""

    chan: ChannelIngest  # the ingest state, as the database would hold it now
    tail: Run | None
    base_version: int  # the version the database holds (what the journal is written on top of)
    replace_first_seq: int | None  # the database's tail run, which the journal's first run updates
    runs: dict[int, Run] = field(default_factory=dict)  # published since, by first sequence number
    holes: list[tuple[int, str]] = field(default_factory=list)

    def journal(self) -> bytes:
        """Return the journal object's bytes."""
        return orjson.dumps({
            "base_version": self.base_version, "replace_first_seq": self.replace_first_seq,
            "chan": chan_to_json(self.chan), "tail": run_to_json(self.tail) if self.tail else None,
            "runs": [run_to_json(self.runs[k]) for k in sorted(self.runs)], "holes": self.holes,
        })

    @classmethod
    def from_journal(cls, data: bytes) -> "ProvisionalChannel":
        """Read a journal object."""
        values = orjson.loads(data)
        runs = [run_from_json(r) for r in values["runs"]]
        return cls(chan_from_json(values["chan"]), run_from_json(values["tail"]) if values["tail"] else None,
                   values["base_version"], values["replace_first_seq"], {r.first_seq: r for r in runs},
                   [tuple(h) for h in values["holes"]])


class MemoryTxn:
    """What a push may change while its channel is carried in memory: the twin of a database
    transaction on the channel's ingest rows (``streaming.ingest``)."""

    def __init__(self, chan: ChannelIngest, tail: Run | None) -> None:
        self.chan, self._tail = chan, tail
        self.runs: list[Run] = []
        self.holes: list[tuple[int, str]] = []

    def tail(self) -> Run | None:
        """Return the channel's newest run."""
        return self._tail

    def write(self, runs: list[Run], replace_first_seq: int | None, holes: list[tuple[int, str]]) -> None:
        """Take what a publish wrote."""
        self.runs += runs
        self.holes += holes
        if runs:
            self._tail = runs[-1]


class ProvisionalTimelines:
    """The channels this process carries through a database outage, and what it last knew of all."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.channels: dict[str, ProvisionalChannel] = {}
        # The state this process wrote last for each channel, and the newest version heard of.
        self.known: dict[str, ChannelIngest] = {}
        self.newest: dict[str, int] = {}
        self.locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        rt.bus.subscribe(timeline_service.TIMELINE_TOPIC, self._heard)

    def _heard(self, topic: str, message: dict) -> None:
        channel_id = topic[len(timeline_service.TIMELINE_TOPIC):]
        version = message.get("version", 0)
        if version > self.newest.get(channel_id, 0):
            self.newest[channel_id] = version

    def lock(self, channel_id: str) -> threading.Lock:
        """Return the lock that serialises this process's memory work on a channel."""
        with self._guard:
            return self.locks.setdefault(channel_id, threading.Lock())

    def remember(self, chan: ChannelIngest) -> None:
        """Keep the state a committed database transaction wrote (the start of any outage)."""
        self.known[chan.channel_id] = chan

    def _tails(self) -> dict[str, tuple[int, Run | None]]:
        # The newest run this process wrote for each channel, by the version it wrote it at
        # (kept by streaming.ingest.service for its own use).
        return self.rt.state(IngestMemory).tails

    def carrying(self, channel_id: str) -> bool:
        """Tell whether this process carries the channel in memory now."""
        return channel_id in self.channels

    def begin(self, channel_id: str, err: DatabaseUnavailable) -> ProvisionalChannel:
        """Start carrying a channel in memory, from its journal or the state this process wrote last."""
        carried = self.channels.get(channel_id)
        if carried is not None:
            return carried
        carried = self._from_journal(channel_id)
        if carried is None:
            chan = self.known.get(channel_id)
            version, tail = self._tails().get(channel_id, (0, None))
            if (chan is None or chan.version < self.newest.get(channel_id, 0)
                    or (version != chan.version and chan.version > 0)):
                raise DatabaseUnavailable("database unavailable and this process does not hold the channel's "
                                          "newest state; retry") from err
            carried = ProvisionalChannel(copy.deepcopy(chan), tail, chan.version,
                                         tail.first_seq if tail else None)
        self.channels[channel_id] = carried
        log.warning("channel %s: the database is away; publishing from memory from version %d",
                    channel_id, carried.chan.version)
        return carried

    def _from_journal(self, channel_id: str) -> ProvisionalChannel | None:
        try:
            return ProvisionalChannel.from_journal(self.rt.store.get(journal_key(channel_id)).data)
        except ObjectNotFound:
            return None
        except Exception as err:  # storage away too: nothing to resume from
            if not self.rt.health.absorb(err):
                raise
            return None

    @contextmanager
    def transaction(self, channel_id: str) -> Iterator[MemoryTxn]:
        """Change a carried channel's state: all of it kept when the block ends, nothing if it raises."""
        carried = self.channels[channel_id]
        txn = MemoryTxn(copy.deepcopy(carried.chan), carried.tail)
        yield txn
        carried.chan, carried.tail = txn.chan, txn.tail()
        for run in txn.runs:
            carried.runs[run.first_seq] = run
        carried.holes += txn.holes
        if txn.runs:
            self._journal(channel_id, carried)
            self.rt.bus.publish(timeline_service.TIMELINE_TOPIC + channel_id, {
                "version": txn.chan.version, "last_seq": txn.tail().last_seq if txn.tail() else -1,
                "provisional": {"runs": [run_to_json(r) for r in txn.runs], "holes": txn.holes,
                                "last_publish_us": txn.chan.last_publish_us}})

    def _journal(self, channel_id: str, carried: ProvisionalChannel) -> None:
        try:
            self.rt.store.put(journal_key(channel_id), carried.journal(), "application/json")
        except Exception as err:  # storage away as well: the journal stays in this memory only
            if not self.rt.health.absorb(err):
                raise

    def catch_up(self, channel_id: str) -> bool:
        """Write a carried channel's journal to the index once the database answers; tell whether done.

        Called with the channel's lock held.
        """
        carried = self.channels.get(channel_id)
        if carried is None:
            return True
        with self.rt.db.session() as s:
            chan = ingest_store.load_ingest(db_session=s, channel_id=channel_id)
            since = timeline_service.runs_from_seq(db_session=s, channel_id=channel_id,
                                          first_seq=carried.replace_first_seq or 0) if chan.version > carried.base_version else []
            ours = set(carried.runs) | {carried.replace_first_seq}
            if chan.version == carried.chan.version and all(r.first_seq in ours for r in since):
                outcome = "already in the index"
            elif all(r.first_seq in ours for r in since) and chan.version < carried.chan.version:
                # The index is where the journal began, or a little past it: a transaction cut
                # at its commit when the database froze may have been committed when it thawed,
                # and it wrote what the journal's first steps wrote again (the same state, the same
                # pure functions). Either way the journal's runs are the truth from its base on.
                held = {r.first_seq for r in since}  # the runs the index holds from the base on
                if carried.replace_first_seq is not None:
                    held.add(carried.replace_first_seq)
                for first_seq in sorted(carried.runs):
                    run = carried.runs[first_seq]
                    timeline_service.write_runs(db_session=s, channel_id=channel_id, runs=[run],
                                       replace_first_seq=first_seq if first_seq in held else None)
                known = timeline_service.holes_from(db_session=s, channel_id=channel_id,
                                           first_seq=min(carried.runs, default=0))
                timeline_service.add_holes(db_session=s, channel_id=channel_id,
                                  holes=[h for h in set(carried.holes) if h not in known])
                for track in carried.chan.tracks.values():
                    track.changed = True
                carried.chan.changed = True
                ingest_store.save_ingest(db_session=s, chan=carried.chan)
                outcome = f"{len(carried.runs)} run(s) written to the index at version {carried.chan.version}"
            else:
                outcome = (f"NOT written: the index moved from version {carried.base_version} to "
                           f"{chan.version} meanwhile (another process published)")
        try:
            self.rt.store.delete_many([journal_key(channel_id)])
        except Exception as err:  # written already; a leftover journal is recognised as such
            self.rt.health.absorb(err)
        del self.channels[channel_id]
        self.known[channel_id] = carried.chan
        self._tails()[channel_id] = (carried.chan.version, carried.tail)
        log.warning("channel %s: the database is back; %s", channel_id, outcome)
        self.rt.bus.publish(timeline_service.TIMELINE_TOPIC + channel_id,
                            {"version": carried.chan.version,
                             "last_seq": carried.tail.last_seq if carried.tail else -1})
        return True

    def adopt_journals(self) -> int:
        """Take up journals left by a process that died during an outage; return how many."""
        found = 0
        for key in self.rt.store.list(JOURNAL_PREFIX):
            channel_id = key[len(JOURNAL_PREFIX):].split("/", 1)[0]
            if channel_id not in self.channels:
                carried = self._from_journal(channel_id)
                if carried is not None:
                    self.channels[channel_id] = carried
                    found += 1
        return found

    def catch_up_all(self) -> None:
        """Write every carried channel's journal to the index, if the database answers."""
        for channel_id in list(self.channels):
            with self.lock(channel_id):
                try:
                    self.catch_up(channel_id)
                except Exception as err:
                    if not self.rt.health.absorb(err):
                        log.exception("channel %s: catching the index up failed", channel_id)
                    return

    async def run(self) -> None:
        """Adopt leftover journals, then catch channels up whenever the database answers."""
        try:
            adopted = await asyncio.to_thread(self.adopt_journals)
            if adopted:
                log.warning("found %d journal(s) of publishing while the database was away", adopted)
        except Exception as err:
            if not self.rt.health.absorb(err):
                log.exception("reading leftover journals failed")
        while True:
            await asyncio.sleep(CATCH_UP_EVERY_S)
            if self.channels and self.rt.health.is_up("database"):
                await asyncio.to_thread(self.catch_up_all)


def provisional(rt: Runtime) -> ProvisionalTimelines:
    """Return this process's provisional timelines (made on first use)."""
    return rt.state(ProvisionalTimelines)
