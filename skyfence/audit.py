"""Audit recorded traffic: recordings through the engine, events to a sink, in bounded memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skyfence.alerts.files import EventSink
from skyfence.engine.engine import Engine, EngineStats
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording


@dataclass
class AuditResult:
    per_zone_kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    stats: EngineStats = field(default_factory=EngineStats)
    events: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # malformed items per input


def run_audit(
    inputs: Iterable[Path],
    engine: Engine,
    sinks: list[EventSink],
    file_format: str | None = None,
    since_s: float | None = None,
    until_s: float | None = None,
    batch_rows: int = 1_000_000,
    on_batch: Callable[[Path, int], None] | None = None,
    on_events: Callable[[list[Event]], None] | None = None,
) -> AuditResult:
    """Feed every input through one engine (so tracks continue across files) and the sinks."""
    result = AuditResult()

    def emit(events: list[Event]) -> None:
        for event in events:
            result.per_zone_kind[(event.zone_id, event.kind)] += 1
        result.events += len(events)
        for sink in sinks:
            sink.write(events)
        if on_events is not None:
            on_events(events)

    for path in inputs:
        batches = read_recording(path, file_format, batch_rows=batch_rows)
        for batch in batches:
            batch = _window(batch, since_s, until_s)
            emit(engine.process(batch))
            if on_batch is not None:
                on_batch(path, len(batch))
        skipped = getattr(batches, "skipped", None)
        if skipped:
            result.skipped[str(path)] = int(skipped)
    emit(engine.finish())
    result.stats = engine.stats
    return result


def _window(sv: StateVectors, since_s: float | None, until_s: float | None) -> StateVectors:
    if since_s is None and until_s is None:
        return sv
    keep = np.ones(len(sv), bool)
    if since_s is not None:
        keep &= sv.t_s >= since_s
    if until_s is not None:
        keep &= sv.t_s < until_s
    return sv.take(keep)
