"""A stored event as the store hands it back: typed, its time already a UTC datetime.

Readers (the API, webhooks, MQTT, notifications, reports, exports, the CLI) used to index
dicts by string and each re-parse the ISO time; one record read once from its SQLite row, with
one `to_json` for every output, keeps them from drifting apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from skyfence.engine.events import EPOCH, EVENT_COLUMNS, EventKind, iso_time
from skyfence.text import escape_controls

# the row `StoredEvent.from_row` reads: events `e` LEFT JOIN acknowledgements `a`
STORED_COLUMNS = (
    "e.rowid",
    "e.id",
    "e.kind",
    "e.zone_id",
    "e.icao24",
    "e.callsign",
    "e.country",
    "e.time",
    "e.time_s",
    "e.lat",
    "e.lon",
    "e.altitude_ft",
    "e.details",
    "e.zone_version",
    "a.at",
    "a.by",
    "a.note",
)
WITH_ACKNOWLEDGEMENT = "LEFT JOIN acknowledgements a ON a.event_id = e.id"
SELECT_STORED = f"SELECT {', '.join(STORED_COLUMNS)} FROM events e {WITH_ACKNOWLEDGEMENT}"


def utc(t_s: float) -> datetime:
    """UNIX seconds as an aware UTC datetime, to the millisecond the ISO text shows."""
    return EPOCH + timedelta(milliseconds=round(t_s * 1000))


class InterferenceCount(NamedTuple):
    """Distinct aircraft of one hour (`hour_s`, its start in UNIX seconds) in one H3 cell
    (hexadecimal text): seen, with degraded integrity, spoofed, and claimed by a spoofed fix."""

    hour_s: int
    cell: str
    aircraft: int
    degraded: int
    spoofed: int
    claimed: int


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """Who saw an event, when (`at_s`, UNIX seconds) and what they wrote."""

    at_s: float
    by: str
    note: str

    @property
    def at(self) -> datetime:
        return utc(self.at_s)

    @property
    def at_iso(self) -> str:
        return iso_time(self.at_s)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at_iso, "by": self.by, "note": self.note}


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of the events table. `time`, `t_s` and `time_iso` are the same moment (UTC, to
    the millisecond; `time_iso` is the text the writer stored, which outputs write as it is,
    never formatted again); `zone_version` is the zone's version in force when it was stored
    (None: stored before zones were recorded); `acknowledgement` is None while nobody
    acknowledged it; `rowid` orders events by storage (None for a record not read from the
    table)."""

    id: str
    kind: EventKind
    zone_id: str
    icao24: str
    callsign: str
    country: str
    time: datetime
    t_s: float
    time_iso: str  # 2024-07-06T09:30:00.123Z
    lat: float
    lon: float
    altitude_ft: int | None
    details: dict[str, Any]
    zone_version: int | None = None
    acknowledgement: Acknowledgement | None = None
    rowid: int | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredEvent:
        """The record of one row of `SELECT_STORED` (in `STORED_COLUMNS` order)."""
        rowid, event_id, kind, zone_id, icao24, callsign, country, text, t_s, *rest = row
        lat, lon, altitude_ft, details, zone_version, at, by, note = rest
        # escaped again: a store written before kept the text as it came
        ack = None if at is None else Acknowledgement(float(at), *map(escape_controls, (by, note)))
        who = (event_id, kind, zone_id, icao24, callsign, country)
        where = (lat, lon, altitude_ft, json.loads(details))
        return cls(*who, utc(t_s), float(t_s), text, *where, zone_version, ack, rowid)

    def to_json(self, *, acknowledged: bool = False, zone_version: bool = False) -> dict[str, Any]:
        """The JSON object every output emits: `Event.to_dict()`'s keys and values; the API's
        carries `acknowledged` (None or its acknowledgement), the exports' `zone_version`."""
        record = {column: getattr(self, column) for column in EVENT_COLUMNS}
        record["time"] = self.time_iso  # in its place: the keys keep the columns' order
        if acknowledged:
            ack = self.acknowledgement
            record["acknowledged"] = None if ack is None else ack.to_json()
        if zone_version:
            record["zone_version"] = self.zone_version
        return record
