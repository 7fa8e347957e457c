"""How far an aircraft can be from where it was: the one distance and the one speed rule.

Both the whole-array check of a batch and the fix-by-fix walk after a failure ask the same
question (is this fix reachable from that one?), so both call these functions and can never
disagree on a borderline fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyfence.arrays import F64
from skyfence.settings import FALLBACK_SPEED_KT, NOISE_M, SPEED_MARGIN_KT, EngineSettings

KT_MS = 1852.0 / 3600.0
EARTH_RADIUS_M = 6_371_008.8


@dataclass(slots=True)
class Fix:
    t_s: float
    lat_deg: float
    lon_deg: float
    gs_kt: float
    t_err_s: float = 0.0  # how much older than t_s the position may be


def distance_m(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> F64:
    """Equirectangular distance: within 0.1 % of the great circle over the few kilometres
    between consecutive fixes, and one cosine per fix instead of haversine's five functions.
    Far jumps come out a little off, but far beyond any speed limit either way. Longitudes
    are differenced the short way round, so crossing the antimeridian is no jump."""
    k = np.pi / 180.0
    a1, o1, a2, o2 = (np.asarray(v, np.float64) for v in (lat1, lon1, lat2, lon2))
    # float32's cosine is vectorised (several times float64's speed) and exact to 1e-7
    dlon = (o2 - o1 + 180.0) % 360.0 - 180.0
    dx = dlon * np.cos(((a1 + a2) * (k / 2)).astype(np.float32))
    dy = a2 - a1
    return np.asarray(EARTH_RADIUS_M * k * np.sqrt(dx * dx + dy * dy), np.float64)


def speed_limit_kt(gs_a: npt.ArrayLike, gs_b: npt.ArrayLike, settings: EngineSettings) -> F64:
    """Fastest plausible mean speed between two fixes, from the speeds reported at both ends."""
    both = np.fmax(np.asarray(gs_a, np.float64), np.asarray(gs_b, np.float64))
    both = np.where(np.isfinite(both), both, FALLBACK_SPEED_KT)
    return np.minimum(both * settings.speed_factor + SPEED_MARGIN_KT, settings.max_speed_kt)


def reach_m(
    gs_a: npt.ArrayLike, gs_b: npt.ArrayLike, span_s: npt.ArrayLike, settings: EngineSettings
) -> F64:
    """How far apart two fixes `span_s` apart may plausibly be: the speed rule."""
    limit_kt = speed_limit_kt(gs_a, gs_b, settings)
    return np.asarray(limit_kt * KT_MS * np.asarray(span_s) + NOISE_M, np.float64)


def longest_span_s(a: Fix, b: Fix) -> float:
    """The longest the interval between two fixes may be: the stamps' difference, plus the
    older position's possible age."""
    return b.t_s - a.t_s + max(a.t_err_s, b.t_err_s)


def fix_distance_m(a: Fix, b: Fix) -> float:
    return float(distance_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg))


def reachable(a: Fix, b: Fix, settings: EngineSettings) -> bool:
    return fix_distance_m(a, b) <= float(reach_m(a.gs_kt, b.gs_kt, longest_span_s(a, b), settings))


def implied_kt(a: Fix, b: Fix) -> float:
    return fix_distance_m(a, b) / max(b.t_s - a.t_s, 1e-3) / KT_MS
