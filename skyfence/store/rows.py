"""Events as rows of the events table and back, and the SQL that reads and filters them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from skyfence.engine.events import Event
from skyfence.errors import InputError
from skyfence.store.records import StoredEvent

Row = tuple[Any, ...]
# one fix of the track log the live picture hands the store (`AirPicture._take` builds them)
PositionRow = tuple[
    str, float, str, float, float, float | None, float | None, float | None, int, str
]
When = float | datetime

# `event_row` values in this order, then inserted_at; the zone's version is the one watched now
INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (id, kind, zone_id, icao24, callsign, country, time, time_s,"
    " lat, lon, altitude_ft, details, inserted_at, zone_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
    " ?7, ?8, ?9, ?10, ?11, ?12, ?13, (SELECT version FROM zones WHERE id = ?3))"
)


def event_row(event: Event) -> Row:
    """The events-table values of one event (without inserted_at), as `to_dict` renders it."""
    record = event.to_dict()
    if not (math.isfinite(event.lat) and math.isfinite(event.lon)):
        raise ValueError(f"event {record['id']}: position must be finite")
    return (
        record["id"],
        record["kind"],
        record["zone_id"],
        record["icao24"],
        record["callsign"],
        record["country"],
        record["time"],
        round(event.t_s * 1000) / 1000,
        record["lat"],
        record["lon"],
        record["altitude_ft"],
        json.dumps(_finite(record["details"]), ensure_ascii=False, default=_scalar),
    )


def _finite(value: Any) -> Any:
    """NaN and infinities as null: SQLite's JSON functions and webhook receivers reject them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _scalar(value: Any) -> Any:
    """numpy scalars (which json cannot encode) as the Python value they hold."""
    item = getattr(value, "item", None)
    if callable(item):
        return _finite(item())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def stored_event(row: Row) -> StoredEvent:
    """The record an `event_row` is read back as (without a rowid, zone version or
    acknowledgement: those are the table's)."""
    return StoredEvent.from_row((None, *row, None, None, None, None))


def _when(value: When) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InputError(f"{value}: give an aware datetime (UTC), not a naive one")
        return value.timestamp()
    return float(value)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events: `since <= time < until` (UNIX seconds or aware datetimes), in a zone, of a
    kind, of an aircraft (lower-case hex); None leaves that side open. One value the store, the
    API, the reports and the command line pass around instead of five arguments."""

    since: When | None = None
    until: When | None = None
    zone_id: str | None = None
    kind: str | None = None
    icao24: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (empty without filters) and its parameters for the events table."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            clauses.append("time_s >= ?")
            params.append(_when(self.since))
        if self.until is not None:
            clauses.append("time_s < ?")
            params.append(_when(self.until))
        for column, value in (
            ("zone_id", self.zone_id),
            ("kind", self.kind),
            ("icao24", self.icao24),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
