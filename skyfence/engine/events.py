"""The one event record, identical in every output (files, store, webhooks, API)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from skyfence.kinds import EVENT_KINDS as EVENT_KINDS  # the kinds' table lives there
from skyfence.kinds import EventKind as EventKind

EVENT_COLUMNS = (
    "id",
    "kind",
    "zone_id",
    "icao24",
    "callsign",
    "country",
    "time",
    "lat",
    "lon",
    "altitude_ft",
    "details",
)


def event_id(kind: str, zone_id: str, icao24: str, t_s: float) -> str:
    """Same event, same id, whichever run found it: live replay and batch audit agree by id."""
    key = f"{kind}|{zone_id}|{icao24}|{round(t_s * 1000)}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


_KIND_RANK = {kind: rank for rank, kind in enumerate(EVENT_KINDS)}  # sort_key's, per event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_time(t_s: float) -> str:
    """UTC to the millisecond, rounded as the Parquet output rounds it."""
    moment = EPOCH + timedelta(milliseconds=round(t_s * 1000))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Event:
    """What happened (`kind`), in which zone, to which aircraft, when (`t_s`, UNIX seconds UTC)
    and where. `to_dict()` is the record every output carries; `id` is the same in every run."""

    kind: EventKind
    zone_id: str
    icao24: str
    callsign: str
    country: str
    t_s: float
    lat: float
    lon: float
    altitude_ft: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return event_id(self.kind, self.zone_id, self.icao24, self.t_s)

    def __reduce__(self) -> tuple[type[Event], tuple[Any, ...]]:
        """Pickled as its fields in order: the dataclass default (a `fields()` call per event)
        cost 0.7 s (profiled) for the 24,000 events a split audit's worker sends back."""
        return Event, (
            self.kind,
            self.zone_id,
            self.icao24,
            self.callsign,
            self.country,
            self.t_s,
            self.lat,
            self.lon,
            self.altitude_ft,
            self.details,
        )

    def sort_key(self) -> tuple[float, str, str, int]:
        return (self.t_s, self.icao24, self.zone_id, _KIND_RANK[self.kind])

    def to_dict(self) -> dict[str, Any]:
        alt = self.altitude_ft
        return {
            "id": self.id,
            "kind": self.kind,
            "zone_id": self.zone_id,
            "icao24": self.icao24,
            "callsign": self.callsign,
            "country": self.country,
            "time": iso_time(self.t_s),
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "altitude_ft": None if alt is None or not math.isfinite(alt) else round(alt),
            "details": self.details,
        }
