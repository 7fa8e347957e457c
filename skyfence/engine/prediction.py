"""Look-ahead warnings, like an ATC Area Proximity Warning: will the present path enter a zone?

Each trusted fix outside a zone is extrapolated along its track at its ground speed for the
zone's look-ahead time; if that segment meets the zone (grown by its buffer_m) at an altitude and
time where the zone binds, the fix predicts an entry. Segments are tested per zone over arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from skyfence.engine.containment import Fixes, by_zone
from skyfence.engine.transitions import Walk
from skyfence.engine.zoneset import ZoneSet

KT_MS = 1852.0 / 3600.0
M_PER_DEG = 111_320.0
MIN_SPEED_KT = 30.0  # slower than this, a heading says little about where the aircraft goes


@dataclass(frozen=True, slots=True)
class Predictions:
    row: npt.NDArray[np.int64]  # rows of the walk that predict an entry
    t_entry_s: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    alt_ft: npt.NDArray[np.float64]


def predict(zs: ZoneSet, fx: Fixes, w: Walk) -> Predictions:
    pt = w.pairs
    f = pt.fix
    candidate = np.flatnonzero(
        (w.state == 0)
        & ~fx.virtual[f]
        & ~pt.inside
        & pt.applies
        & np.isfinite(fx.gs_kt[f])
        & np.isfinite(fx.track_deg[f])
        & (fx.gs_kt[f] >= MIN_SPEED_KT)
        & np.isfinite(fx.alt_ft[f])  # -inf on the ground: no prediction for taxiing
    )
    if len(candidate) == 0:
        return _none()
    f = f[candidate]
    lookahead = zs.lookahead_s[pt.zone[candidate]]
    reach_m = fx.gs_kt[f] * KT_MS * lookahead
    track = np.radians(fx.track_deg[f])
    lat0, lon0 = fx.lat[f], fx.lon[f]
    lat1 = lat0 + reach_m * np.cos(track) / M_PER_DEG
    lon1 = lon0 + reach_m * np.sin(track) / (M_PER_DEG * np.cos(np.radians(lat0)))
    # cheap first: does the segment's box meet the zone's box at all?
    box = zs.warning_bounds[pt.zone[candidate]]
    near = (
        (np.maximum(lon0, lon1) >= box[:, 0])
        & (np.minimum(lon0, lon1) <= box[:, 2])
        & (np.maximum(lat0, lat1) >= box[:, 1])
        & (np.minimum(lat0, lat1) <= box[:, 3])
    )
    candidate, f, lookahead = candidate[near], f[near], lookahead[near]
    lat0, lon0, lat1, lon1 = lat0[near], lon0[near], lat1[near], lon1[near]
    coords = np.stack([np.column_stack([lon0, lat0]), np.column_stack([lon1, lat1])], axis=1)
    segments = shapely.linestrings(coords)

    fraction = np.full(len(candidate), np.nan)
    for z, rows in by_zone(pt.zone[candidate], np.arange(len(candidate))):
        shape = zs.warning_shapes[z]
        hit = rows[shapely.intersects(shape, segments[rows])]
        if len(hit) == 0:
            continue
        starts = shapely.points(lon0[hit], lat0[hit])
        entry = shapely.intersection(segments[hit], shape)
        fraction[hit] = shapely.distance(starts, entry) / shapely.length(segments[hit])
    found = np.isfinite(fraction)
    candidate, f, fraction = candidate[found], f[found], fraction[found]
    lookahead = lookahead[found]
    dt = fraction * lookahead
    t_entry = fx.t_s[f] + dt
    alt = fx.alt_ft[f] + np.nan_to_num(fx.vrate_fpm[f]) * dt / 60.0
    zone = pt.zone[candidate]
    in_band = (alt >= zs.floor_ft[zone]) & (alt <= zs.ceiling_ft[zone])
    keep = in_band & zs.active_at(zone, t_entry)
    return Predictions(
        candidate[keep].astype(np.int64),
        t_entry[keep],
        (lat0[found] + (lat1[found] - lat0[found]) * fraction)[keep],
        (lon0[found] + (lon1[found] - lon0[found]) * fraction)[keep],
        alt[keep],
    )


def _none() -> Predictions:
    empty = np.zeros(0)
    return Predictions(np.zeros(0, np.int64), empty, empty, empty, empty)
