"""The benchmark's workloads: real tracks against the Ukraine zones plus 50 other zones.

The real tracks are the 213 aircraft of traffic's `quickstart` sample (2021-10-07, Paris area):
real kinematics, real sampling, real data glitches. They are moved as a block in space, and
three years later in time so that the Ukraine zones (closed since 2022-02-24) are active:

- "border": Paris is put on Rzeszów, 90 km from the Ukrainian border, so the traffic flies into
  Lviv FIR; the 50 other zones are spread over Europe, as restricted areas are. A monitoring day.
- "dense": Paris is put on Kyiv, and the 50 other zones are scattered among the tracks: every
  aircraft is near several zones all the time. A stress test.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from shapely.geometry import box

from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import geodesic_circle, load_zones
from skyfence.zones.model import Zone, parse_altitude

PARIS = (2.35, 48.86)
PLACES = {"border": (22.00, 50.04), "dense": (30.52, 50.45)}  # Rzeszów, Kyiv
THREE_YEARS_S = 3 * 365 * 86_400.0


def samples() -> Path:
    spec = importlib.util.find_spec("traffic")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "samples"


@dataclass(frozen=True)
class Workload:
    sv: StateVectors
    zones: list[Zone]


def tracks(place: str, repeat: int = 1) -> StateVectors:
    """The quickstart tracks moved to `place`; `repeat` copies them under other addresses and
    on later days, for larger inputs."""
    sv = StateVectors.concat(list(read_recording(samples() / "collections/quickstart.json.gz")))
    lon, lat = PLACES[place]
    copies = [
        replace(
            sv,
            lon_deg=sv.lon_deg + lon - PARIS[0],
            lat_deg=sv.lat_deg + lat - PARIS[1],
            icao24=sv.icao24 ^ np.uint32((k % 16) << 20 | (k // 16) << 16),  # within 24 bits
            t_s=sv.t_s + THREE_YEARS_S + k * 86_400.0,
            t_pos_s=sv.t_pos_s + THREE_YEARS_S + k * 86_400.0,
        )
        for k in range(repeat)
    ]
    batch = StateVectors.concat(copies)
    return batch.take(np.lexsort((batch.t_s, batch.icao24)))


def synthetic_zones(n: int, west: float, south: float, east: float, north: float) -> list[Zone]:
    """Circles and boxes of 3 to 30 km in the given area, with varied vertical bands."""
    rng = np.random.default_rng(2022)
    zones = []
    bands = [("SFC", "FL100"), ("FL50", "FL250"), ("FL245", "UNL"), ("SFC", "UNL")]
    for i in range(n):
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        size_m = rng.uniform(3_000, 30_000)
        d_lat = size_m / 111_320
        d_lon = d_lat / np.cos(np.radians(lat))
        shape = (
            geodesic_circle(lon, lat, size_m, 64)
            if i % 2
            else box(lon - d_lon, lat - d_lat, lon + d_lon, lat + d_lat)
        )
        floor, ceiling = bands[i % len(bands)]
        zones.append(
            Zone(
                id=f"SYN-{i:05d}",
                name=f"synthetic {i}",
                geometry=shape,
                floor=parse_altitude(floor),
                ceiling=parse_altitude(ceiling),
            )
        )
    return zones


def workload(place: str, extra_zones: int = 50, repeat: int = 1) -> Workload:
    sv = tracks(place, repeat)
    if place == "dense":  # among the tracks
        lon, lat = np.nanpercentile(sv.lon_deg, [2, 98]), np.nanpercentile(sv.lat_deg, [2, 98])
        area = (lon[0], lat[0], lon[1], lat[1])
    else:  # over Europe
        area = (-10.0, 36.0, 40.0, 60.0)
    return Workload(sv, load_zones("ukraine") + synthetic_zones(extra_zones, *area))


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Fastest of a few runs: the least disturbed by whatever else the machine does."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
