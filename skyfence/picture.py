"""The air picture: where each aircraft is now and what state it is in, for the map and console.

The engine judges every fix; this keeps, per aircraft, only its latest one, with the state an
analyst cares about: *inside* a zone, *warning* (a predicted entry not yet resolved), *suspect*
(its latest position is quarantined) or *normal*. It also thins the judged fixes into the track
log the store keeps for incident reports: one trusted fix per aircraft per `track_step_s`, and
every quarantined one (the evidence of spoofing must not be thinned away).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from skyfence.engine.engine import Engine, Judged
from skyfence.engine.events import Event, iso_time
from skyfence.store.rows import PositionRow
from skyfence.tracking.integrity import REASONS
from skyfence.zones.countries import country_of

AircraftState = Literal["normal", "warning", "inside", "suspect"]


@dataclass(slots=True)
class Aircraft:
    icao24: str
    callsign: str
    country: str
    t_s: float
    lat: float
    lon: float
    altitude_ft: float | None
    gs_kt: float | None
    track_deg: float | None
    trusted: bool
    warnings: dict[str, float] = field(default_factory=dict)  # zone id -> when the warning lapses

    def to_dict(self, state: AircraftState, zones: list[str]) -> dict[str, Any]:
        return {
            "icao24": self.icao24,
            "callsign": self.callsign,
            "country": self.country,
            "time": iso_time(self.t_s),
            "time_s": self.t_s,
            "lat": self.lat,
            "lon": self.lon,
            "altitude_ft": self.altitude_ft,
            "gs_kt": self.gs_kt,
            "track_deg": self.track_deg,
            "state": state,
            "zones": zones,
        }


class AirPicture:
    """Latest state per aircraft, fed with the engine's judged batches and its events.

    Aircraft unheard for `expire_s` of recording time leave the picture, so it stays as small
    as the traffic actually in view."""

    def __init__(self, expire_s: float = 300.0, track_step_s: float = 5.0) -> None:
        self.expire_s = expire_s
        self.track_step_s = track_step_s
        self.aircraft: dict[str, Aircraft] = {}
        self._logged_step: dict[int, float] = {}  # per address, the last track step logged

    def update(self, judged: list[Judged], events: list[Event]) -> list[PositionRow]:
        """Take in what the engine judged and reported; return the fixes to log as tracks."""
        logged: list[PositionRow] = []
        for batch in judged:
            logged += self._take(batch)
        for event in events:
            plane = self.aircraft.get(event.icao24)
            if plane is None:
                continue
            if event.kind == "predicted_entry":
                # the engine warns once per approach, so the warning holds for the look-ahead
                # (unless an entry or exit resolves it first), not just until the predicted time
                seconds = float(event.details.get("lookahead_s", 0.0))
                plane.warnings[event.zone_id] = event.t_s + seconds
            elif event.kind in ("entry", "exit"):
                plane.warnings.pop(event.zone_id, None)
        return logged

    def snapshot(self, engine: Engine) -> list[dict[str, Any]]:
        """The picture now (by the engine's clock), oldest aircraft dropped first."""
        clock = engine.clock_s
        for address in [a for a, p in self.aircraft.items() if p.t_s < clock - self.expire_s]:
            del self.aircraft[address]
            self._logged_step.pop(int(address, 16), None)
        inside = {f"{a:06x}": zones for a, zones in engine.inside().items()}
        rows = []
        for address, plane in self.aircraft.items():
            plane.warnings = {z: t for z, t in plane.warnings.items() if t >= clock}
            zones = inside.get(address, [])
            state: AircraftState = "normal"
            if not plane.trusted:
                state = "suspect"
            elif zones:
                state = "inside"
            elif plane.warnings:
                state, zones = "warning", sorted(plane.warnings)
            rows.append(plane.to_dict(state, zones))
        return rows

    def _take(self, batch: Judged) -> list[PositionRow]:
        v = batch.verdicts
        rows = np.flatnonzero(v.fresh)
        if len(rows) == 0:
            return []
        sv = batch.sv
        icao = sv.icao24[rows]
        last = rows[np.append(icao[1:] != icao[:-1], True)]  # rows are in (aircraft, time) order
        for r in last:  # once per aircraft
            address = f"{int(sv.icao24[r]):06x}"
            plane = self.aircraft.get(address)
            callsign = str(sv.callsign[r]) or (plane.callsign if plane else "")
            fields = dict(
                callsign=callsign,
                t_s=float(batch.t_fix[r]),
                lat=float(sv.lat_deg[r]),
                lon=float(sv.lon_deg[r]),
                altitude_ft=_number(batch.alt_ft[r]),
                gs_kt=_number(sv.gs_kt[r]),
                track_deg=_number(sv.track_deg[r]),
                trusted=bool(v.trusted[r]),
            )
            if plane is None:
                country = str(country_of(np.array([sv.icao24[r]], np.uint32))[0])
                self.aircraft[address] = Aircraft(address, country=country, **fields)  # type: ignore[arg-type]
            else:
                for name, value in fields.items():
                    setattr(plane, name, value)
        # the track log: first fix of each aircraft in each step, and every quarantined fix
        step = np.floor(batch.t_fix[rows] / self.track_step_s)
        start = np.append(True, icao[1:] != icao[:-1])
        previous = np.append(np.nan, step[:-1])
        for i in np.flatnonzero(start):  # once per aircraft: the step logged in earlier batches
            previous[i] = self._logged_step.get(int(icao[i]), np.nan)
        logged = (step != previous) | ~v.trusted[rows]
        for i in np.flatnonzero(np.append(start[1:], True)):  # once per aircraft
            self._logged_step[int(icao[i])] = float(step[i])
        keep = rows[logged]
        return [
            (
                f"{int(sv.icao24[r]):06x}",
                round(float(batch.t_fix[r]), 3),
                str(sv.callsign[r]),
                float(sv.lat_deg[r]),
                float(sv.lon_deg[r]),
                _number(batch.alt_ft[r]),
                _number(sv.gs_kt[r]),
                _number(sv.track_deg[r]),
                int(bool(v.trusted[r])),
                "" if v.trusted[r] else REASONS.get(int(v.reason[r]), "quarantined"),
            )
            for r in keep
        ]


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
