"""Audit recorded traffic: recordings through the engine, events to a sink, in bounded memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skyfence.alerts.files import EventSink
from skyfence.audit_options import AuditOptions
from skyfence.engine.engine import Engine, EngineStats, in_engine_order
from skyfence.engine.events import Event
from skyfence.engine.split import split_for
from skyfence.schema import StateVectors
from skyfence.sources.ahead import read_ahead
from skyfence.sources.recordings import read_recording
from skyfence.tracking.horizon import beyond_horizon


@dataclass
class AuditResult:
    per_zone_kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    stats: EngineStats = field(default_factory=EngineStats)
    events: int = 0
    skipped: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # per input
    formats: dict[str, str] = field(default_factory=dict)
    first_s: float = float("inf")  # time span of what was audited
    last_s: float = float("-inf")
    aircraft: set[int] = field(default_factory=set)


def run_audit(
    inputs: Iterable[Path],
    engine: Engine,
    sinks: list[EventSink],
    options: AuditOptions | None = None,
    *,
    batch_rows: int = 200_000,
    on_batch: Callable[[Path, int], None] | None = None,
    on_events: Callable[[list[Event]], None] | None = None,
) -> AuditResult:
    """Feed every input through one engine (so tracks continue across files) and the sinks.

    `options` (the engine's settings aside, which `engine` holds) are checked here, so a caller
    that did not check them gets the same refusals."""
    options = AuditOptions() if options is None else options
    options.check("files")
    receiver = options.receiver
    result = AuditResult()

    def emit(events: list[Event]) -> None:
        for event in events:
            result.per_zone_kind[(event.zone_id, event.kind)] += 1
        result.events += len(events)
        for sink in sinks:
            sink.write(events)
        if on_events is not None:
            on_events(events)

    inputs = list(inputs)
    split = None if receiver is not None else split_for(engine, inputs)  # over two cores
    for path in inputs:
        reference = receiver.reference if receiver is not None else None
        batches = read_recording(
            path, options.format, batch_rows, reference=reference, start_s=options.start_s
        )
        result.formats[str(path)] = batches.format
        prepared = _prepared(batches, options.since_s, options.until_s)
        for batch, aircraft in read_ahead(split.feed(prepared) if split else prepared):
            if len(batch):
                result.first_s = min(result.first_s, float(np.nanmin(batch.t_s)))
                result.last_s = max(result.last_s, float(np.nanmax(batch.t_s)))
                result.aircraft.update(aircraft)
            if split is not None:
                emit(split.process(batch))
            else:
                emit(engine.process(batch, beyond_horizon(batch, receiver) if receiver else None))
            if on_batch is not None:
                on_batch(path, len(batch))
        if batches.stats.rows_skipped:
            result.skipped[str(path)] = (batches.stats.rows_skipped, batches.stats.problems)
    emit(split.finish() if split is not None else engine.finish())
    result.stats = engine.stats
    return result


def _prepared(
    batches: Iterable[StateVectors], since_s: float | None, until_s: float | None
) -> Iterator[tuple[StateVectors, list[int]]]:
    """Each batch in its time window, in the engine's order, with its aircraft: run in the
    reading thread, this sorting and gathering overlaps the engine instead of preceding it."""
    for batch in batches:
        batch = in_engine_order(time_window(batch, since_s, until_s))
        starts = np.flatnonzero(np.append(True, batch.icao24[1:] != batch.icao24[:-1]))
        yield batch, batch.icao24[starts[starts < len(batch)]].tolist()


def time_window(sv: StateVectors, since_s: float | None, until_s: float | None) -> StateVectors:
    """The rows whose fix falls in [since_s, until_s); None leaves that side open.

    By the fix's own time where the source gives one (OpenSky's `lastposupdate`), as events
    are stamped: a row sampled at 13:00:01 carrying a position fixed at 12:59:56 would
    otherwise report an event at 12:59:56 under `--since 13:00`."""
    if since_s is None and until_s is None:
        return sv
    t_s = sv.fix_time_s()
    keep = np.ones(len(sv), bool)
    if since_s is not None:
        keep &= t_s >= since_s
    if until_s is not None:
        keep &= t_s < until_s
    return sv.take(keep)
