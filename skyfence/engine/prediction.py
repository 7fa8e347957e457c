"""Look-ahead warnings, like an ATC Area Proximity Warning: will the present path enter a zone?

A trusted fix outside a zone is extrapolated along its track at its ground speed (and vertical
rate) for the zone's look-ahead; the predicted entry is the first moment that path is laterally
inside the zone grown by its buffer_m, inside the band, while the zone is active. Each aircraft
looks ahead once per `prediction_interval_s` (the first fix of each interval), as a radar scan
does; fixes too far from a zone for their look-ahead to reach it are skipped using the grid's
distance bound. Everything is vectorised; boundary crossings come from the edge index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from skyfence.arrays import F64, I64
from skyfence.engine.containment import Fixes, applicability, by_zone
from skyfence.engine.transitions import Walk
from skyfence.engine.zoneset import ZoneSet
from skyfence.settings import EngineSettings
from skyfence.zones.frame import wrap_lon

KT_MS = 1852.0 / 3600.0
M_PER_DEG = 111_320.0
MIN_SPEED_KT = 30.0  # slower than this, a heading says little about where the aircraft goes
# where a descending path ends: a landing rolls out and stops on its runway, it does not go on
# at approach speed. Sea level, so that a runway above it ends the path later, never earlier
# than the touchdown (an unknown terrain must not hide a real approach)
GROUND_FT = 0.0


@dataclass(frozen=True, slots=True)
class Predictions:
    fix: I64
    zone: npt.NDArray[np.int32]
    t_entry_s: F64
    lat: F64
    lon: F64
    alt_ft: F64


def scan_fixes(fx: Fixes, interval_s: float) -> npt.NDArray[np.bool_]:
    """The fixes that look ahead: each aircraft's first in every interval of absolute time,
    so the choice does not depend on how the input was cut into batches."""
    slot = np.floor(fx.t_s / interval_s)
    scan = np.ones(len(fx), bool)
    same = fx.icao24[1:] == fx.icao24[:-1]
    scan[1:] = ~same | (slot[1:] != slot[:-1])
    return scan & ~fx.virtual


def predict(zs: ZoneSet, fx: Fixes, w: Walk, settings: EngineSettings) -> Predictions:
    scan = scan_fixes(fx, settings.prediction_interval_s)
    moving = (
        np.isfinite(fx.gs_kt)
        & np.isfinite(fx.track_deg)
        & (fx.gs_kt >= MIN_SPEED_KT)
        & np.isfinite(fx.alt_ft)  # -inf on the ground: no prediction for taxiing
        & scan
    )
    pt = w.pairs
    near_rows = np.flatnonzero((w.state == 0) & ~pt.inside & pt.applies & moving[pt.fix])
    speed_ms = fx.gs_kt * KT_MS
    scanning = np.flatnonzero(moving)
    far = zs.grid.far_candidates(
        fx.lon[scanning], fx.lat[scanning], speed_ms[scanning] * zs.lookahead_max_s
    )
    far_fix = scanning[far.point]
    far_ok = far.gap_m <= speed_ms[far_fix] * zs.lookahead_s[far.zone]
    fix = np.concatenate([pt.fix[near_rows], far_fix[far_ok]])
    zone = np.concatenate([pt.zone[near_rows], far.zone[far_ok]])
    gap_start = np.concatenate([np.zeros(len(near_rows)), far.gap_m[far_ok]])

    lookahead = zs.lookahead_s[zone]
    reach = speed_ms[fix] * lookahead
    track = np.radians(fx.track_deg[fix])
    lat0, lon0 = fx.lat[fix], fx.lon[fix]
    north, east = reach * np.cos(track), reach * np.sin(track)
    # heading towards the zone at all? distance from its bounding circle's centre to the path
    m_per_lon = M_PER_DEG * np.cos(np.radians(lat0))
    cx = wrap_lon(zs.centre_lon[zone] - lon0) * m_per_lon
    cy = (zs.centre_lat[zone] - lat0) * M_PER_DEG
    along = np.clip((cx * east + cy * north) / np.maximum(reach * reach, 1e-9), 0.0, 1.0)
    miss = np.hypot(cx - along * east, cy - along * north)
    toward = miss <= zs.radius_m[zone]
    fix, zone, lookahead, lat0, lon0 = (a[toward] for a in (fix, zone, lookahead, lat0, lon0))
    north, east, reach, gap_start = north[toward], east[toward], reach[toward], gap_start[toward]
    # a path of length L whose ends are at least a and b from the zone cannot meet it if
    # L < a + b: each of its points is within L of both ends
    lat_end = lat0 + north / M_PER_DEG
    lon_end = lon0 + east / (M_PER_DEG * np.cos(np.radians(lat0)))
    # (a path past a pole is off the grid: kept, the exact test below decides)
    reaches = (reach >= gap_start + zs.grid.gap_m(lon_end, lat_end, zone)) | (np.abs(lat_end) > 90)
    fix, zone, lookahead, lat0, lon0 = (a[reaches] for a in (fix, zone, lookahead, lat0, lon0))
    north, east = north[reaches], east[reaches]
    applies = applicability(zs, zone, fix, fx.icao24, fx.callsign, fx.country)
    fix, zone, lookahead, lat0, lon0 = (a[applies] for a in (fix, zone, lookahead, lat0, lon0))
    north, east = north[applies], east[applies]
    if len(fix) == 0:
        return _none()
    lon0 = zs.in_frame(zone, lon0)  # where the zone's shapes do not wrap (zones.frame)
    lat1 = lat0 + north / M_PER_DEG
    lon1 = lon0 + east / (M_PER_DEG * np.cos(np.radians(lat0)))

    # lateral: the first stretch of the path inside the warning shape
    start_in = np.zeros(len(fix), bool)
    for z, rows in by_zone(zone, np.arange(len(fix))):
        start_in[rows] = shapely.contains_xy(zs.warning_shapes[z], lon0[rows], lat0[rows])
    first, second = zs.warning_edges.crossings(zone, lon0, lat0, lon1, lat1)
    lat_lo = np.where(start_in, 0.0, first)
    lat_hi = np.minimum(np.where(start_in, first, second), 1.0)

    # vertical: the stretch of the path inside the band, at the present vertical rate
    alt0 = fx.alt_ft[fix]
    climb = np.nan_to_num(fx.vrate_fpm[fix]) * lookahead / 60.0  # feet over the whole path
    floor, ceiling = zs.floor_ft[zone], zs.ceiling_ft[zone]
    with np.errstate(divide="ignore", invalid="ignore"):
        at_floor = np.where(
            climb != 0, (floor - alt0) / climb, np.where(alt0 >= floor, -np.inf, np.inf)
        )
        at_ceiling = np.where(
            climb != 0, (ceiling - alt0) / climb, np.where(alt0 <= ceiling, np.inf, -np.inf)
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        touchdown = np.where(climb < 0, (GROUND_FT - alt0) / climb, np.inf)
    lat_hi = np.minimum(lat_hi, np.nan_to_num(touchdown, nan=np.inf))
    v_lo = np.where(climb >= 0, at_floor, at_ceiling)
    v_hi = np.where(climb >= 0, at_ceiling, at_floor)
    v_lo = np.where(
        np.isneginf(floor) & np.isposinf(ceiling), -np.inf, np.nan_to_num(v_lo, nan=-np.inf)
    )
    v_hi = np.where(
        np.isneginf(floor) & np.isposinf(ceiling), np.inf, np.nan_to_num(v_hi, nan=np.inf)
    )

    enter = np.maximum(np.maximum(lat_lo, v_lo), 0.0)
    found = (enter <= np.minimum(lat_hi, v_hi)) & (enter <= 1.0)
    enter = np.where(found, enter, 0.0)
    t_entry = fx.t_s[fix] + enter * lookahead
    found &= zs.active_at(zone, np.where(found, t_entry, fx.t_s[fix]))
    keep = np.flatnonzero(found)
    f = enter[keep]
    return Predictions(
        fix[keep].astype(np.int64),
        zone[keep],
        t_entry[keep],
        lat0[keep] + (lat1[keep] - lat0[keep]) * f,
        wrap_lon(lon0[keep] + (lon1[keep] - lon0[keep]) * f),
        alt0[keep] + climb[keep] * f,
    )


def _none() -> Predictions:
    empty = np.zeros(0)
    return Predictions(np.zeros(0, np.int64), np.zeros(0, np.int32), empty, empty, empty, empty)
