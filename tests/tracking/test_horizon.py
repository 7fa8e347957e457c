"""The radio horizon on real flights: quickstart's traffic (heard around Paris) against a
receiver placed in Paris, which could have heard all of it, and in Lyon, 390 km away, which
could have heard the airliners at cruise but not the traffic low around Paris."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skyfence.engine.engine import Engine
from skyfence.schema import StateVectors
from skyfence.sources.receiver import Receiver, parse_receiver
from skyfence.sources.recordings import read_recording
from skyfence.tracking.horizon import beyond_horizon, horizon_m, reach_m
from skyfence.tracking.integrity import BEYOND_HORIZON, REASONS
from skyfence.zones.geojson import load_zones

PARIS = Receiver(48.8566, 2.3522, 100.0)
LYON = Receiver(45.7640, 4.8357, 100.0)


@pytest.fixture(scope="module")
def quickstart(samples: Path) -> StateVectors:
    return StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))


def test_the_horizon_grows_with_the_square_root_of_height() -> None:
    # the 4/3-earth rule of thumb: 4.12 km per square root of a metre, at each end
    assert float(horizon_m(35_000, 0.0)) == pytest.approx(
        4_122 * (35_000 * 0.3048) ** 0.5, rel=1e-3
    )
    assert float(horizon_m(0, 100.0)) == pytest.approx(41_220, rel=1e-3)
    # an unknown altitude is the widest horizon: never a reason to doubt a position
    assert float(horizon_m(np.nan, 100.0)) == float(horizon_m(50_000, 100.0))
    assert float(reach_m(35_000, 100.0)) > 1.2 * float(horizon_m(35_000, 100.0))


def test_a_receiver_in_paris_could_have_heard_all_of_it(quickstart: StateVectors) -> None:
    assert not beyond_horizon(quickstart, PARIS).any()


def test_a_receiver_in_lyon_cannot_have_heard_low_traffic_near_paris(
    quickstart: StateVectors, paris_zones_path: Path
) -> None:
    far = beyond_horizon(quickstart, LYON)
    alt = quickstart.altitude_ft()
    airborne = ~quickstart.on_ground & np.isfinite(quickstart.lat_deg)
    assert far[airborne & (alt < 10_000)].mean() > 0.95
    assert far[airborne & (alt > 25_000)].mean() < 0.01  # airliners at cruise: heard
    assert not far[quickstart.on_ground].any()  # surface positions are not judged

    zones = load_zones(paris_zones_path)
    heard, unheard = Engine(zones), Engine(zones)
    near_events = heard.process(quickstart, beyond_horizon(quickstart, PARIS))
    far_events = unheard.process(quickstart, far)
    assert not [e for e in near_events if e.kind == "suspect_position"]
    suspects = [e for e in far_events if e.kind == "suspect_position"]
    reasons = [e.details["reason"] for e in suspects]
    assert reasons.count(REASONS[BEYOND_HORIZON]) > 0.9 * len(reasons) > 5
    # what could not have been heard makes no zone state: far fewer entries
    entries = [e for e in far_events if e.kind == "entry"]
    assert len(entries) < 0.5 * len([e for e in near_events if e.kind == "entry"])


def test_receiver_text() -> None:
    assert parse_receiver("48.86,2.35") == Receiver(48.86, 2.35)
    assert parse_receiver("48.86,2.35,35").height_m == 35.0
    for bad in ("48.86", "a,b", "91,0", "48,2,20000", "1,2,3,4"):
        with pytest.raises(ValueError, match=f"receiver '{bad}'"):
            parse_receiver(bad)
