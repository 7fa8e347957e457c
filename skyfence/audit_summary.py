"""What `skyfence.audit(..., summary=True)` hands a notebook: the events and the audit's numbers.

The numbers are those `skyfence audit` prints under its events (one `AuditResult`, whichever
path ran): a notebook user checks that the rows were read, how many positions were
quarantined, and which rows were skipped, without parsing warnings. `AuditResult` itself is
internal and may change; this record is the public shape of it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from skyfence.audit_result import AuditResult


@dataclass(frozen=True, slots=True)
class Audit:
    """An audit's events, and the numbers `skyfence audit` prints with them."""

    events: pa.Table
    """One row per event, exactly what `audit` returns without `summary`."""
    by_kind: dict[str, int]
    """Events per kind (`entry`, `exit`, `emergency_squawk`...)."""
    by_zone: dict[str, dict[str, int]]
    """Events per zone id, then per kind; `""` holds events of no zone (squawks)."""
    rows: int
    """State vectors the engine took."""
    fixes: int
    """Fresh positions judged."""
    trusted: int
    """Positions believed."""
    suspect: int
    """Positions quarantined (spoofed, impossible, beyond the receiver's horizon...)."""
    aircraft: int
    """Distinct ICAO addresses."""
    inputs: int
    """Files (or tables) read."""
    first: datetime | None
    """Time of the first state vector audited (UTC); None when there was none."""
    last: datetime | None
    """Time of the last one."""
    skipped: dict[str, tuple[int, list[str]]]
    """Per input: malformed rows skipped, and the first problems, by line or row."""
    seconds: float
    """How long the audit took."""

    @classmethod
    def of(cls, events: pa.Table, result: AuditResult) -> Audit:
        by_zone: defaultdict[str, dict[str, int]] = defaultdict(dict)
        for (zone, kind), n in sorted(result.counts.per_zone_kind.items()):
            by_zone[zone][kind] = n
        return cls(
            events=events,
            by_kind=dict(sorted(result.counts.by_kind.items())),
            by_zone=dict(by_zone),
            rows=result.rows,
            fixes=result.fixes,
            trusted=result.trusted,
            suspect=result.suspect,
            aircraft=len(result.aircraft),
            inputs=result.inputs,
            first=_time(result.first_s),
            last=_time(result.last_s),
            skipped=dict(result.skipped),
            seconds=result.seconds,
        )


def _time(t_s: float) -> datetime | None:
    return datetime.fromtimestamp(t_s, UTC) if math.isfinite(t_s) else None
