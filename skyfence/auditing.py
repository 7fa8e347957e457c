"""Audit recorded traffic: recordings through the engine, events to a sink, in bounded memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from skyfence.alerts.files import EventSink
from skyfence.audit_options import AuditOptions
from skyfence.audit_result import AuditResult, deliver
from skyfence.engine.engine import Engine, in_engine_order
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.ahead import read_ahead
from skyfence.sources.base import ReadStats
from skyfence.sources.recordings import read_recording
from skyfence.tracking.horizon import beyond_horizon

Name = TypeVar("Name", Path, str)


class Reading(Protocol):
    """Batches of one input, with its format and what reading it skipped."""

    format: str
    stats: ReadStats

    def __iter__(self) -> Iterator[StateVectors]: ...


@dataclass
class TableReading:
    """A table already in memory, converted batch by batch as a file's reader would."""

    format: str  # what the table is, e.g. "OpenSky table"
    batches: Iterator[StateVectors]
    stats: ReadStats = field(default_factory=ReadStats)

    def __iter__(self) -> Iterator[StateVectors]:
        return self.batches


def run_audit(
    inputs: Iterable[Path],
    engine: Engine,
    sinks: Sequence[EventSink],
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
    reference = options.receiver.reference if options.receiver is not None else None
    readings = (
        (path, read_recording(path, options.format, batch_rows, reference=reference,
                              start_s=options.start_s))
        for path in inputs
    )  # fmt: skip
    return _run(readings, engine, sinks, options, AuditResult("files"), on_batch, on_events)


def audit_table(
    name: str,
    reading: Reading,
    engine: Engine,
    sinks: Sequence[EventSink],
    options: AuditOptions | None = None,
) -> AuditResult:
    """A table in memory through the engine, as `run_audit` does a file (a table has no format
    to force nor receiver clock: those options are refused)."""
    options = AuditOptions() if options is None else options
    options.check("table")
    return _run([(name, reading)], engine, sinks, options, AuditResult("table"), None, None)


def _run(
    readings: Iterable[tuple[Name, Reading]],
    engine: Engine,
    sinks: Sequence[EventSink],
    options: AuditOptions,
    result: AuditResult,
    on_batch: Callable[[Name, int], None] | None,
    on_events: Callable[[list[Event]], None] | None,
) -> AuditResult:
    started = time.perf_counter()
    receiver = options.receiver
    for name, batches in readings:
        result.inputs += 1
        result.formats[str(name)] = batches.format
        for batch, aircraft in read_ahead(prepared(batches, options.since_s, options.until_s)):
            result.saw(batch, aircraft)
            events = engine.process(batch, beyond_horizon(batch, receiver) if receiver else None)
            deliver(events, result.counts, sinks, on_events)
            if on_batch is not None:
                on_batch(name, len(batch))
        result.skip(str(name), batches.stats)
    deliver(engine.finish(), result.counts, sinks, on_events)
    result.took(engine.stats)
    result.seconds = time.perf_counter() - started
    return result


def prepared(
    batches: Iterable[StateVectors], since_s: float | None = None, until_s: float | None = None
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
