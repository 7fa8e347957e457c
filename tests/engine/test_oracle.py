"""The engine against an independent computation on real flights.

The oracle walks every aircraft point by point in plain Python: shapely's point-in-polygon per
position, the vertical band and active period by hand, the same boundary hysteresis, and the
crossing instant found by bisection in time along the segment (not by intersecting geometries, as
the engine does). Entries and exits must agree: same (aircraft, zone) pairs, times within 1 s.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from skyfence.engine.engine import Engine
from skyfence.engine.zoneset import grow
from skyfence.schema import StateVectors, icao24_hex
from skyfence.settings import EngineSettings
from skyfence.sources.recordings import read_recording
from skyfence.tracking.integrity import (
    ALTITUDE_NOISE_FT,
    GROUND_MAX_FT,
    MAX_CLIMB_FPM,
    assess_batch,
)
from skyfence.zones.countries import country_of
from skyfence.zones.geojson import load_zones
from skyfence.zones.model import Zone

Key = tuple[str, str]  # (icao24, zone id)


def read_all(path: Path) -> StateVectors:
    return StateVectors.concat(list(read_recording(path)))


def oracle(
    sv: StateVectors, zones: list[Zone], settings: EngineSettings
) -> dict[Key, list[tuple[str, float]]]:
    order = np.lexsort((sv.t_s, sv.fix_time_s(), sv.icao24))
    sv = sv.take(order)
    release = [grow(z.geometry, settings.exit_hysteresis_m) for z in zones]
    countries = country_of(sv.icao24)
    out: dict[Key, list[tuple[str, float]]] = defaultdict(list)
    bounds = np.flatnonzero(np.append(True, sv.icao24[1:] != sv.icao24[:-1]))
    ends = np.append(bounds[1:], len(sv))
    for lo, hi in zip(bounds, ends, strict=True):
        points = []
        callsign = ""
        last_row_t = -math.inf
        for i in range(lo, hi):
            callsign = sv.callsign[i] or callsign
            lat, lon = float(sv.lat_deg[i]), float(sv.lon_deg[i])
            t = float(sv.t_pos_s[i]) if math.isfinite(sv.t_pos_s[i]) else float(sv.t_s[i])
            silence, last_row_t = t - last_row_t, t
            if silence > settings.forget_after_s:
                points.append(None)  # a new flight: the aircraft was silent (no row at all)
            if not (math.isfinite(lat) and math.isfinite(lon)):
                continue
            previous = points[-1] if points else None
            if previous and ((lat, lon) == (previous[1], previous[2]) or t <= previous[0]):
                continue  # a repeated position is not a new fix
            alt = float(sv.alt_baro_ft[i])
            if math.isnan(alt):
                alt = float(sv.alt_geo_ft[i])
            points.append((t, lat, lon, alt, callsign, bool(sv.on_ground[i])))
        points = _altitudes_cleaned(points)
        address = icao24_hex(int(sv.icao24[lo]))
        for zi, zone in enumerate(zones):
            for kind, t in _walk(points, zone, release[zi], str(countries[lo]), settings):
                out[(address, zone.id)].append((kind, t))
    return out


def _altitudes_cleaned(points: list[tuple | None]) -> list[tuple | None]:  # type: ignore[type-arg]
    """The documented vertical rule, restated: an airborne altitude implying a climb or descent
    faster than MAX_CLIMB_FPM from the last accepted report is unknown (from an accepted
    on-ground report: a climb from GROUND_MAX_FT); so is an on-ground flag while the last
    accepted airborne altitude is above GROUND_MAX_FT plus what the aircraft could have
    descended; three reports in a row that agree replace the reference."""

    def fits(ref: tuple[float, float], t: float, alt: float) -> bool:
        rate = MAX_CLIMB_FPM * (t - ref[0]) / 60
        if alt == -math.inf:
            return ref[1] == -math.inf or ref[1] <= GROUND_MAX_FT + rate
        if ref[1] == -math.inf:
            return alt <= GROUND_MAX_FT + ALTITUDE_NOISE_FT + rate
        return abs(alt - ref[1]) <= ALTITUDE_NOISE_FT + rate

    out: list[tuple | None] = []  # type: ignore[type-arg]
    ref: tuple[float, float] | None = None
    pending: list[tuple[float, float]] = []
    for point in points:
        if point is None:
            out.append(None)
            ref, pending = None, []
            continue
        t, lat, lon, alt, callsign, ground = point
        value = -math.inf if ground else alt
        if math.isfinite(alt) or ground:
            if ref is None or fits(ref, t, value):
                ref = (t, value)
                pending = []
            else:
                if pending and not fits(pending[-1], t, value):
                    pending = []
                pending.append((t, value))
                if len(pending) >= 3:
                    ref = (t, value)
                    pending = []
                else:
                    value = math.nan
        out.append((t, lat, lon, value, callsign))
    return out


def _binds(zone: Zone, country: str, callsign: str) -> bool:
    a = zone.applies_to
    if a is not None and not (
        country in a.countries or any(p.search(callsign) for p in a.callsigns)
    ):
        return False
    return not any(p.search(callsign) for p in zone.exempt.callsigns)


def _active(zone: Zone, t: float) -> bool:
    return not zone.active or any(a <= t < b for a, b in zone.active)


def _in_band(zone: Zone, alt: float) -> bool:
    whole = math.isinf(zone.floor_ft) and math.isinf(zone.ceiling_ft)
    return whole or zone.floor_ft <= alt <= zone.ceiling_ft


def _inside(
    zone: Zone, t: float, lat: float, lon: float, alt: float, country: str, callsign: str
) -> bool:
    return (
        _binds(zone, country, callsign)
        and _active(zone, t)
        and _in_band(zone, alt)
        and bool(zone.geometry.contains(Point(lon, lat)))
    )


def _clear(
    zone: Zone,
    grown: shapely.Geometry,
    t: float,
    lat: float,
    lon: float,
    alt: float,
    country: str,
    callsign: str,
    settings: EngineSettings,
) -> bool:
    """Clearly outside: the zone does not bind now, or the aircraft is beyond the hysteresis."""
    whole = math.isinf(zone.floor_ft) and math.isinf(zone.ceiling_ft)
    hv = settings.exit_hysteresis_ft
    far_vertically = not whole and (alt < zone.floor_ft - hv or alt > zone.ceiling_ft + hv)
    return (
        not _binds(zone, country, callsign)
        or not _active(zone, t)
        or far_vertically
        or not grown.contains(Point(lon, lat))
    )


def _bisect(zone: Zone, a: tuple, b: tuple, country: str, want: bool) -> float:  # type: ignore[type-arg]
    """The instant on segment a->b where `inside` first becomes `want`, to 1 ms."""

    def at(f: float) -> bool:
        t = a[0] + (b[0] - a[0]) * f
        lat = a[1] + (b[1] - a[1]) * f
        lon = a[2] + (b[2] - a[2]) * f
        alt = (
            a[3] + (b[3] - a[3]) * f
            if math.isfinite(a[3]) and math.isfinite(b[3])
            else (b[3] if f >= 1 else a[3])
        )
        return _inside(zone, t, lat, lon, alt, country, b[4])

    # sample finely for the first change, then bisect inside that step
    steps = 200
    prev = 0.0
    for s in range(1, steps + 1):
        f = s / steps
        if at(f) == want:
            lo, hi = prev, f
            for _ in range(30):
                mid = (lo + hi) / 2
                lo, hi = (lo, mid) if at(mid) == want else (mid, hi)
            return a[0] + (b[0] - a[0]) * hi
        prev = f
    return b[0]


def _walk(
    points: list[tuple],
    zone: Zone,
    grown: shapely.Geometry,
    country: str,  # type: ignore[type-arg]
    settings: EngineSettings,
) -> list[tuple[str, float]]:
    events: list[tuple[str, float]] = []
    state = False
    last_in = -1
    flight: list[tuple] = []  # type: ignore[type-arg]
    for p in points:
        if p is None:
            state, last_in, flight = False, -1, []
            continue
        flight.append(p)
        k = len(flight) - 1
        inside = _inside(zone, p[0], p[1], p[2], p[3], country, p[4])
        clear = not inside and _clear(zone, grown, p[0], p[1], p[2], p[3], country, p[4], settings)
        if inside and not state:
            t = p[0] if k == 0 else _bisect(zone, flight[k - 1], p, country, True)
            events.append(("entry", t))
            state = True
        elif clear and state:
            events.append(
                ("exit", _bisect(zone, flight[last_in], flight[last_in + 1], country, False))
            )
            state = False
        if inside:
            last_in = k
    return events


def trusted_rows(sv: StateVectors, settings: EngineSettings) -> StateVectors:
    """The rows integrity keeps (tested on its own in tests/tracking): the oracle re-checks
    containment, state and crossings, not the quarantine."""
    sv = sv.take(np.lexsort((sv.t_s, sv.fix_time_s(), sv.icao24)))
    verdict = assess_batch(sv, sv.fix_time_s(), sv.altitude_ft(), {}, settings)
    return sv.take(~verdict.fresh | verdict.trusted)


@pytest.mark.parametrize(
    ("sample", "pairs"),
    [("collections/quickstart.json.gz", 150), ("featured/dreamliner_airfrance.json.gz", 2)],
)
def test_entries_and_exits_agree_with_oracle(
    samples: Path, paris_zones_path: Path, sample: str, pairs: int
) -> None:
    zones = load_zones(paris_zones_path)
    settings = EngineSettings()
    sv = read_all(samples / sample)
    engine = Engine(zones, settings)
    events = engine.process(sv) + engine.finish()
    got: dict[Key, list[tuple[str, float]]] = defaultdict(list)
    for e in events:
        if e.kind in ("entry", "exit"):
            got[(e.icao24, e.zone_id)].append((e.kind, e.t_s))
    want = oracle(trusted_rows(sv, settings), zones, settings)

    assert len(got) >= pairs  # real crossings of several zones, not an empty agreement
    assert {k for k, v in got.items() if v} == {k for k, v in want.items() if v}
    worst = 0.0
    for key in got:
        assert [kind for kind, _ in got[key]] == [kind for kind, _ in want[key]], key
        for (_, tg), (_, tw) in zip(got[key], want[key], strict=True):
            worst = max(worst, abs(tg - tw))
    assert worst < 1.0
    # integrity set aside only a handful of these real positions
    assert engine.stats.suspect <= 0.001 * engine.stats.fixes
