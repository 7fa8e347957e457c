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
from skyfence.decoding.dedup import FrameDeduplicator
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event, iso_time
from skyfence.schema import StateVectors
from skyfence.sources.live import FeedSource, FeedStatus, FramesHook, parse_source_uri
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore
from skyfence.tracking.picture import AirPicture, PositionRow


class Source(Protocol):
    """What `watch` polls: never blocks longer than asked, returns [] rows when idle."""

    name: str

    def next_batch(self, timeout_s: float) -> StateVectors: ...

    @property
    def exhausted(self) -> bool: ...

    def close(self) -> None: ...


class ReplaySource:
    """A recording played back in time order: at `speed` times real time, or as fast as
    possible (speed None) in one-second slices of recording time, as a live feed delivers."""

    def __init__(
        self,
        path: Path | StateVectors,
        speed: float | None = None,
        reference: tuple[float, float] | None = None,
        start_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`path` is a recording, or state vectors already read (named "state vectors")."""
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
        if self._speed is None:  # the rest of this second of recording time
            stop = int(np.searchsorted(self._t, np.floor(first) + 1.0, side="left"))
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
    ) -> None:
        self.name = uri
        self.feed = FeedSource(
            parse_source_uri(uri), reference=reference, dedup=dedup, on_frames=on_frames
        )

    @property
    def exhausted(self) -> bool:
        return False

    def next_batch(self, timeout_s: float) -> StateVectors:
        return self.feed.next_batch(timeout_s)

    def close(self) -> None:
        self.feed.close()


def open_source(
    text: str,
    speed: float | None,
    reference: tuple[float, float] | None = None,
    start_s: float | None = None,
    dedup: FrameDeduplicator | None = None,
) -> Source:
    """`beast://`, `avr://`, `sbs://` URIs are live feeds, `http(s)://` a readsb/tar1090
    aircraft.json to poll; anything else is a recording. Feeds given the same `dedup` decode a
    frame heard by several of them once."""
    if text.startswith(("http://", "https://")):
        from skyfence.sources.aircraft_json import AircraftJsonSource

        return AircraftJsonSource(text)
    if "://" in text:
        return FeedAdapter(text, reference, dedup)
    return ReplaySource(Path(text), speed, reference, start_s)


MAX_FUTURE_S = 30.0  # a live fix stamped further ahead of this machine's clock is refused


@dataclass
class WatchResult:
    ticks: int = 0
    rows: int = 0
    events: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    future: dict[str, int] = field(default_factory=dict)  # live rows refused, per source


def drop_future(
    batch: StateVectors, source: Source, result: WatchResult, now_s: float
) -> StateVectors:
    """Refuse live rows stamped in the future. The engine's clock only moves forward, so one
    receiver with a wrong clock (an SBS feed's local time, a bad NTP step) would otherwise
    declare every aircraft lost and make every later fix look stale. Recordings carry their
    own time and are never checked."""
    if not getattr(source, "live", False) or len(batch) == 0:
        return batch
    ahead = batch.t_s > now_s + MAX_FUTURE_S
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
) -> WatchResult:
    """Poll the sources until they are all exhausted (recordings) or `should_stop` says so.
    `on_tick` sees every tick's events (often none) after the sinks, to refresh a live view."""
    result = WatchResult()
    try:
        while not should_stop():
            live = [s for s in sources if not s.exhausted]
            if not live:
                break
            batches = [
                drop_future(s.next_batch(tick_s / len(live)), s, result, time.time()) for s in live
            ]
            batch = StateVectors.concat([b for b in batches if len(b)])
            events = engine.process(batch)
            events += engine.advance_clock(engine.clock_s)
            result.ticks += 1
            result.rows += len(batch)
            _emit(events, sinks, result, on_events)
            if on_tick is not None:
                on_tick(events)
        events = engine.finish()
        _emit(events, sinks, result, on_events)
        if on_tick is not None:
            on_tick(events)
    finally:
        for source in sources:
            source.close()
    return result


def _emit(
    events: list[Event],
    sinks: list[EventSink],
    result: WatchResult,
    on_events: Callable[[list[Event]], None] | None,
) -> None:
    if not events:
        return
    for event in events:
        result.by_kind[event.kind] = result.by_kind.get(event.kind, 0) + 1
    result.events += len(events)
    for sink in sinks:
        sink.write(events)
    if on_events is not None:
        on_events(events)


def source_status(source: Source) -> dict[str, Any]:
    """One source's health in the shape the console, the store and the API show."""
    status = getattr(source, "status", None)
    if status is None and isinstance(source, FeedAdapter):
        status = source.feed.status
    record: dict[str, Any] = {
        "name": source.name,
        "kind": "recording",
        "connected": not source.exhausted,
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


class LivePicture:
    """What a running watch shows: the air picture, the sources' health and message rates,
    refreshed every tick and written to the store at most every `every_s` (for the web map).
    Once an hour of recording time, the track log drops what is older than its retention."""

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
        self.aircraft: list[dict[str, Any]] = []
        self.status: list[dict[str, Any]] = []
        self.recent: list[Event] = []
        self._clock = clock
        self._last_write = -math.inf
        self._last_counts: dict[str, tuple[float, int]] = {}
        self._positions: list[PositionRow] = []
        self._pruned_at = -math.inf  # recording time of the last pruning

    def tick(self, events: list[Event], *, force: bool = False) -> None:
        self._positions += self.picture.update(self.engine.take_judged(), events)
        self.recent = (self.recent + events)[-200:]
        now = self._clock()
        if now - self._last_write < self.every_s and not events and not force:
            return
        self.aircraft = self.picture.snapshot(self.engine)
        self.status = [self._rated(source_status(s), now, s) for s in self.sources]
        self._last_write = now
        if self.store is not None:
            self.store.write_picture(self.aircraft, self._positions, self.status)
            clock = self.engine.clock_s
            if math.isfinite(clock) and clock - self._pruned_at >= 3600.0:
                self.store.prune_positions(clock - TRACK_RETENTION_S)
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
