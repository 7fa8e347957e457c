"""Zones across the antimeridian and round a pole, through the whole engine.

The oracle for the antimeridian is translation: moving a real flight and its zones by the same
longitude is an isometry of the ellipsoid, so the events must be the same wherever they land,
on either side of ±180 or across it. Round a pole, where no recording flies, a real flight is
rotated onto a path over the pole and the expected crossing comes from its own fixes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.frame import wrap_lon
from skyfence.zones.geojson import zones_from_geojson
from skyfence.zones.model import Zone

AFR93XT = 0x3986E4  # quickstart: a departure from Paris, 2.7 degrees of longitude


def _zones(*features: dict[str, Any]) -> list[Zone]:
    return zones_from_geojson({"type": "FeatureCollection", "features": list(features)})


def _feature(zone_id: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"id": zone_id, **props},
        "geometry": geometry,
    }


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    """A box written as a person would: from its west edge to its east edge."""
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _run(zones: list[Zone], sv: StateVectors) -> list[Event]:
    engine = Engine(zones)
    return sorted(engine.process(sv) + engine.finish(), key=Event.sort_key)


def _track(lon: list[float], lat: float = 0.0, step_s: float = 50.0) -> StateVectors:
    """Eastbound along a parallel at 430 kt (0.1 degree per 50 s at the equator)."""
    n = len(lon)
    return StateVectors.build(
        t_s=1.7e9 + np.arange(n) * step_s,
        icao24=np.full(n, 0x3C6444),
        callsign=np.full(n, "TEST1"),
        lat_deg=np.full(n, lat),
        lon_deg=np.array(lon),
        alt_baro_ft=np.full(n, 30_000.0),
        gs_kt=np.full(n, 430.0),
        track_deg=np.full(n, 90.0),
        vrate_fpm=np.zeros(n),
        on_ground=np.zeros(n, bool),
    )


@pytest.fixture(scope="module")
def afr93xt(samples: Path) -> StateVectors:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    return sv.take(np.flatnonzero(sv.icao24 == AFR93XT))


def test_box_from_179e_to_179w_is_the_narrow_box() -> None:
    """The reproduction: an aircraft at 0°,0° is far outside; one flying east from 178°E
    enters at 179°E and leaves at 179°W, in that order, at the interpolated instants."""
    zones = _zones(_feature("AM", _box(179, -1, -179, 1)))
    assert _run(zones, _track([0.0, 0.01, 0.02, 0.03])) == []

    lons = [wrap_lon(178.0 + 0.1 * k) for k in range(40)]  # 178°E to 178.1°W
    events = [e for e in _run(zones, _track(lons)) if e.kind in ("entry", "exit")]
    assert [e.kind for e in events] == ["entry", "exit"]
    entry, leave = events
    assert entry.t_s == pytest.approx(1.7e9 + 500.0, abs=1e-6)  # 179°E after ten steps
    assert entry.lon == pytest.approx(179.0)
    assert leave.t_s == pytest.approx(1.7e9 + 1500.0, abs=1e-6)  # the boundary, at 179°W
    assert leave.lon == pytest.approx(-179.0)
    assert leave.details["time_inside_s"] == pytest.approx(leave.t_s - entry.t_s)


def test_a_hop_across_the_antimeridian_is_short() -> None:
    """179.9°E to 179.9°W is 0.2°, not 359.8°: the entry lies on the line, between them."""
    zones = _zones(_feature("AM", _box(179.95, -1, -179.8, 1)))
    events = _run(zones, _track([179.7, 179.9, -179.9, -179.7], step_s=100))
    entry = next(e for e in events if e.kind == "entry")
    assert entry.t_s == pytest.approx(1.7e9 + 100 + 25, abs=1e-6)
    assert entry.lon == pytest.approx(179.95)


def test_a_circle_centred_on_180_contains_both_sides() -> None:
    zones = _zones(_feature("C", {"type": "Point", "coordinates": [180, 0]}, radius_m=20_000))
    for side in (179.9, -179.9):
        kinds = {e.kind for e in _run(zones, _track([side, side]))}
        assert "entry" in kinds
    assert _run(zones, _track([0.0, 0.0])) == []


def _moved(sv: StateVectors, dlon: float) -> StateVectors:
    out = sv.take(np.arange(len(sv)))
    out.lon_deg[:] = wrap_lon(sv.lon_deg + dlon)
    return out


def _moved_zones(dlon: float) -> list[Zone]:
    """A box and a circle on AFR93XT's climb-out, moved by `dlon` (the box written from its
    west edge to its east edge, wrapped into [-180, 180) as a file would have it)."""
    west, east = wrap_lon(2.2 + dlon), wrap_lon(3.1 + dlon)
    centre = wrap_lon(2.65 + dlon)
    return _zones(
        _feature("BOX", _box(west, 48.9, east, 49.1), ceiling="FL150", lookahead_s=120),
        _feature("CIRCLE", {"type": "Point", "coordinates": [centre, 49.0]}, radius_m=15_000),
    )


@pytest.mark.parametrize("mid", [180.0, 179.9, -179.9, 179.2])
def test_a_real_flight_moved_across_the_antimeridian_gives_the_same_events(
    afr93xt: StateVectors, mid: float
) -> None:
    """AFR93XT and two zones on its path, moved so the zones straddle ±180 (or lie just on
    one side of it, with the flight crossing): the events are those at Paris, moved."""
    home = _run(_moved_zones(0.0), afr93xt)
    dlon = mid - 2.65
    moved = _run(_moved_zones(dlon), _moved(afr93xt, dlon))
    kinds = [e.kind for e in home]
    assert {"entry", "exit", "predicted_entry"} <= set(kinds)
    assert [e.kind for e in moved] == kinds
    assert [e.zone_id for e in moved] == [e.zone_id for e in home]
    for a, b in zip(home, moved, strict=True):
        assert b.t_s == pytest.approx(a.t_s, abs=1e-6)
        assert b.lat == pytest.approx(a.lat, abs=1e-9)
        assert math.isclose(wrap_lon(b.lon - dlon), a.lon, abs_tol=1e-9)
        assert -180 <= b.lon < 180


def _rotated_over_the_pole(sv: StateVectors) -> StateVectors:
    """The flight rotated on the sphere so that its path passes over the North Pole: a
    rotation keeps speeds, turns and timing; no recording here flies over a pole."""
    lat, lon = np.radians(sv.lat_deg), np.radians(sv.lon_deg)
    xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    ok = np.flatnonzero(np.isfinite(sv.lat_deg))
    middle = xyz[ok[len(ok) // 2]]
    axis = np.cross(middle, [0.0, 0.0, 1.0])
    axis /= np.linalg.norm(axis)
    angle = math.acos(float(middle[2]))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
    moved = xyz @ rotation.T
    out = sv.take(np.arange(len(sv)))
    out.lat_deg[:] = np.degrees(np.arcsin(np.clip(moved[:, 2], -1, 1)))
    out.lon_deg[:] = np.degrees(np.arctan2(moved[:, 1], moved[:, 0]))
    out.track_deg[:] = np.nan  # the rotation turns headings; no look-ahead from stale ones
    return out


def test_a_real_flight_over_the_pole_enters_and_leaves_a_polar_circle(
    afr93xt: StateVectors,
) -> None:
    """The reproduction (Point 0,90, radius 500 km) with AFR93XT turned onto a path over the
    pole: an entry and an exit, at the instants its own fixes cross the circle's latitude."""
    t = afr93xt.fix_time_s()
    heard = afr93xt.take(np.flatnonzero(np.isfinite(afr93xt.lat_deg) & (t < t.min() + 3000)))
    assert np.diff(np.sort(heard.fix_time_s())).max() < 60  # one stretch, no lost contact
    sv = _rotated_over_the_pole(heard)
    radius = 40_000.0  # a circle it crosses both ways
    zones = _zones(_feature("POLE", {"type": "Point", "coordinates": [0, 90]}, radius_m=radius))
    boundary_lat = float(zones[0].geometry.bounds[1])
    events = [e for e in _run(zones, sv) if e.kind in ("entry", "exit")]
    assert [e.kind for e in events] == ["entry", "exit"]
    t = sv.fix_time_s()
    order = np.argsort(t)
    lat, t = sv.lat_deg[order], t[order]
    ok = np.isfinite(lat)
    lat, t = lat[ok], t[ok]
    inside = lat >= boundary_lat
    k = int(np.argmax(inside))  # first fix inside: the entry lies between k - 1 and k
    f = (boundary_lat - lat[k - 1]) / (lat[k] - lat[k - 1])
    assert events[0].t_s == pytest.approx(t[k - 1] + f * (t[k] - t[k - 1]), abs=1.0)
    assert events[0].lat == pytest.approx(boundary_lat, abs=0.002)
    j = len(inside) - 1 - int(np.argmax(inside[::-1]))  # last fix inside: the exit follows it
    f = (lat[j] - boundary_lat) / (lat[j] - lat[j + 1])
    assert events[1].t_s == pytest.approx(t[j] + f * (t[j + 1] - t[j]), abs=1.0)
    assert events[1].lat == pytest.approx(boundary_lat, abs=0.002)
    assert inside[k:j].all()  # over the pole (lat 90 itself) without leaving


def test_the_issue_polar_circle_reports_an_entry() -> None:
    """Point 0,90 with radius_m 500000, an aircraft flying north from 83°N to 89°N."""
    zones = _zones(_feature("POLE", {"type": "Point", "coordinates": [0, 90]}, radius_m=500_000))
    lats = np.linspace(83.0, 89.0, 61)
    n = len(lats)
    sv = StateVectors.build(
        t_s=1.7e9 + np.arange(n) * 44.5,
        icao24=np.full(n, 0x3C6444),
        lat_deg=lats,
        lon_deg=np.full(n, 30.0),
        alt_baro_ft=np.full(n, 35_000.0),
        gs_kt=np.full(n, 486.0),
        track_deg=np.zeros(n),
        vrate_fpm=np.zeros(n),
        on_ground=np.zeros(n, bool),
    )
    events = _run(zones, sv)
    entry = next(e for e in events if e.kind == "entry")
    boundary_lat = float(zones[0].geometry.bounds[1])
    expected = 1.7e9 + (boundary_lat - 83.0) / 0.1 * 44.5
    assert entry.t_s == pytest.approx(expected, abs=0.5)
    assert any(e.kind == "predicted_entry" and e.t_s < entry.t_s for e in events)
