"""Watch traffic as it comes: sources polled in micro-batches through the one engine.

The loop is the audit's, cut in time: every tick it takes what each source has, runs it through
the engine, lets the engine's clock report lost contacts, and hands the events to the sinks. A
recording replayed here gives the events `skyfence audit` gives on it (a test checks it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from skyfence.alerts.files import EventSink
from skyfence.audit_result import EventCounts, deliver
from skyfence.decoding.dedup import FrameDeduplicator
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event, iso_time
from skyfence.gnss.aggregate import HOUR_S, InterferencePicture
from skyfence.picture import AirPicture
from skyfence.schema import StateVectors
from skyfence.sources.live import FEEDS, FeedSource, FeedStatus, FramesHook, parse_source_uri
from skyfence.sources.receiver import Receiver
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore
from skyfence.store.rows import PositionRow
from skyfence.tracking.horizon import beyond_horizon
from skyfence.tracking.integrity import STALE_POSITION_S


class Source(Protocol):
    """What `watch` polls: never blocks longer than asked, returns [] rows when idle."""

    name: str

    def next_batch(self, timeout_s: float) -> StateVectors: ...

    @property
    def exhausted(self) -> bool: ...

    def close(self) -> None: ...


# `watch --speed 0`: whole seconds of recording a batch, up to this many rows. The engine gives
# the same events whatever the batches (tests/test_watching.py); one-second batches, as a live feed
# delivers them, cost the engine's fixed cost per batch 10,800 times for three hours of recording.
REPLAY_BATCH_ROWS = 50_000


class ReplaySource:
    """A recording played back in time order: at `speed` times real time, or as fast as
    possible (speed None) in slices of whole seconds of recording time: one second, as a live
    feed delivers them, or as many as fit in `batch_rows` rows."""

    def __init__(
        self,
        path: Path | StateVectors,
        speed: float | None = None,
        reference: tuple[float, float] | None = None,
        start_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        receiver: Receiver | None = None,
        batch_rows: int = 1,
    ) -> None:
        """`path` is a recording, or state vectors already read (named "state vectors").
        `receiver` is the antenna that made the recording (its radio horizon is checked)."""
        self.receiver = receiver
        if receiver is not None and reference is None:
            reference = receiver.reference
        if isinstance(path, StateVectors):
            self.name, sv = "state vectors", path
        else:
            self.name = str(path)
            sv = StateVectors.concat(
                list(read_recording(path, reference=reference, start_s=start_s))
            )
        self._sv = sv.take(np.argsort(sv.t_s, kind="stable"))
        self._t = self._sv.t_s
        self._next = 0
        self._speed = speed
        self._clock = clock
        self._batch_rows = max(1, batch_rows)
        self._started: float | None = None

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self._t)

    @property
    def position(self) -> int:
        """State vectors replayed so far."""
        return self._next

    @property
    def first_s(self) -> float:
        """Recording time of the first state vector."""
        return float(self._t[0]) if len(self._t) else math.nan

    def next_batch(self, timeout_s: float) -> StateVectors:
        if self.exhausted:
            return StateVectors.empty()
        first = float(self._t[self._next])
        if self._speed is None:
            end = self._next + self._batch_rows
            # the whole seconds before the second of the first row that does not fit
            stop = len(self._t) if end >= len(self._t) else self._second_start(self._t[end])
            if stop <= self._next:  # the rest of this second of recording time
                stop = self._second_start(first + 1.0)
        else:
            if self._started is None:
                self._started = self._clock()
            due = float(self._t[0]) + (self._clock() - self._started) * self._speed
            if due < first:  # nothing due yet: wait a little, as a socket read would
                time.sleep(min(timeout_s, (first - due) / self._speed))
                return StateVectors.empty()
            stop = int(np.searchsorted(self._t, due, side="right"))
        rows = np.arange(self._next, stop)
        self._next = stop
        return self._sv.take(rows)

    def _second_start(self, t_s: float) -> int:
        return int(np.searchsorted(self._t, np.floor(t_s), side="left"))

    def close(self) -> None:
        self._next = len(self._t)


class FeedAdapter:
    """A receiver feed as a watch source: it is never exhausted, it reconnects by itself.
    `on_frames` sees each batch of stamped frames (the latency benchmark times them)."""

    live = True

    def __init__(
        self,
        uri: str,
        reference: tuple[float, float] | None = None,
        dedup: FrameDeduplicator | None = None,
        on_frames: FramesHook | None = None,
        receiver: Receiver | None = None,
    ) -> None:
        """`receiver` applies unless the URI names its own (`?receiver=`); either one is
        also the reference for decoding when `reference` is not given."""
        self.name = uri
        spec = parse_source_uri(uri)
        self.receiver = spec.receiver or receiver
        if self.receiver is not None and (reference is None or spec.receiver is not None):
            reference = self.receiver.reference
        self.feed = FeedSource(spec, reference=reference, dedup=dedup, on_frames=on_frames)
        self.dedup = dedup

    @property
    def exhausted(self) -> bool:
        return False

    def next_batch(self, timeout_s: float) -> StateVectors:
        """Also judges the copies this feed delivered (another feed decoded them first): a
        position its receiver cannot have heard is marked for `run_watch` to quarantine."""
        batch = self.feed.next_batch(timeout_s)
        copies = self.feed.copies
        if self.receiver is not None and self.dedup is not None and len(copies):
            unheard = copies.take(beyond_horizon(copies, self.receiver))
            self.dedup.unheard = StateVectors.concat([self.dedup.unheard, unheard])
        return batch

    def close(self) -> None:
        self.feed.close()


Opener = Callable[
    [str, tuple[float, float] | None, FrameDeduplicator | None, Receiver | None], Source
]


def _aircraft_json(
    url: str,
    reference: tuple[float, float] | None,
    dedup: FrameDeduplicator | None,
    receiver: Receiver | None,
) -> Source:
    from skyfence.sources.aircraft_json import AircraftJsonSource  # only a watch that polls

    return AircraftJsonSource(url)


def _feed(
    uri: str,
    reference: tuple[float, float] | None,
    dedup: FrameDeduplicator | None,
    receiver: Receiver | None,
) -> Source:
    return FeedAdapter(uri, reference, dedup, receiver=receiver)


# The one registry of live sources, by URI scheme: the TCP feeds of `FEEDS` and a readsb/tar1090
# aircraft.json polled over HTTP. A scheme not here is read as a feed URI, which names the known.
LIVE_SOURCES: dict[str, Opener] = {
    **dict.fromkeys(FEEDS, _feed),
    "http": _aircraft_json,
    "https": _aircraft_json,
}


def open_source(
    text: str,
    speed: float | None,
    reference: tuple[float, float] | None = None,
    start_s: float | None = None,
    dedup: FrameDeduplicator | None = None,
    receiver: Receiver | None = None,
) -> Source:
    """`beast://`, `avr://`, `sbs://` URIs are live feeds, `http(s)://` a readsb/tar1090
    aircraft.json to poll (see LIVE_SOURCES); anything else is a recording. Feeds given the
    same `dedup` decode a frame heard by several of them once. `receiver` is the antenna of
    feeds and recordings that do not name their own: positions beyond its radio horizon are
    quarantined."""
    scheme, separator, _ = text.partition("://")
    if separator:
        return LIVE_SOURCES.get(scheme, _feed)(text, reference, dedup, receiver)
    return ReplaySource(
        Path(text), speed, reference, start_s, receiver=receiver, batch_rows=REPLAY_BATCH_ROWS
    )


MAX_FUTURE_S = 30.0  # a live fix stamped further ahead of this machine's clock is refused


@dataclass
class WatchResult:
    ticks: int = 0
    rows: int = 0
    counts: EventCounts = field(default_factory=EventCounts)  # as an audit counts them
    future: dict[str, int] = field(default_factory=dict)  # live rows refused, per source

    @property
    def events(self) -> int:
        return self.counts.total

    @property
    def by_kind(self) -> dict[str, int]:
        return self.counts.by_kind


def drop_future(
    batch: StateVectors, source: Source, result: WatchResult, now_s: float
) -> StateVectors:
    """Refuse live rows stamped in the future. The engine's clock only moves forward, so one
    receiver with a wrong clock (an SBS feed's local time, a bad NTP step) would otherwise
    declare every aircraft lost and make every later fix look stale. Recordings carry their
    own time and are never checked."""
    if not getattr(source, "live", False) or len(batch) == 0:
        return batch
    # the fix's own time too: aircraft.json's `seen_pos: -100` put one fix 100 s ahead, and the
    # clock it moved declared the other aircraft lost
    ahead = (batch.t_s > now_s + MAX_FUTURE_S) | (batch.t_pos_s > now_s + MAX_FUTURE_S)
    if not ahead.any():
        return batch
    result.future[source.name] = result.future.get(source.name, 0) + int(ahead.sum())
    return batch.take(np.flatnonzero(~ahead))


def run_watch(
    sources: list[Source],
    engine: Engine,
    sinks: list[EventSink],
    *,
    tick_s: float = 0.5,
    should_stop: Callable[[], bool] = lambda: False,
    on_events: Callable[[list[Event]], None] | None = None,
    on_tick: Callable[[list[Event]], None] | None = None,
    reload_zones: Callable[[], list[Event]] | None = None,
    result: WatchResult | None = None,
) -> WatchResult:
    """Poll the sources until they are all exhausted (recordings) or `should_stop` says so.
    `on_tick` sees every tick's events (often none) after the sinks, to refresh a live view.
    `reload_zones`, called before each tick, may swap the engine's zones (its events, for
    aircraft inside removed zones, are emitted like any other). `result`, if given, is filled
    as the watch goes (its metrics read it) and returned."""
    result = WatchResult() if result is None else result
    try:
        while not should_stop():
            live = [s for s in sources if not s.exhausted]
            if not live:
                break
            batches = [
                drop_future(s.next_batch(tick_s / len(live)), s, result, time.time()) for s in live
            ]
            batch = StateVectors.concat([b for b in batches if len(b)])
            events = reload_zones() if reload_zones is not None else []
            events += engine.process(batch, _beyond_horizon(live, batches))
            events += engine.advance_clock(engine.clock_s)
            result.ticks += 1
            result.rows += len(batch)
            deliver(events, result.counts, sinks, on_events)
            if on_tick is not None:
                on_tick(events)
        events = engine.finish()
        deliver(events, result.counts, sinks, on_events)
        if on_tick is not None:
            on_tick(events)
    finally:
        for source in sources:
            source.close()
    return result


def _beyond_horizon(sources: list[Source], batches: list[StateVectors]) -> Any:
    """Per row of the concatenated batches: beyond the horizon of the receiver that heard it
    (None when no source knows its receiver). Each row is judged by its own source's antenna:
    with several receivers, one that could not have heard a position counts against it."""
    receivers: list[Receiver | None] = [getattr(s, "receiver", None) for s in sources]
    if all(r is None for r in receivers):
        return None
    parts = [
        beyond_horizon(b, r) if r is not None else np.zeros(len(b), bool)
        for b, r in zip(batches, receivers, strict=True)
        if len(b)
    ]
    if not parts:
        return None
    beyond = np.concatenate(parts)
    dedups = {id(d): d for s in sources if (d := getattr(s, "dedup", None)) is not None}
    for dedup in dedups.values():
        _unheard_copies(dedup, StateVectors.concat([b for b in batches if len(b)]), beyond)
    return beyond


def _unheard_copies(dedup: FrameDeduplicator, batch: StateVectors, beyond: Any) -> None:
    """A position that one feed decoded and another delivered again although its receiver
    cannot have heard it: the row decoded from that frame is beyond the horizon if it is in
    this tick's batch, else (it was judged in an earlier tick) the aircraft's next fix is.
    Marks waiting for an aircraft's next fix expire after STALE_POSITION_S."""
    marks = dedup.unheard
    if not len(marks) or not len(batch):
        return
    rows = np.flatnonzero(np.isin(batch.icao24, marks.icao24) & np.isin(batch.t_s, marks.t_s))
    exact = (batch.icao24[rows, None] == marks.icao24) & (batch.t_s[rows, None] == marks.t_s)
    beyond[rows[exact.any(axis=1)]] = True
    waiting = ~exact.any(axis=0)
    order = np.lexsort((batch.t_s, batch.icao24))
    starts = order[np.append(True, np.diff(batch.icao24[order]) != 0)]  # each one's next fix
    beyond[starts[np.isin(batch.icao24[starts], marks.icao24[waiting])]] = True
    left = waiting & ~np.isin(marks.icao24, batch.icao24)
    left &= marks.t_s > float(batch.t_s.max()) - STALE_POSITION_S
    dedup.unheard = marks.take(np.flatnonzero(left))


def source_status(source: Source) -> dict[str, Any]:
    """One source's health in the shape the console, the store and the API show."""
    status = getattr(source, "status", None)
    if status is None and isinstance(source, FeedAdapter):
        status = source.feed.status
    record: dict[str, Any] = {
        "name": source.name,
        "kind": "recording",
        "connected": not source.exhausted,
        "finished": bool(source.exhausted),  # a recording played to its end, not a lost feed
        "messages": 0,
        "dropped": 0,
        "last_error": None,
    }
    if isinstance(source, ReplaySource):
        record["messages"] = source.position
    elif isinstance(status, FeedStatus):
        record.update(
            kind=source.name.split("://", 1)[0],
            connected=status.connected,
            finished=False,
            messages=status.frames,
            dropped=status.malformed + status.truncated,
            dropped_bytes=status.dropped_bytes,
            duplicates=status.duplicates,
            last_error=status.last_error,
            reconnects=status.reconnects,
        )
    elif status is not None:  # an aircraft.json poller
        record.update(
            kind="aircraft.json",
            connected=status.failures == 0 and status.ok > 0,
            messages=status.vectors,
            dropped=status.failed_polls,
            last_error=status.last_error,
        )
    return record


TRACK_RETENTION_S = 48 * 3600.0  # the track log keeps two days, and whatever is near an event
INTERFERENCE_EVERY_S = 60.0  # the interference counts are hourly: stored once a minute is enough


class LivePicture:
    """What a running watch shows: the air picture, the sources' health and message rates,
    refreshed every tick and written to the store at most every `every_s` (for the web map),
    with the interference counts of the hours that changed. Once an hour of recording time, the
    track log drops what is older than its retention."""

    def __init__(
        self,
        engine: Engine,
        sources: list[Source],
        store: EventStore | None = None,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.sources = sources
        self.store = store
        self.every_s = every_s
        self.picture = AirPicture(expire_s=max(300.0, engine.settings.lost_contact_s))
        self.interference = InterferencePicture()
        self.aircraft: list[dict[str, Any]] = []
        self.status: list[dict[str, Any]] = []
        self.recent: list[Event] = []
        self._clock = clock
        self._last_write = -math.inf
        self._last_counts: dict[str, tuple[float, int]] = {}
        self._positions: list[PositionRow] = []
        self._pruned_at = -math.inf  # recording time of the last pruning
        self._interference_written = -math.inf

    def tick(self, events: list[Event], *, force: bool = False) -> None:
        judged = self.engine.take_judged()
        self._positions += self.picture.update(judged, events)
        self.interference.add(judged)
        self.recent = (self.recent + events)[-200:]
        now = self._clock()
        if now - self._last_write < self.every_s and not events and not force:
            return
        self.aircraft = self.picture.snapshot(self.engine)
        self.status = [self._rated(source_status(s), now, s) for s in self.sources]
        self._last_write = now
        clock = self.engine.clock_s
        prune = math.isfinite(clock) and clock - self._pruned_at >= 3600.0
        if self.store is not None:
            self.store.check()  # once a second: a store that fails stops the watch
            self.store.write_picture(self.aircraft, self._positions, self.status)
            if force or prune or now - self._interference_written >= INTERFERENCE_EVERY_S:
                self.store.write_interference(self.interference.take_changed().rows())
                self._interference_written = now
            if prune:
                self.store.prune_positions(clock - TRACK_RETENTION_S, wait=False)
        if prune:
            # hours before the last one are complete (and stored): forgotten here
            self.interference.close_before(clock - 2 * HOUR_S, self.engine.settings.forget_after_s)
            self._pruned_at = clock
        self._positions = []

    def _rated(self, record: dict[str, Any], now: float, source: Source) -> dict[str, Any]:
        """Adds the message rate since the last picture and, for live sources, the lag: how far
        the engine's clock (the newest fix) is behind this machine's clock."""
        then, count = self._last_counts.get(record["name"], (now, record["messages"]))
        rate = (record["messages"] - count) / (now - then) if now > then else 0.0
        self._last_counts[record["name"]] = (now, record["messages"])
        record["rate_per_s"] = round(rate, 1)
        wall = time.time()
        live = getattr(source, "live", False) and math.isfinite(self.engine.clock_s)
        record["lag_s"] = round(wall - self.engine.clock_s, 1) if live else None
        record["updated"] = iso_time(wall)
        return record
