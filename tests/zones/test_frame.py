"""Zones across the antimeridian and round the poles: loaded continuous, written split."""

from __future__ import annotations

import gzip
import json
import math
from importlib.resources import files
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape

from skyfence.zones.frame import (
    engine_shape,
    frame_centre,
    grow_polar,
    is_cap,
    to_frame,
    wrap_lon,
)
from skyfence.zones.geojson import zone_to_feature, zones_from_geojson
from skyfence.zones.model import Zone

GEOD = Geod(ellps="WGS84")


def _load(geometry: dict[str, Any], **props: Any) -> Zone:
    feature = {"type": "Feature", "properties": {"id": "z", **props}, "geometry": geometry}
    return zones_from_geojson({"type": "FeatureCollection", "features": [feature]})[0]


def _area_km2(geometry: Any) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0]) / 1e6


def _contains(zone: Zone, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """As the engine tests a point: moved into the zone's frame."""
    shaped = engine_shape(zone.geometry)
    return shapely.contains_xy(shaped, to_frame(lon, frame_centre(zone.geometry)), lat)


def test_a_box_written_across_the_antimeridian_is_the_narrow_box() -> None:
    ring = [[179, -1], [-179, -1], [-179, 1], [179, 1], [179, -1]]
    zone = _load({"type": "Polygon", "coordinates": [ring]})
    at_greenwich = _load(
        {"type": "Polygon", "coordinates": [[[wrap_lon(x - 180.0), y] for x, y in ring]]}
    )
    assert zone.geometry.bounds == (179, -1, 181, 1)
    assert _area_km2(zone.geometry) == pytest.approx(_area_km2(at_greenwich.geometry), rel=1e-9)
    lon = np.array([0.0, 178.5, 179.5, 180.0, -180.0, -179.5, -178.5])
    assert _contains(zone, lon, np.zeros(len(lon))).tolist() == [0, 0, 1, 1, 1, 1, 0]
    # written out per RFC 7946: two halves meeting at ±180, read back as the same zone
    geometry = zone_to_feature(zone)["geometry"]
    assert geometry["type"] == "MultiPolygon"
    assert all(-180 <= x <= 180 for x, _ in shapely.get_coordinates(shape(geometry)))
    again = _load(geometry)
    assert again.geometry.equals(zone.geometry)


def test_real_countries_split_at_the_antimeridian_keep_their_area_and_points() -> None:
    """Natural Earth's Russia, Fiji and Antarctica (split at ±180): one continuous zone each,
    the same area, and the same answer as the split original for points all over them."""
    path = files("skyfence") / "data" / "countries.geojson.gz"
    features = json.loads(gzip.decompress(path.read_bytes()))["features"]
    rng = np.random.default_rng(7)
    for name in ("Russia", "Fiji", "Antarctica"):
        raw = next(f for f in features if f["properties"]["name"] == name)["geometry"]
        original = shape(raw)
        zone = _load(raw)
        assert _area_km2(zone.geometry) == pytest.approx(_area_km2(original), rel=1e-6)
        boxes = [part.bounds for part in shapely.get_parts(original)]  # points near every part
        lon = np.concatenate([rng.uniform(b[0], b[2], 500) for b in boxes])
        lat = np.concatenate([rng.uniform(b[1], b[3], 500) for b in boxes])
        expected = shapely.contains_xy(original, lon, lat)
        assert expected.sum() > 100
        assert (_contains(zone, lon, lat) == expected).all(), name
        written = shape(zone_to_feature(zone)["geometry"])
        assert written.symmetric_difference(original).area < 1e-6


def test_a_circle_centred_on_180_is_geodesic_on_both_sides() -> None:
    zone = _load({"type": "Point", "coordinates": [180, 10]}, radius_m=50_000)
    west, _, east, _ = zone.geometry.bounds
    assert west < 180 < east and east - west < 1.0
    xs, ys = shapely.get_coordinates(zone.geometry).T
    _, _, dist = GEOD.inv(np.full(len(xs), 180.0), np.full(len(xs), 10.0), xs, ys)
    assert np.allclose(dist, 50_000, rtol=1e-6)
    assert _area_km2(zone.geometry) == pytest.approx(math.pi * 50**2, rel=0.002)
    inside = _contains(zone, np.array([179.9, -179.9, 0.0]), np.array([10.0, 10.0, 10.0]))
    assert inside.tolist() == [True, True, False]


@pytest.mark.parametrize(("lon", "lat"), [(0, 90), (45, -90), (30, 87)])
def test_a_circle_round_a_pole_is_a_cap_with_the_pole_inside(lon: float, lat: float) -> None:
    radius = 500_000.0
    zone = _load({"type": "Point", "coordinates": [lon, lat]}, radius_m=radius)
    assert is_cap(zone.geometry) and zone.geometry.is_valid
    assert _area_km2(zone.geometry) == pytest.approx(math.pi * 500**2, rel=0.005)
    rng = np.random.default_rng(1)
    plon = rng.uniform(-180, 180, 5000)
    plat = np.sign(lat) * rng.uniform(80, 90, 5000)
    plat[:3] = np.sign(lat) * 90.0  # the pole itself, whatever longitude it is given
    _, _, dist = GEOD.inv(np.full(5000, float(lon)), np.full(5000, float(lat)), plon, plat)
    inside = _contains(zone, plon, plat)
    clear = np.abs(dist - radius) > 2_000  # the 128-gon's chords are within 0.6 km
    assert (inside[clear] == (dist[clear] < radius)).all()
    assert inside[:3].all()
    written = zone_to_feature(zone)["geometry"]
    assert all(-180 <= x <= 180 for x, _ in shapely.get_coordinates(shape(written)))
    assert _load(written).geometry.symmetric_difference(zone.geometry).area < 1e-9


def test_an_rfc7946_cap_and_ordinary_zones_are_kept_as_written() -> None:
    cap = [[-180, -90], [-180, -60], [180, -60], [180, -90], [-180, -90]]
    zone = _load({"type": "Polygon", "coordinates": [cap]})
    assert zone.geometry.equals(shape({"type": "Polygon", "coordinates": [cap]}))
    assert _contains(zone, np.array([0.0, 180.0, -180.0]), np.full(3, -70.0)).all()
    paris = [[2, 48], [3, 48], [3, 49], [2, 49], [2, 48]]
    assert _load({"type": "Polygon", "coordinates": [paris]}).geometry.equals_exact(
        shape({"type": "Polygon", "coordinates": [paris]}), 0
    )


def test_frames_move_longitudes_by_whole_turns_only() -> None:
    lon = np.array([-180.0, -179.9, 0.1234567891, 179.9])
    assert (wrap_lon(lon) == lon).all()  # to the bit: no rounding for points in range
    assert to_frame(np.array([-179.9]), 180.0)[0] == pytest.approx(180.1)
    assert wrap_lon(180.0) == -180.0


def test_a_cap_grows_by_its_distance_on_the_ground_holes_shrink() -> None:
    """How the exit hysteresis and buffer_m grow a cap: in a projection centred on the pole,
    its edge along a parallel kept a parallel."""
    ring = [[-180, 60], [180, 60], [180, 90], [-180, 90], [-180, 60]]
    hole = [[10, 70], [20, 70], [20, 75], [10, 75], [10, 70]]
    zone = _load({"type": "Polygon", "coordinates": [ring, hole]})
    grown = grow_polar(zone.geometry, 5_000.0)
    assert is_cap(grown) and grown.is_valid
    dlat = 5_000.0 / 111_400  # a degree of latitude near 60°N is about 111.4 km
    for lon in (-179.0, -90.0, 0.0, 45.0, 179.0):
        assert grown.contains(shapely.Point(lon, 60 - 0.9 * dlat))
        assert not grown.contains(shapely.Point(lon, 60 - 1.1 * dlat))
    assert grown.contains(shapely.Point(15, 70 + 0.9 * dlat))  # the hole's edge moved in
    assert not grown.contains(shapely.Point(15, 72.5))  # its middle is still out
