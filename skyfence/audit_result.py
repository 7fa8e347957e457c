"""What an audit found, whichever of its paths ran it (files, folder, Spark, table).

Events are counted in one place, `EventCounts`, by zone and kind: per kind and the total are
read from that one tally, so the summary line, the table per zone and the metrics of a watch
cannot disagree. Every path fills the same `AuditResult`; the paths that run several engines
(worker processes, Spark partitions) fill one per engine and `merge` them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from skyfence.audit_options import AuditPath
from skyfence.engine.events import Event
from skyfence.sources.base import MAX_PROBLEMS

if TYPE_CHECKING:
    from skyfence.alerts.files import EventSink
    from skyfence.engine.engine import EngineStats
    from skyfence.schema import StateVectors
    from skyfence.sources.base import ReadStats


@dataclass
class EventCounts:
    """Events per (zone, kind): the one tally of audits and watches."""

    per_zone_kind: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, events: Iterable[Event]) -> None:
        self.per_zone_kind.update((e.zone_id, e.kind) for e in events)

    def add_counted(self, counted: Mapping[tuple[str, str], int]) -> None:
        """Events counted where they are (Spark counts them on its executors)."""
        self.per_zone_kind.update(counted)

    @property
    def by_kind(self) -> dict[str, int]:
        kinds: Counter[str] = Counter()
        for (_, kind), n in self.per_zone_kind.items():
            kinds[kind] += n
        return dict(kinds)

    @property
    def total(self) -> int:
        return sum(self.per_zone_kind.values())


def deliver(
    events: list[Event],
    counts: EventCounts,
    sinks: Sequence[EventSink],
    on_events: Callable[[list[Event]], None] | None = None,
) -> None:
    """Events found: counted, written to every sink, then shown (audits and watches alike)."""
    if not events:
        return
    counts.add(events)
    for sink in sinks:
        sink.write(events)
    if on_events is not None:
        on_events(events)


@dataclass
class AuditResult:
    path: AuditPath
    counts: EventCounts = field(default_factory=EventCounts)
    rows: int = 0  # state vectors the engine took
    fixes: int = 0  # fresh positions judged
    trusted: int = 0
    suspect: int = 0  # quarantined
    inputs: int = 0  # files (or tables) read
    formats: dict[str, str] = field(default_factory=dict)  # per input (or folder)
    first_s: float = math.inf  # time span of what was audited
    last_s: float = -math.inf
    aircraft: set[int] = field(default_factory=set)
    skipped: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # per input
    peak_rss_mb: float | None = None  # the largest worker's, where workers are processes
    seconds: float = 0.0
    ran_on: str = "one engine"  # what ran the engines: worker processes, a Spark master

    @property
    def events(self) -> int:
        return self.counts.total

    def saw(self, batch: StateVectors, aircraft: Iterable[int]) -> None:
        """A batch the engine takes: its time span and its aircraft."""
        if len(batch):
            self.first_s = min(self.first_s, float(np.nanmin(batch.t_s)))
            self.last_s = max(self.last_s, float(np.nanmax(batch.t_s)))
            self.aircraft.update(aircraft)

    def took(self, stats: EngineStats) -> None:
        """What an engine judged, once it is done."""
        self.rows += stats.rows
        self.fixes += stats.fixes
        self.trusted += stats.trusted
        self.suspect += stats.suspect

    def skip(self, where: str, stats: ReadStats) -> None:
        if stats.rows_skipped:
            self.skipped[where] = (stats.rows_skipped, list(stats.problems))

    def merge(self, other: AuditResult) -> None:
        """Another engine's share of the same audit (a worker's, a partition's)."""
        self.counts.add_counted(other.counts.per_zone_kind)
        self.rows += other.rows
        self.fixes += other.fixes
        self.trusted += other.trusted
        self.suspect += other.suspect
        self.first_s = min(self.first_s, other.first_s)
        self.last_s = max(self.last_s, other.last_s)
        self.aircraft |= other.aircraft
        for where, (n, problems) in other.skipped.items():
            had, reasons = self.skipped.get(where, (0, []))
            self.skipped[where] = (had + n, (reasons + problems)[:MAX_PROBLEMS])
        if other.peak_rss_mb is not None:
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, other.peak_rss_mb)
