"""Look-ahead warnings against the vertical, on real flights of traffic's quickstart: AFR85FF
climbing out of Orly, and the arrivals landing there."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from skyfence.engine import prediction
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import geodesic_circle, load_zones
from skyfence.zones.model import Zone, parse_altitude


@pytest.fixture(scope="module")
def quickstart(samples: Path) -> StateVectors:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    return sv.take(np.lexsort((sv.t_s, sv.icao24)))


def climb_out(quickstart: StateVectors) -> tuple[StateVectors, int]:
    """AFR85FF's first ten minutes airborne, and the row 90 s after take-off (climbing
    straight out through 3,100 ft at 2,400 ft/min)."""
    sv = quickstart.take(quickstart.icao24 == 0x393320)
    airborne = int(np.flatnonzero(~sv.on_ground)[0])
    sv = sv.take(np.arange(airborne - 60, airborne + 600))
    return sv, 150


def zone_at(sv: StateVectors, row: int, floor: str, ceiling: str) -> Zone:
    """A 1.5 km circle on the straight climb-out, 90 s after take-off."""
    return Zone(
        "AHEAD",
        "on the climb-out",
        geodesic_circle(float(sv.lon_deg[row]), float(sv.lat_deg[row]), 1_500.0),
        parse_altitude(floor),
        parse_altitude(ceiling),
    )


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events if e.zone_id == "AHEAD"]


def run(sv: StateVectors, zones: list[Zone]) -> list[Event]:
    engine = Engine(zones)
    return engine.process(sv) + engine.finish()


def test_a_climb_out_under_a_low_zone_does_not_warn(quickstart: StateVectors) -> None:
    sv, row = climb_out(quickstart)
    low = zone_at(sv, row, "SFC", "1500 ft")  # the aircraft is above it when it gets there
    assert kinds(run(sv, [low])) == []
    # level flight assumed (no vertical rate): the warning this used to be
    assert kinds(run(replace(sv, vrate_fpm=np.full(len(sv), np.nan)), [low])) == ["predicted_entry"]


def test_a_climb_into_a_band_warns_before_it_enters(quickstart: StateVectors) -> None:
    sv, row = climb_out(quickstart)
    band = zone_at(sv, row, "2500 ft", "FL40")
    events = [e for e in run(sv, [band]) if e.zone_id == "AHEAD"]
    assert [e.kind for e in events][:2] == ["predicted_entry", "entry"]
    assert 30 < events[1].t_s - events[0].t_s <= 120


def test_a_landing_does_not_warn_for_a_zone_beyond_its_runway(
    quickstart: StateVectors, paris_zones_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EJU5677 lands at Orly, 14 km south of Paris: extrapolated at approach speed it would
    fly on into the Paris circle, but it stops on the runway."""
    sv = quickstart.take(quickstart.icao24 == 0x44039E)
    zones = load_zones(paris_zones_path)

    def warned() -> bool:
        events = run(sv, zones)
        return any(e.kind == "predicted_entry" and e.zone_id == "PARIS-20KM" for e in events)

    assert not warned()
    monkeypatch.setattr(prediction, "GROUND_FT", -math.inf)  # a path that never ends
    assert warned()
