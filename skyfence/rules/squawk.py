"""Emergency squawks: 7500 (hijack), 7600 (radio failure), 7700 (emergency), one event each.

A code is only believed once it is held: the same emergency code in at least two state vectors
`confirm_s` apart, with no other code in between. One garbled surveillance reply is the risk:
DF5/DF21 replies have no checksum of their own (the address is recovered from the parity), so a
corrupted bit can turn 1000 into 7000-something for one reply, and a source that carries the
last code forward would then repeat it on every row until the next reply. The frame decoder
already refuses a reply-borne code until a second reply agrees (skyfence.decoding.frames); this
rule guards every other source (SBS, aircraft.json, recordings) the same way. The event is
dated when the aircraft started squawking the code, and raised once per episode: again only
after the aircraft held another code for `clear_s`, or was unheard for `forget_after_s`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyfence.engine.events import Event, iso_time
from skyfence.schema import StateVectors, icao24_hex
from skyfence.zones.countries import country_of

MEANINGS = {"7500": "hijack", "7600": "radio failure", "7700": "emergency"}
_CODES = np.array(list(MEANINGS), dtype="U4")


@dataclass(slots=True)
class _Run:
    """The code an aircraft squawks now, since when, and what it looked like then."""

    code: str
    t0: float
    rows: int
    lat: float
    lon: float
    alt_ft: float
    callsign: str
    last_t: float
    raised: str = ""  # the emergency code already reported in this episode


class EmergencySquawks:
    """Raises `emergency_squawk` events; state is kept only for aircraft that squawked one."""

    def __init__(
        self, confirm_s: float = 10.0, clear_s: float = 300.0, forget_after_s: float = 3600.0
    ) -> None:
        self.confirm_s = confirm_s
        self.clear_s = clear_s
        self.forget_after_s = forget_after_s
        self.runs: dict[int, _Run] = {}

    def batch(self, sv: StateVectors, t_fix: npt.NDArray[np.float64]) -> list[Event]:
        """Rows sorted by aircraft: only those of aircraft squawking, or lately squawking, an
        emergency code are looked at one by one (vectorised selection, rare rows)."""
        emergency = np.isin(sv.squawk, _CODES)
        watched = np.unique(sv.icao24[emergency])
        if self.runs:
            known = np.fromiter(self.runs, np.uint32, len(self.runs))
            watched = np.union1d(watched, known)
        if not len(watched):
            return []
        rows = np.isin(sv.icao24, watched) & (sv.squawk != "")
        rows &= np.isfinite(sv.lat_deg) & np.isfinite(sv.lon_deg)
        events: list[Event] = []
        alt = sv.altitude_ft()
        for i in np.flatnonzero(rows).tolist():
            event = self._row(sv, alt, i)
            if event is not None:
                events.append(event)
        newest = float(np.nanmax(sv.t_s)) if len(sv) else -math.inf
        for address in [a for a, r in self.runs.items() if r.last_t < newest - self.forget_after_s]:
            del self.runs[address]
        return events

    def admit(self, events: list[Event]) -> list[Event]:
        return events

    def _row(self, sv: StateVectors, alt: npt.NDArray[np.float64], i: int) -> Event | None:
        address, code, t = int(sv.icao24[i]), str(sv.squawk[i]), float(sv.t_s[i])
        callsign = str(sv.callsign[i])
        run = self.runs.get(address)
        if run is not None and t - run.last_t > self.forget_after_s:
            run = None  # unheard for long: a new episode, as the engine starts afresh
        if run is None or run.code != code:
            if run is None and code not in MEANINGS:
                return None
            raised = run.raised if run is not None else ""
            callsign = callsign or (run.callsign if run is not None else "")
            where = (float(sv.lat_deg[i]), float(sv.lon_deg[i]), float(alt[i]))
            run = _Run(code, t, 0, *where, callsign, t, raised)
            self.runs[address] = run
        run.rows += 1
        run.last_t = max(run.last_t, t)
        run.callsign = run.callsign or callsign
        held = run.last_t - run.t0
        if code not in MEANINGS:
            if held >= self.clear_s:
                del self.runs[address]  # the episode is over
            return None
        if code == run.raised or run.rows < 2 or held < self.confirm_s:
            return None
        run.raised = code
        return Event(
            "emergency_squawk",
            "",
            icao24_hex(address),
            run.callsign,
            str(country_of(np.array([address], np.uint32))[0]),
            run.t0,
            run.lat,
            run.lon,
            run.alt_ft,
            {
                "squawk": code,
                "meaning": MEANINGS[code],
                "confirmed": iso_time(run.last_t),
                "confirm_s": self.confirm_s,
            },
        )
