from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from skyfence.engine.containment import lateral_zones
from skyfence.engine.zoneset import ZoneSet
from skyfence.settings import EngineSettings
from skyfence.zones.geojson import load_zones


def test_grid_containment_matches_shapely_everywhere(paris_zones_path: Path) -> None:
    zones = load_zones("ukraine") + load_zones(paris_zones_path)
    zs = ZoneSet.compile(zones, EngineSettings())
    rng = np.random.default_rng(7)
    # points over both regions, dense near the real borders, plus far-away traffic
    lon = np.concatenate(
        [rng.uniform(20, 42, 60_000), rng.uniform(0, 5, 30_000), rng.uniform(-120, 150, 5_000)]
    )
    lat = np.concatenate(
        [rng.uniform(43, 54, 60_000), rng.uniform(47, 51, 30_000), rng.uniform(-60, 70, 5_000)]
    )
    got = lateral_zones(zs, lon, lat)
    for z, zone in enumerate(zones):
        truth = shapely.contains_xy(zone.geometry, lon, lat)
        mine = np.array([z in g for g in got])
        assert np.array_equal(mine, truth), zone.id
        assert truth.any(), zone.id  # every zone is really exercised


def test_candidates_cover_every_point_near_a_zone(paris_zones_path: Path) -> None:
    zones = load_zones(paris_zones_path)
    zs = ZoneSet.compile(zones, EngineSettings())
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-1, 6, 50_000), rng.uniform(46, 52, 50_000)
    touching = zs.grid.candidates(lon, lat)
    around = zs.grid.far_candidates(lon, lat, np.full(len(lon), np.inf))
    for z, zone in enumerate(zones):
        near = shapely.dwithin(zone.geometry, shapely.points(lon, lat), 0.3)  # ~20-30 km
        listed = np.zeros(len(lon), bool)
        listed[touching.point[touching.zone == z]] = True
        listed[around.point[around.zone == z]] = True
        assert listed[near].all(), zone.id
        # the distance bound never exceeds the true distance: no reachable zone is skipped
        mine = around.zone == z
        true_m = shapely.distance(
            zone.geometry, shapely.points(lon[around.point[mine]], lat[around.point[mine]])
        )
        assert (around.gap_m[mine] <= true_m * 111_320 + 1).all(), zone.id
