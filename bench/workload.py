"""The benchmark's workload: real tracks over the Ukraine zones plus synthetic zones.

The real tracks are the 213 aircraft of traffic's `quickstart` sample (2021-10-07, Paris area),
moved as a block so that Paris sits on Kyiv: real kinematics, real sampling and real data
glitches, crossing the Ukrainian FIR boundaries and the synthetic zones placed among them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from shapely.geometry import box

from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import geodesic_circle, load_zones
from skyfence.zones.model import Zone, parse_altitude

SHIFT_LON, SHIFT_LAT = 30.52 - 2.35, 50.45 - 48.86  # Paris -> Kyiv


def samples() -> Path:
    spec = importlib.util.find_spec("traffic")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "samples"


@dataclass(frozen=True)
class Workload:
    sv: StateVectors
    zones: list[Zone]


def tracks(repeat: int = 1) -> StateVectors:
    """The quickstart tracks over Kyiv; `repeat` copies them under other addresses and on later
    days, for larger inputs."""
    sv = StateVectors.concat(list(read_recording(samples() / "collections/quickstart.json.gz")))
    copies = [
        replace(
            sv,
            lon_deg=sv.lon_deg + SHIFT_LON,
            lat_deg=sv.lat_deg + SHIFT_LAT,
            icao24=sv.icao24 ^ np.uint32(k << 20),
            t_s=sv.t_s + k * 86_400.0,
            t_pos_s=sv.t_pos_s + k * 86_400.0,
        )
        for k in range(repeat)
    ]
    batch = StateVectors.concat(copies)
    return batch.take(np.lexsort((batch.t_s, batch.icao24)))


def synthetic_zones(n: int, seed: int = 2022) -> list[Zone]:
    """Circles and boxes of 3 to 30 km among the tracks, with varied vertical bands."""
    rng = np.random.default_rng(seed)
    zones = []
    bands = [("SFC", "FL100"), ("FL50", "FL250"), ("FL245", "UNL"), ("SFC", "UNL")]
    for i in range(n):
        lon = rng.uniform(0.9, 3.9) + SHIFT_LON
        lat = rng.uniform(48.0, 49.8) + SHIFT_LAT
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


def workload(extra_zones: int = 50, repeat: int = 1) -> Workload:
    return Workload(tracks(repeat), load_zones("ukraine") + synthetic_zones(extra_zones))
