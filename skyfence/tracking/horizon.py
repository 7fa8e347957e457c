"""Could this receiver have heard this position? The radio horizon.

1090 MHz travels by line of sight. With standard refraction (the 4/3-earth model) an aircraft
at height h1 and an antenna at height h2 see each other up to sqrt(2kRh1) + sqrt(2kRh2)
(about 4.12 km per square root of a metre each). A position claimed farther from the receiver
that heard it was not transmitted from there: a spoofer or a replay is near the receiver, or
the position is a lie. Refraction is stronger on some days (ducting over sea carries 1090 MHz
hundreds of kilometres), so a position is judged beyond reach only past HORIZON_FACTOR times
the horizon plus HORIZON_MARGIN_M. Heights are pressure altitudes (close enough at this
margin); an unknown altitude is taken as UNKNOWN_ALT_FT (the widest horizon), and positions on
the ground are not judged (surface positions are decoded relative to the receiver anyway).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from skyfence.schema import StateVectors
from skyfence.sources.receiver import Receiver

EARTH_RADIUS_M = 6_371_008.8
K_EARTH = 4.0 / 3.0
HORIZON_FACTOR = 1.2
HORIZON_MARGIN_M = 20_000.0
UNKNOWN_ALT_FT = 50_000.0
FT_M = 0.3048


def horizon_m(alt_ft: npt.ArrayLike, antenna_m: float) -> npt.NDArray[np.float64]:
    """The 4/3-earth radio horizon between an aircraft at `alt_ft` and an antenna."""
    h = np.maximum(np.nan_to_num(np.asarray(alt_ft, np.float64), nan=UNKNOWN_ALT_FT) * FT_M, 0)
    k = 2.0 * K_EARTH * EARTH_RADIUS_M
    return np.asarray(np.sqrt(k * h) + np.sqrt(k * max(antenna_m, 0.0)), np.float64)


def reach_m(alt_ft: npt.ArrayLike, antenna_m: float) -> npt.NDArray[np.float64]:
    """The farthest a position at `alt_ft` may be from the antenna and still be believed."""
    return HORIZON_FACTOR * horizon_m(alt_ft, antenna_m) + HORIZON_MARGIN_M


def ground_distance_m(
    receiver: Receiver, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Great-circle distance from the receiver (haversine: these distances reach 1,000 km)."""
    p1, p2 = np.radians(receiver.lat_deg), np.radians(lat)
    dlon = np.radians(lon - receiver.lon_deg)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1))), np.float64)


def beyond_horizon(sv: StateVectors, receiver: Receiver) -> npt.NDArray[np.bool_]:
    """Rows whose airborne position `receiver`, which heard them, cannot have heard directly."""
    d = ground_distance_m(receiver, sv.lat_deg, sv.lon_deg)
    with np.errstate(invalid="ignore"):
        return np.asarray(~sv.on_ground & (d > reach_m(sv.altitude_ft(), receiver.height_m)))
