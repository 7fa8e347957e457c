"""Boundaries that cross the antimeridian or go around a pole, checked against hand geometry."""

from __future__ import annotations

import math

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point

from skyfence.zones.shapes import arc_points, area_m2, circle, polygon_from_walk

GEOD = Geod(ellps="WGS84")


def test_box_across_the_antimeridian_is_the_narrow_box_not_the_world() -> None:
    zone = polygon_from_walk([(179.0, -1.0), (-179.0, -1.0), (-179.0, 1.0), (179.0, 1.0)])
    assert zone.geom_type == "MultiPolygon" and shapely.is_valid(zone)
    assert zone.contains(Point(179.5, 0.0)) and zone.contains(Point(-179.5, 0.0))
    assert not zone.contains(Point(0.0, 0.0)) and not zone.contains(Point(178.5, 0.0))
    # the two 1x2 degree boxes either side of 180, from their corners (continuous longitudes)
    east, _ = GEOD.polygon_area_perimeter([179.0, 180.0, 180.0, 179.0], [-1, -1, 1, 1])
    west, _ = GEOD.polygon_area_perimeter([180.0, 181.0, 181.0, 180.0], [-1, -1, 1, 1])
    assert area_m2(zone) == pytest.approx(abs(east) + abs(west), rel=1e-9)


@pytest.mark.parametrize("centre", [(180.0, 0.0), (-179.9, 52.0), (179.95, -40.0)])
def test_circle_on_the_antimeridian_keeps_its_area_and_both_sides(
    centre: tuple[float, float],
) -> None:
    radius = 100_000.0
    zone = circle(centre, radius)
    assert shapely.is_valid(zone) and zone.bounds[0] >= -180 and zone.bounds[2] <= 180
    assert area_m2(zone) == pytest.approx(math.pi * radius**2, rel=2e-3)  # 128-gon vs circle
    for azimuth in (90.0, 270.0):  # 95 km east and west: inside, on either side of 180
        lon, lat, _ = GEOD.fwd(centre[0], centre[1], azimuth, 95_000.0)
        assert zone.contains(Point(lon, lat))
    lon, lat, _ = GEOD.fwd(centre[0], centre[1], 0.0, 105_000.0)
    assert not zone.contains(Point(lon, lat))
    assert not zone.contains(Point(0.0, centre[1]))


@pytest.mark.parametrize("pole", [90.0, -90.0])
def test_circle_around_a_pole_contains_the_pole(pole: float) -> None:
    radius = 500_000.0  # 4.5 degrees of latitude
    zone = circle((0.0, pole), radius)
    assert zone.geom_type == "Polygon" and shapely.is_valid(zone)
    sign = 1 if pole > 0 else -1
    for lon in (-179.0, -90.0, 0.0, 45.0, 179.0):
        assert zone.contains(Point(lon, sign * 86.0))  # 444 km from the pole
        assert not zone.contains(Point(lon, sign * 85.0))  # 555 km
    assert area_m2(zone) == pytest.approx(math.pi * radius**2, rel=5e-3)


def test_off_centre_polar_circle() -> None:
    zone = circle((30.0, 88.0), 400_000.0)  # reaches 1.6 degrees past the pole
    assert zone.contains(Point(-150.0, 89.0))  # beyond the pole, opposite the centre
    assert zone.contains(Point(30.0, 85.0)) and not zone.contains(Point(30.0, 84.0))


def test_arc_bearings_are_clockwise_from_north() -> None:
    centre = (10.0, 50.0)
    points = arc_points(centre, 270.0, 180.0, 10_000.0, None)  # west, through north, to east
    assert points[0][0] < centre[0] and points[-1][0] > centre[0]
    assert max(p[1] for p in points) > centre[1] + 0.08  # passes north (10 km = 0.09 deg)


def test_degenerate_walks_are_refused() -> None:
    with pytest.raises(ValueError, match="3"):
        polygon_from_walk([(0.0, 0.0), (1.0, 1.0), (0.0, 0.0)])
    with pytest.raises(ValueError, match="Self-intersection"):
        polygon_from_walk([(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)])
