"""When and where a track crossed into or out of a zone, between two fixes.

An entry is the first moment, on the straight segment between the last fix outside and the first
fix inside, at which every condition holds (laterally inside, inside the band, zone active); an
exit is the first moment one of them stops holding. Only events call this, so it may be scalar.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import shapely
from shapely.geometry import LineString, Point

from skyfence.engine.zoneset import ZoneSet


class Point4(NamedTuple):
    t_s: float
    lat: float
    lon: float
    alt_ft: float

    def toward(self, other: Point4, f: float) -> Point4:
        def lerp(a: float, b: float) -> float:
            if not math.isfinite(a) or not math.isfinite(b):
                return b if f >= 1 else a
            return a + (b - a) * f

        return Point4(*(lerp(a, b) for a, b in zip(self, other, strict=True)))


def crossing(zs: ZoneSet, zone: int, a: Point4, b: Point4, entering: bool) -> tuple[Point4, str]:
    """The crossing point and what crossed: "lateral", "vertical" or "activation"."""
    fractions = {
        "lateral": _lateral(zs, zone, a, b, entering),
        "vertical": _vertical(zs, zone, a, b, entering),
        "activation": _activation(zs, zone, a, b, entering),
    }
    known = {k: f for k, f in fractions.items() if f is not None}
    if not known:
        return b, "lateral"
    pick = max if entering else min
    cause = pick(known, key=lambda k: known[k])
    return a.toward(b, known[cause]), cause


def _lateral(zs: ZoneSet, zone: int, a: Point4, b: Point4, entering: bool) -> float | None:
    shape = zs.shapes[zone]
    a_in = shapely.contains_xy(shape, a.lon, a.lat)
    b_in = shapely.contains_xy(shape, b.lon, b.lat)
    if a_in == b_in:
        return 0.0 if entering and a_in else None
    segment = LineString([(a.lon, a.lat), (b.lon, b.lat)])
    if segment.length == 0:
        return 1.0
    hits = shapely.intersection(segment, shape.boundary)
    if hits.is_empty:
        return 1.0
    # first boundary point along the segment from a
    return float(shapely.distance(Point(a.lon, a.lat), hits) / segment.length)


def _vertical(zs: ZoneSet, zone: int, a: Point4, b: Point4, entering: bool) -> float | None:
    floor, ceiling = float(zs.floor_ft[zone]), float(zs.ceiling_ft[zone])
    if math.isinf(floor) and math.isinf(ceiling):
        return None  # every altitude is in the band
    if entering and math.isnan(a.alt_ft):
        return 1.0  # not known to be in the band before b: the entry is not earlier than b
    if not (math.isfinite(a.alt_ft) and math.isfinite(b.alt_ft)) or a.alt_ft == b.alt_ft:
        return None
    inside_a = floor <= a.alt_ft <= ceiling
    inside_b = floor <= b.alt_ft <= ceiling
    if inside_a == inside_b:
        return None
    edge = floor if (a.alt_ft < floor if entering else b.alt_ft < floor) else ceiling
    return min(1.0, max(0.0, (edge - a.alt_ft) / (b.alt_ft - a.alt_ft)))


def _activation(zs: ZoneSet, zone: int, a: Point4, b: Point4, entering: bool) -> float | None:
    spec = zs.zones[zone]
    if not spec.active or b.t_s <= a.t_s:
        return None
    edges = [start if entering else end for start, end in spec.active]
    between = [e for e in edges if a.t_s < e <= b.t_s]
    if not between:
        return None
    return (min(between) - a.t_s) / (b.t_s - a.t_s)
