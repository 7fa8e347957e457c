"""Properties of the state machine that must hold for any track (hypothesis)."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from skyfence.engine.engine import Engine
from skyfence.schema import StateVectors
from skyfence.zones.geojson import zones_from_geojson

SQUARE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"id": "SQ", "floor": "SFC", "ceiling": "FL200"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[30, 50], [30.5, 50], [30.5, 50.3], [30, 50.3], [30, 50]]],
            },
        }
    ],
}
ZONES = zones_from_geojson(SQUARE)


@st.composite
def tracks(draw: st.DrawFn) -> tuple[StateVectors, np.ndarray]:
    """A wandering aircraft near the square, some of its fixes jammed and spoofed into the
    zone (NIC 0, after it was heard with NIC 8)."""
    n = draw(st.integers(20, 150))
    dt = draw(st.sampled_from([1.0, 5.0, 20.0]))
    # at most ~250 kt: every real fix is reachable from the one before
    reach = 0.0015 * dt
    steps = draw(st.lists(st.floats(-reach, reach), min_size=2 * n, max_size=2 * n))
    start_lon = draw(st.floats(29.8, 30.7))
    start_lat = draw(st.floats(49.8, 50.5))
    lon = start_lon + np.cumsum(steps[:n])
    lat = start_lat + np.cumsum(steps[n:])
    alt = np.full(n, draw(st.sampled_from([5000.0, 15_000.0, 25_000.0])))
    spoofed = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    spoofed &= np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))  # ~1 in 4
    spoofed[0] = False  # the aircraft is first heard with good integrity; then it degrades
    lon = np.where(spoofed, 30.25, lon)  # the spoofer's favourite spot: the middle of the zone
    lat = np.where(spoofed, 50.15, lat)
    t = 1_700_000_000.0 + np.arange(n) * dt
    sv = StateVectors.build(
        t_s=t,
        icao24=np.full(n, 0x508123),
        lat_deg=lat,
        lon_deg=lon,
        alt_baro_ft=alt,
        gs_kt=np.full(n, 300.0),
        track_deg=np.full(n, 90.0),
        nic=np.where(spoofed, 0, 8),
    )
    return sv, spoofed


@settings(max_examples=80, deadline=None)
@given(tracks(), st.integers(1, 50))
def test_entries_and_exits_alternate_and_never_come_from_suspects(
    track: tuple[StateVectors, np.ndarray], batch: int
) -> None:
    sv, spoofed = track
    engine = Engine(ZONES)
    events = []
    for i in range(0, len(sv), batch):
        events += engine.process(sv.take(np.arange(i, min(i + batch, len(sv)))))
    events += engine.finish()
    crossings = [e for e in events if e.kind in ("entry", "exit")]
    kinds = [e.kind for e in crossings]
    assert kinds == ["entry", "exit"] * (len(kinds) // 2) + ["entry"] * (len(kinds) % 2)
    trusted = ~spoofed
    if trusted.sum() >= 2:
        path = LineString(np.column_stack([sv.lon_deg[trusted], sv.lat_deg[trusted]]))
        for e in crossings:  # every crossing lies on the path of trusted fixes
            assert shapely.distance(path, shapely.Point(e.lon, e.lat)) < 1e-6
    else:
        assert not crossings
    for e in events:
        if e.kind in ("entry", "exit", "predicted_entry", "lost_contact"):
            assert e.t_s not in set(sv.t_s[spoofed]) or e.kind != "entry"


@settings(max_examples=60, deadline=None)
@given(st.integers(50, 400), st.floats(0.0, 300.0), st.integers(0, 2**32 - 1))
def test_jitter_along_a_boundary_makes_no_event_storm(n: int, noise_m: float, seed: int) -> None:
    """An aircraft flying along the zone's southern edge, its position noisy by up to 300 m
    (less than the exit hysteresis), enters at most once and leaves at most once."""
    rng = np.random.default_rng(seed)
    lon = np.linspace(30.05, 30.45, n)
    lat = 50.0 + rng.uniform(-noise_m, noise_m, n) / 111_320
    sv = StateVectors.build(
        t_s=1_700_000_000.0 + np.arange(n),
        icao24=np.full(n, 0x3C4B26),
        lat_deg=lat,
        lon_deg=lon,
        alt_baro_ft=np.full(n, 10_000.0),
        gs_kt=np.full(n, 100.0),
        track_deg=np.full(n, 90.0),
    )
    events = Engine(ZONES).process(sv)
    assert sum(e.kind == "entry" for e in events) <= 1
    assert sum(e.kind == "exit" for e in events) <= 1
