"""When and where a track crossed into or out of a zone, between two fixes.

An entry is the first moment, on the straight segment between the last fix outside and the first
fix inside, at which every condition holds (laterally inside, inside the band, zone active); an
exit is the first moment one of them stops holding. Only events call this, so it may be scalar.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import shapely

from skyfence.arrays import F64
from skyfence.engine.containment import by_zone
from skyfence.engine.zoneset import ZoneSet
from skyfence.zones.frame import wrap_lon


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

        # the short way round: 179.9°E to 179.9°W is a 0.2° step across the antimeridian
        lon = self.lon + _wrapped(other.lon - self.lon) * f
        return Point4(
            lerp(self.t_s, other.t_s),
            lerp(self.lat, other.lat),
            _wrapped(lon) if math.isfinite(lon) else lerp(self.lon, other.lon),
            lerp(self.alt_ft, other.alt_ft),
        )


def _wrapped(lon: float) -> float:
    """wrap_lon for one number, at the cost of a comparison when it is in range already."""
    return lon if -180.0 <= lon < 180.0 else lon - 360.0 * math.floor((lon + 180.0) / 360.0)


def crossings(
    zs: ZoneSet, zone: list[int], a: list[Point4], b: list[Point4], entering: bool
) -> list[tuple[Point4, str]]:
    """For each segment a[i] -> b[i] into (or out of) zone[i]: the crossing point and what
    crossed: "lateral", "vertical" or "activation". One vectorised pass for all of a batch."""
    n = len(zone)
    if n == 0:
        return []
    pa, pb = np.array(a, np.float64).reshape(n, 4), np.array(b, np.float64).reshape(n, 4)
    points, causes = crossing_points(zs, np.array(zone, np.int32), pa, pb, entering)
    return [(Point4(*p), c) for p, c in zip(points.tolist(), causes, strict=True)]


CAUSES = ("lateral", "vertical", "activation")


def crossing_points(
    zs: ZoneSet, z: npt.NDArray[np.int32], pa: F64, pb: F64, entering: bool
) -> tuple[F64, list[str]]:
    """`crossings` on arrays: rows of (t_s, lat, lon, alt_ft) in, the crossing rows and their
    causes out, with no Python object per segment (a dense audit has tens of thousands)."""
    n = len(z)
    if n == 0:
        return np.zeros((0, 4)), []
    fractions = np.column_stack(
        [
            _lateral(zs, z, pa, pb, entering),
            _vertical(zs, z, pa, pb, entering),
            _activations(zs, z, pa[:, 0], pb[:, 0], entering),
        ]
    )
    known = np.isfinite(fractions)
    # the latest condition to hold places an entry, the first to fail an exit; ties go to the
    # first cause in CAUSES order, as max/min over them in that order would
    if entering:
        cause = np.argmax(np.where(known, fractions, -np.inf), axis=1)
    else:
        cause = np.argmin(np.where(known, fractions, np.inf), axis=1)
    f = fractions[np.arange(n), cause]
    none = ~known.any(axis=1)  # nothing placed it: the crossing is at b, called lateral
    cause[none] = 0
    points = toward(pa, pb, np.where(none, 1.0, f))
    points[none] = pb[none]
    return points, [CAUSES[c] for c in cause.tolist()]


def toward(pa: F64, pb: F64, f: F64) -> F64:
    """Point4.toward on rows: the same arithmetic, so the same numbers to the bit."""
    ff = f[:, None]
    with np.errstate(invalid="ignore"):
        both = np.isfinite(pa) & np.isfinite(pb)
        out = np.where(both, pa + (pb - pa) * ff, np.where(ff >= 1, pb, pa))
        lon = pa[:, 2] + wrap_lon(pb[:, 2] - pa[:, 2]) * f
        out[:, 2] = np.where(np.isfinite(lon), wrap_lon(lon), out[:, 2])
    return out


def _lateral(zs: ZoneSet, z: npt.NDArray[np.int32], pa: F64, pb: F64, entering: bool) -> F64:
    # both ends in the zone's frame, the second the short way round from the first
    lon_a = zs.in_frame(z, pa[:, 2])
    lon_b = lon_a + wrap_lon(pb[:, 2] - pa[:, 2])
    a_in, b_in = np.zeros(len(z), bool), np.zeros(len(z), bool)
    for zone, rows in by_zone(z, np.arange(len(z))):
        a_in[rows] = shapely.contains_xy(zs.shapes[zone], lon_a[rows], pa[rows, 1])
        b_in[rows] = shapely.contains_xy(zs.shapes[zone], lon_b[rows], pb[rows, 1])
    first, _ = zs.edges.crossings(z, lon_a, pa[:, 1], lon_b, pb[:, 1])
    crossed = np.where(np.isfinite(first), first, 1.0)
    same = a_in == b_in
    return np.where(same, np.where(entering & a_in, 0.0, np.nan), crossed)


def _vertical(zs: ZoneSet, z: npt.NDArray[np.int32], pa: F64, pb: F64, entering: bool) -> F64:
    floor, ceiling = zs.floor_ft[z], zs.ceiling_ft[z]
    alt_a, alt_b = pa[:, 3], pb[:, 3]
    whole = np.isneginf(floor) & np.isposinf(ceiling)
    in_a = (alt_a >= floor) & (alt_a <= ceiling)
    in_b = (alt_b >= floor) & (alt_b <= ceiling)
    below = alt_a < floor if entering else alt_b < floor
    edge = np.where(below, floor, ceiling)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.clip((edge - alt_a) / (alt_b - alt_a), 0.0, 1.0)
    usable = np.isfinite(alt_a) & np.isfinite(alt_b) & (alt_a != alt_b) & (in_a != in_b)
    f = np.where(usable, f, np.nan)
    # not known to be in the band before b: the entry is not earlier than b
    if entering:
        f = np.where(np.isnan(alt_a), 1.0, f)
    return np.where(whole, np.nan, f)


def _activations(zs: ZoneSet, z: npt.NDArray[np.int32], t_a: F64, t_b: F64, entering: bool) -> F64:
    """The fraction of each segment at which its zone's first period starts (entering) or
    ends (leaving) within it, NaN when none does. A loop per zone with periods, not per row."""
    out = np.full(len(z), np.nan)
    for zone, rows in by_zone(z, np.flatnonzero(zs.period_count[z] > 0)):
        spec = zs.zones[zone]
        edges = np.array([start if entering else end for start, end in spec.active], np.float64)
        a, b = t_a[rows, None], t_b[rows, None]
        between = (a < edges) & (edges <= b)
        first = np.where(between, edges, np.inf).min(axis=1)
        ok = np.isfinite(first) & (t_b[rows] > t_a[rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rows] = np.where(ok, (first - t_a[rows]) / (t_b[rows] - t_a[rows]), np.nan)
    return out
