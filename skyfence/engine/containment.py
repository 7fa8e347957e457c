"""Which trusted fixes are in which zones: lateral, vertical, active period and applicability.

Works on (fix, zone) candidate pairs from the grid, so the cost follows the traffic near zones,
not fixes times zones. Exact polygon tests run per zone over arrays (shapely's C loop), only for
fixes in grid cells that straddle a boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from skyfence.arrays import BOOL, F64
from skyfence.engine.grid import IN, TEST
from skyfence.engine.zoneset import ZoneSet
from skyfence.settings import EngineSettings
from skyfence.zones.frame import to_frame
from skyfence.zones.model import Audience


@dataclass(frozen=True, slots=True)
class Fixes:
    """Trusted fixes sorted by (icao24, time); `virtual` marks the carried previous fix."""

    t_s: F64
    lat: F64
    lon: F64
    alt_ft: F64  # pressure altitude, GNSS height when there is none; -inf on the ground
    gs_kt: F64
    track_deg: F64
    vrate_fpm: F64
    icao24: npt.NDArray[np.uint32]
    callsign: npt.NDArray[np.str_]
    country: npt.NDArray[np.str_]
    virtual: BOOL

    def __len__(self) -> int:
        return len(self.t_s)


@dataclass(frozen=True, slots=True)
class PairTable:
    fix: npt.NDArray[np.int64]
    zone: npt.NDArray[np.int32]
    inside: BOOL  # in the zone: laterally, vertically, while active, and it applies
    clear: BOOL  # clearly outside: beyond the exit hysteresis, or not active/applicable
    applies: BOOL

    def take(self, index: npt.NDArray[np.int64]) -> PairTable:
        return PairTable(
            self.fix[index],
            self.zone[index],
            self.inside[index],
            self.clear[index],
            self.applies[index],
        )


def evaluate(zs: ZoneSet, fx: Fixes, settings: EngineSettings) -> PairTable:
    """The (fix, zone) pairs near a boundary or inside: the ones that make zone states."""
    pairs = zs.grid.candidates(fx.lon, fx.lat)
    p, z = pairs.point, pairs.zone
    lon, lat = fx.lon[p], fx.lat[p]
    lateral = pairs.zone_status == IN
    _exact(zs, zs.shapes, z, lon, lat, pairs.zone_status == TEST, lateral)
    in_release = lateral | (pairs.release_status == IN)
    release_test = (pairs.release_status == TEST) & ~lateral
    _exact(zs, zs.release_shapes, z, lon, lat, release_test, in_release)

    alt = fx.alt_ft[p]
    floor, ceiling = zs.floor_ft[z], zs.ceiling_ft[z]
    whole_band = np.isneginf(floor) & np.isposinf(ceiling)
    vertical = ((alt >= floor) & (alt <= ceiling)) | whole_band
    hv = settings.exit_hysteresis_ft
    vertical_clear = ~whole_band & ((alt < floor - hv) | (alt > ceiling + hv))

    active = zs.active_at(z, fx.t_s[p])
    applies = applicability(zs, z, p, fx.icao24, fx.callsign, fx.country)
    inside = lateral & vertical & active & applies
    clear = ~inside & (~in_release | vertical_clear | ~active | ~applies)
    return PairTable(p.astype(np.int64), z, inside, clear, applies)


def lateral_zones(zs: ZoneSet, lon: F64, lat: F64) -> list[list[int]]:
    """For a few fixes (suspect ones), the zones each lies in laterally."""
    pairs = zs.grid.candidates(lon, lat)
    inside = pairs.zone_status == IN
    _exact(
        zs,
        zs.shapes,
        pairs.zone,
        lon[pairs.point],
        lat[pairs.point],
        pairs.zone_status == TEST,
        inside,
    )
    out: list[list[int]] = [[] for _ in range(len(lon))]
    for point, zone in zip(pairs.point[inside], pairs.zone[inside], strict=True):
        out[int(point)].append(int(zone))
    return out


def applicability(
    zs: ZoneSet,
    zone: npt.NDArray[np.int32],
    fix: npt.NDArray[np.int64],
    icao24: npt.NDArray[np.uint32],
    callsign: npt.NDArray[np.str_],
    country: npt.NDArray[np.str_],
) -> BOOL:
    """Whether zone[i] binds the aircraft of row fix[i] of the columns; zones without rules
    bind everyone at no cost (the columns are gathered only for zones with rules)."""
    applies = np.ones(len(zone), bool)
    rule_rows = np.flatnonzero(zs.has_rules[zone])
    for z, rows in by_zone(zone, rule_rows):
        spec = zs.zones[z]
        k = fix[rows]
        if spec.applies_to is not None:
            applies[rows] = _member(spec.applies_to, icao24[k], callsign[k], country[k])
        if not spec.exempt.is_empty:
            applies[rows] &= ~_member(spec.exempt, icao24[k], callsign[k], country[k])
    return applies


def by_zone(
    zone: npt.NDArray[np.int32], rows: npt.NDArray[np.int64]
) -> Iterator[tuple[int, npt.NDArray[np.int64]]]:
    """Rows grouped by zone: one iteration per zone present, never per row."""
    if len(rows) == 0:
        return
    rows = rows[np.argsort(zone[rows], kind="stable")]
    zones, starts = np.unique(zone[rows], return_index=True)
    for z, rows_of_zone in zip(zones, np.split(rows, starts[1:]), strict=True):
        yield int(z), rows_of_zone


def _exact(
    zs: ZoneSet,
    shapes: tuple[shapely.Geometry, ...],
    zone: npt.NDArray[np.int32],
    lon: F64,
    lat: F64,
    mask: BOOL,
    out: BOOL,
) -> None:
    """Exact tests, with each longitude moved into its zone's frame (zones.frame)."""
    for z, rows in by_zone(zone, np.flatnonzero(mask)):
        x = to_frame(lon[rows], float(zs.frame_lon[z])) if zs.wraps[z] else lon[rows]
        out[rows] = shapely.contains_xy(shapes[z], x, lat[rows])


def _member(
    audience: Audience,
    icao24: npt.NDArray[np.uint32],
    callsign: npt.NDArray[np.str_],
    country: npt.NDArray[np.str_],
) -> BOOL:
    hit = np.zeros(len(icao24), bool)
    if audience.countries:
        hit |= np.isin(country, list(audience.countries))
    if audience.icao24:
        hit |= np.isin(icao24, np.fromiter(audience.icao24, np.uint32))
    if audience.callsigns:
        names, inverse = np.unique(callsign.astype(str), return_inverse=True)
        matched = np.array(
            [any(p.search(n) for p in audience.callsigns) for n in names], dtype=bool
        )  # once per distinct callsign
        hit |= matched[inverse]
    return hit
