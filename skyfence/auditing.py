"""Audit recorded traffic: recordings through the engine, events to a sink, in bounded memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from skyfence.alerts.files import EventSink
from skyfence.audit_options import AuditOptions
from skyfence.audit_result import AuditResult, deliver
from skyfence.engine.batches import prepared
from skyfence.engine.engine import Engine
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
