"""Where a receiver is: its position decodes lone and surface positions, and its radio horizon
says which positions it can have heard (`skyfence.tracking.horizon`)."""

from __future__ import annotations

from dataclasses import dataclass

from skyfence.errors import InputError

# an antenna's height above sea level when not given: above most receivers' (a roof in a
# lowland city is 30-150 m), so an unknown height never shrinks the horizon below the truth
DEFAULT_HEIGHT_M = 500.0


@dataclass(frozen=True, slots=True)
class Receiver:
    lat_deg: float
    lon_deg: float
    height_m: float = DEFAULT_HEIGHT_M  # antenna above mean sea level

    @property
    def reference(self) -> tuple[float, float]:
        """(lat, lon), as the frame decoders take it."""
        return self.lat_deg, self.lon_deg


def parse_receiver(text: str) -> Receiver:
    """`LAT,LON` or `LAT,LON,HEIGHT_M` (degrees, metres above sea level); ValueError naming
    the text otherwise."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise InputError(
            f"receiver {text!r}: expected LAT,LON or LAT,LON,HEIGHT_M, e.g. 43.63,1.37,150"
        )
    lat, lon = values[0], values[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"receiver {text!r}: latitude or longitude out of range")
    height = values[2] if len(values) == 3 else DEFAULT_HEIGHT_M
    if not -500 <= height <= 9000:
        raise InputError(f"receiver {text!r}: antenna height {height} m is not on Earth")
    return Receiver(lat, lon, height)
