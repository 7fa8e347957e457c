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
    z = np.array(zone, np.int32)
    pa, pb = np.array(a, np.float64).reshape(n, 4), np.array(b, np.float64).reshape(n, 4)
    fractions = {
        "lateral": _lateral(zs, z, pa, pb, entering),
        "vertical": _vertical(zs, z, pa, pb, entering),
        "activation": np.array(
            [_activation(zs, int(zi), ai, bi, entering) for zi, ai, bi in zip(z, a, b, strict=True)]
        ),
    }
    out = []
    for i in range(n):
        known = {k: float(f[i]) for k, f in fractions.items() if np.isfinite(f[i])}
        if not known:
            out.append((b[i], "lateral"))
            continue
        cause = (max if entering else min)(known, key=lambda k: known[k])
        out.append((a[i].toward(b[i], known[cause]), cause))
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


def _activation(zs: ZoneSet, zone: int, a: Point4, b: Point4, entering: bool) -> float:
    spec = zs.zones[zone]
    if not spec.active or b.t_s <= a.t_s:
        return math.nan
    edges = [start if entering else end for start, end in spec.active]
    between = [e for e in edges if a.t_s < e <= b.t_s]
    if not between:
        return math.nan
    return (min(between) - a.t_s) / (b.t_s - a.t_s)
