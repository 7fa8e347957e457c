"""Lon/lat polygons from published boundaries: geodesic arcs and circles, across ±180° and poles.

Publications describe a boundary as a walk along the ground (vertices, arcs, circles). Written
naively as lon/lat, a walk that crosses the antimeridian becomes a polygon spanning the whole
world the other way round, and a circle around a pole becomes a thin band. Here the walk is
unwrapped into continuous longitudes first, then cut at ±180° into the parts GeoJSON can hold
(RFC 7946 §3.1.9); a walk that goes once around a pole is closed over that pole.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import shapely
import shapely.affinity
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

from skyfence.zones.frame import cap_ring, split_antimeridian, unwrap_lons

GEOD = Geod(ellps="WGS84")
NM_M = 1852.0
ARC_STEP_DEG = 2.0  # chords stray 0.015 % of the radius from the arc, below any data's precision
CIRCLE_VERTICES = 128

Point = tuple[float, float]  # (lon, lat) degrees, GeoJSON order


def arc_points(
    centre: Point, start_az: float, sweep_deg: float, radius_m: float, end_radius_m: float | None
) -> list[Point]:
    """Points along a geodesic arc from bearing `start_az`, `sweep_deg` clockwise (negative:
    anticlockwise); the radius moves linearly to `end_radius_m` so that an arc whose published
    end point is a few metres off the radius still ends exactly there."""
    end_r = radius_m if end_radius_m is None else end_radius_m
    steps = max(1, math.ceil(abs(sweep_deg) / ARC_STEP_DEG))
    f = np.linspace(0.0, 1.0, steps + 1)
    lons, lats, _ = GEOD.fwd(
        np.full(steps + 1, centre[0]),
        np.full(steps + 1, centre[1]),
        start_az + sweep_deg * f,
        radius_m + (end_r - radius_m) * f,
    )
    return [(float(x), float(y)) for x, y in zip(lons, lats, strict=True)]


def circle_points(centre: Point, radius_m: float, n: int = CIRCLE_VERTICES) -> list[Point]:
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(n, centre[0]), np.full(n, centre[1]), az, np.full(n, radius_m))
    return [(float(x), float(y)) for x, y in zip(lons, lats, strict=True)]


def circle(centre: Point, radius_m: float) -> BaseGeometry:
    """A geodesic circle as a valid lon/lat (Multi)Polygon, also across ±180° or around a pole."""
    return polygon_from_walk(circle_points(centre, radius_m))


def finite_shape(geometry: dict[str, object]) -> BaseGeometry:
    """The shape of a GeoJSON geometry, or a ValueError if a coordinate is NaN or infinite:
    shapely warned on stderr about such a ring, then called it self-intersecting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported below, by what it is
        geom = shape(geometry)
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise ValueError("a coordinate is not a finite number (NaN or infinity)")
    return geom


def polygon_from_walk(points: list[Point]) -> BaseGeometry:
    """The area enclosed by a closed walk of vertices, cut at ±180° and closed over a pole when
    the walk goes once around it. Raises ValueError when the walk is no polygon."""
    ring = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(ring) < 3:
        raise ValueError(f"{len(ring)} distinct points, a polygon needs 3")
    walk = np.array([*ring, ring[0]], dtype=np.float64)  # closed: the last step is one too
    lons, lats = unwrap_lons(walk[:, 0]), walk[:, 1]
    if abs(lons[-1] - lons[0]) < 180.0:
        polygon = Polygon(np.column_stack([lons, lats]))
    else:  # the walk goes around a pole: close it along the pole's parallel
        polygon = Polygon(cap_ring(lons, lats, 90.0 if float(np.mean(lats[:-1])) > 0 else -90.0))
    if not shapely.is_valid(polygon):
        raise ValueError(f"not a valid polygon: {shapely.is_valid_reason(polygon)}")
    return _fold(polygon)


def _fold(polygon: Polygon) -> BaseGeometry:
    """Bring a polygon drawn with continuous longitudes back into [-180, 180], cut at ±180°,
    with the pieces of a cap (which overlap once cut) joined."""
    shift = -360.0 * math.floor((polygon.centroid.x + 180.0) / 360.0)
    if shift:
        polygon = shapely.affinity.translate(polygon, xoff=shift)
    west, _, east, _ = polygon.bounds
    if west >= -180.0 and east <= 180.0:
        return orient(polygon, 1.0)
    merged = unary_union(split_antimeridian(polygon))
    polygons = [orient(p, 1.0) for p in shapely.get_parts(merged) if isinstance(p, Polygon)]
    polygons = [p for p in polygons if p.area > 0]
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def area_m2(geometry: BaseGeometry) -> float:
    """Geodesic area on WGS 84 (what the tests compare with the source's own numbers)."""
    return abs(GEOD.geometry_area_perimeter(geometry)[0])
