"""Zones in a longitude frame where they do not wrap, and back to RFC 7946 GeoJSON for output.

A zone is stored *continuous*: a box from 179°E to 179°W has longitudes 179 to 181, not two
halves, and a cap around a pole is the polygon between its boundary and the pole line (longitudes
-180 to 180, closed along latitude ±90). Every test then compares a point with the zone after
moving the point's longitude by a multiple of 360° into the zone's frame (`to_frame`): exact, and
one array operation. An edge between two vertices more than 180° of longitude apart is taken the
short way round, across the antimeridian (as a pilot or a geodesic would); an edge along ±180
(RFC 7946 split polygons, caps written as [-180, 180] boxes) is kept as written. Output splits
zones at ±180 again (RFC 7946 §3.1.9), so every GeoJSON reader draws them right.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import shapely
from pyproj import Proj
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from skyfence.arrays import F64

A = TypeVar("A", float, F64)
CAP_OVERLAP_DEG = 90.0  # a cap in the engine reaches this far past ±180 on each side


def wrap_lon(lon: A) -> A:
    """A longitude in [-180, 180) (unchanged, to the bit, when it is already)."""
    return to_frame(lon, 0.0)


def to_frame(lon: A, centre: A | float) -> A:
    """The longitude moved by a multiple of 360° into [centre - 180, centre + 180)
    (unchanged, to the bit, when it is there already)."""
    return lon - 360.0 * np.floor((lon - centre + 180.0) / 360.0)  # type: ignore[no-any-return]


def frame_centre(geometry: BaseGeometry) -> float:
    west, _, east, _ = geometry.bounds
    return float(west + east) / 2


def is_cap(polygon: BaseGeometry) -> bool:
    """A polygon all round the globe, closed along a pole."""
    west, south, east, north = polygon.bounds
    return bool(east - west >= 360.0 - 1e-9 and (north >= 90.0 or south <= -90.0))


# -- loading --------------------------------------------------------------------------------


def _crosses(lons: F64) -> bool:
    step = np.abs(np.diff(lons))
    seam = (np.abs(lons[:-1]) == 180.0) & (np.abs(lons[1:]) == 180.0)
    return bool(np.any((step > 180.0) & ~seam))


def unwrap_lons(lons: F64) -> F64:
    """Each step the short way round, by whole turns only, so that a longitude that needs no
    unwrapping keeps its exact value (an edge along the seam, ±180 to ∓180, is no step)."""
    turns = np.floor((np.diff(lons) + 180.0) / 360.0)  # as `wrap_lon` of the step
    return lons - 360.0 * np.concatenate([[0.0], np.cumsum(turns)])


def cap_ring(lons: F64, lats: F64, pole: float) -> F64:
    """The ring of the cap whose boundary goes once round the pole (lons unwrapped, spanning
    360°): along the boundary, up the seam to the pole, along the pole line, back down."""
    return np.vstack(
        [
            np.column_stack([lons, lats]),
            [[lons[-1], pole], [lons[0], pole], [lons[0], lats[0]]],
        ]
    )


def _canonical_cap(polygon: Polygon) -> BaseGeometry:
    """The cap cut at ±180 and put together again: longitudes exactly -180 to 180."""
    west = polygon.bounds[0]
    shift = 360.0 * np.floor((west + 180.0) / 360.0)
    moved = affinity.translate(polygon, -shift)  # now west in [-180, 180)
    inside = moved.intersection(box(-180, -90, 180, 90))
    beyond = affinity.translate(moved.intersection(box(180, -90, 540, 90)), -360.0)
    return _areas(shapely.union(inside, beyond))


def _areas(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of an overlay's result, without the lines and points where pieces touch."""
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon) and p.area > 0]
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _polygon(polygon: Polygon) -> BaseGeometry:
    exterior = shapely.get_coordinates(polygon.exterior)
    holes = [shapely.get_coordinates(r) for r in polygon.interiors]
    if not _crosses(exterior[:, 0]) and not any(_crosses(h[:, 0]) for h in holes):
        return polygon
    lons = unwrap_lons(exterior[:, 0])
    centre = float((lons.min() + lons.max()) / 2)
    inner = []
    for hole in holes:
        hole_lons = unwrap_lons(hole[:, 0])
        hole_lons += 360.0 * np.round((centre - hole_lons.mean()) / 360.0)
        inner.append(np.column_stack([hole_lons, hole[:, 1]]))
    net = lons[-1] - lons[0]
    if abs(net) < 180.0:
        return Polygon(np.column_stack([lons, exterior[:, 1]]), inner)
    # the boundary goes round a pole: the zone is the smaller side, towards the nearer pole
    pole = 90.0 if float(exterior[:, 1].mean()) > 0 else -90.0
    return _canonical_cap(Polygon(cap_ring(lons, exterior[:, 1], pole), inner))


def continuous(geometry: BaseGeometry) -> BaseGeometry:
    """The zone in a frame where it does not wrap (see the module's docstring). Zones away
    from the antimeridian and the poles come back unchanged."""
    west, _, east, _ = geometry.bounds
    lons = [shapely.get_coordinates(r)[:, 0] for r in shapely.get_rings(geometry)]
    if west > -180.0 and east < 180.0 and not any(_crosses(x) for x in lons):
        return geometry
    parts = [_polygon(p) for p in shapely.get_parts(geometry)]
    parts = [_near(p, 0.0) for p in parts]
    if len(parts) == 1:
        return parts[0]
    west = min(p.bounds[0] for p in parts)
    east = max(p.bounds[2] for p in parts)
    shifted = [affinity.translate(p, 360.0) if frame_centre(p) < 0 else p for p in parts]
    if max(p.bounds[2] for p in shifted) - min(p.bounds[0] for p in shifted) < east - west:
        return shapely.union_all(shifted)  # joins halves split at ±180 into one polygon
    return MultiPolygon([q for p in parts for q in shapely.get_parts(p)])


def _near(geometry: BaseGeometry, centre: float) -> BaseGeometry:
    shift = 360.0 * np.round((frame_centre(geometry) - centre) / 360.0)
    return affinity.translate(geometry, -shift) if shift else geometry


def near(geometry: BaseGeometry, centre: float) -> BaseGeometry:
    """The geometry moved by a multiple of 360° of longitude to lie around `centre`."""
    return _near(geometry, centre)


# -- the engine -----------------------------------------------------------------------------


def engine_shape(geometry: BaseGeometry) -> BaseGeometry:
    """The shape the engine tests: a cap extended past ±180 by copies of itself, and past its
    pole by a degree, so that no point moved into the frame (nor one at the pole itself) lies
    on an edge that is no boundary."""
    parts = list(shapely.get_parts(geometry))
    if not any(is_cap(p) for p in parts):
        return geometry
    limit = 180.0 + CAP_OVERLAP_DEG
    out = []
    for p in parts:
        if is_cap(p):
            pole = 90.0 if p.bounds[3] >= 90.0 else -90.0
            beyond = box(
                -limit, min(pole, pole + np.sign(pole)), limit, max(pole, pole + np.sign(pole))
            )
            copies = [affinity.translate(p, k) for k in (-360.0, 0.0, 360.0)]
            p = _areas(
                shapely.union_all([*copies, beyond]).intersection(box(-limit, -91, limit, 91))
            )
        out.append(p)
    return shapely.union_all(out)


def grow_polar(geometry: BaseGeometry, distance_m: float) -> BaseGeometry:
    """A cap grown by a distance, in an equidistant projection centred on its pole (where
    the cap's boundary is a plain ring round the origin)."""
    pole = 90.0 if geometry.bounds[3] >= 90.0 else -90.0
    polar = Proj(f"+proj=aeqd +lat_0={pole} +lon_0=0 +datum=WGS84 +units=m")

    def project(ring: BaseGeometry, inverse: bool = False) -> F64:
        xy = shapely.get_coordinates(ring)
        if not inverse:
            xy = xy[np.abs(xy[:, 1]) < 90.0]  # a cap's boundary, without the pole line
        return np.column_stack(polar(xy[:, 0], xy[:, 1], inverse=inverse))

    # edges are straight in longitude and latitude (a cap's edge along a parallel is that
    # parallel): cut them short, so that they stay themselves in the projection
    planar = [
        Polygon(project(part.exterior), [project(hole) for hole in part.interiors])
        for part in shapely.get_parts(shapely.segmentize(geometry, 0.25))
    ]
    grown = shapely.union_all(planar).buffer(distance_m, quad_segs=8)
    parts = [
        continuous(
            Polygon(
                project(part.exterior, inverse=True),
                [project(hole, inverse=True) for hole in part.interiors],
            )
        )
        for part in shapely.get_parts(grown)
    ]
    return continuous(_areas(shapely.union_all(parts)))


# -- output ---------------------------------------------------------------------------------


def split_antimeridian(geometry: BaseGeometry) -> BaseGeometry:
    """The zone with longitudes in [-180, 180], cut at ±180 (RFC 7946 §3.1.9)."""
    west, _, east, _ = geometry.bounds
    if west >= -180.0 and east <= 180.0:
        return geometry
    parts = []
    for k in range(int(np.floor((west + 180) / 360)), int(np.floor((east + 180) / 360)) + 1):
        piece = geometry.intersection(box(-180 + 360 * k, -90, 180 + 360 * k, 90))
        parts += [
            affinity.translate(p, -360.0 * k)
            for p in shapely.get_parts(piece)
            if isinstance(p, Polygon) and not p.is_empty and p.area > 0
        ]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)
