"""The one distance and speed rule that both the batch check and the fix-by-fix walk use."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings
from skyfence.sources.recordings import read_recording
from skyfence.tracking.kinematics import Fix, distance_m, reachable


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_distance_between_consecutive_real_fixes_is_the_great_circle_to_a_thousandth(
    samples: Path,
) -> None:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    sv = sv.take(np.lexsort((sv.t_s, sv.icao24)))
    same = (sv.icao24[1:] == sv.icao24[:-1]) & np.isfinite(sv.lat_deg[1:] + sv.lat_deg[:-1])
    i = np.flatnonzero(same)[:5000]
    got = distance_m(sv.lat_deg[i], sv.lon_deg[i], sv.lat_deg[i + 1], sv.lon_deg[i + 1])
    want = np.array([_haversine_m(sv.lat_deg[k], sv.lon_deg[k], sv.lat_deg[k + 1],
                                  sv.lon_deg[k + 1]) for k in i])  # fmt: skip
    moved = want > 100
    assert moved.sum() > 1000
    assert np.all(np.abs(got[moved] - want[moved]) <= 1e-3 * want[moved])


def test_crossing_the_antimeridian_is_a_short_hop_not_a_jump() -> None:
    east, west = Fix(0.0, 10.0, 179.95, 450.0), Fix(60.0, 10.0, -179.95, 450.0)  # 11 km in a minute
    assert float(distance_m(10.0, 179.95, 10.0, -179.95)) < 12_000
    assert reachable(east, west, EngineSettings())
