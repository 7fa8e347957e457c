"""What a restricted zone is: a lateral shape, a vertical band, when it is active and whom it binds.

Altitudes are normalised to feet once, when a zone is loaded, so the engine never compares flight
levels with feet. The engine compares every limit with the aircraft's pressure altitude: ADS-B
carries no QNH, so an AMSL limit is approximated by pressure altitude (documented in
docs/reference/zone-files.md).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from shapely.geometry.base import BaseGeometry

from skyfence.errors import SkyfenceError

FT_PER_M = 1 / 0.3048

Reference = Literal["SFC", "AMSL", "AGL", "FL", "UNL"]


class ZoneError(SkyfenceError, ValueError):
    """A zone definition is invalid; the message names the file, feature or line."""


@dataclass(frozen=True, slots=True)
class AltitudeLimit:
    """One end of a vertical band, with the text it came from for display."""

    ft: float  # -inf for SFC, +inf for UNL
    reference: Reference
    text: str


_ALT_RE = re.compile(
    r"^\s*(?P<value>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>ft|feet|f|m|meters|metres)?\s*"
    r"(?P<ref>amsl|msl|agl|gnd|sfc|asfc)?\s*$",
    re.IGNORECASE,
)
_FL_RE = re.compile(r"^\s*FL\s*(?P<level>\d{1,3})\s*$", re.IGNORECASE)


def parse_altitude(text: str | float | int) -> AltitudeLimit:
    """Parse "SFC", "GND", "FL275", "5000 ft", "1500 m", "2000 ft AGL", "UNL".

    A bare number is feet AMSL. Raises ValueError naming the text when it is not understood.
    """
    if isinstance(text, bool):
        raise ValueError(f"altitude {text!r} is not a number or an altitude text")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ValueError(f"altitude {text!r} is not finite")
        return AltitudeLimit(float(text), "AMSL", f"{text:g} ft")
    raw = str(text).strip()
    upper = raw.upper()
    if upper in ("SFC", "GND", "SURFACE", "0 AGL", "0 GND"):
        return AltitudeLimit(-math.inf, "SFC", "SFC")
    if upper in ("UNL", "UNLIM", "UNLIMITED"):
        return AltitudeLimit(math.inf, "UNL", "UNL")
    m = _FL_RE.match(raw)
    if m:
        level = int(m["level"])
        return AltitudeLimit(level * 100.0, "FL", f"FL{level:03d}")
    m = _ALT_RE.match(raw)
    if m:
        value = float(m["value"])
        unit = (m["unit"] or "ft").lower()
        ft = value * FT_PER_M if unit.startswith("m") else value
        ref_text = (m["ref"] or "amsl").lower()
        if ref_text in ("agl", "gnd", "sfc", "asfc"):
            if value == 0:
                return AltitudeLimit(-math.inf, "SFC", "SFC")
            return AltitudeLimit(ft, "AGL", raw)
        return AltitudeLimit(ft, "AMSL", raw)
    raise ValueError(
        f"altitude {raw!r} not understood (use SFC, UNL, FL275, '5000 ft', '1500 m', '500 ft AGL')"
    )


@dataclass(frozen=True, slots=True)
class Audience:
    """A set of aircraft: by state of registry, by address, or by callsign pattern."""

    countries: frozenset[str] = frozenset()  # ISO 3166 alpha-2
    icao24: frozenset[int] = frozenset()
    callsigns: tuple[re.Pattern[str], ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.countries or self.icao24 or self.callsigns)

    def to_json(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if self.countries:
            out["countries"] = sorted(self.countries)
        if self.icao24:
            out["icao24"] = [f"{a:06x}" for a in sorted(self.icao24)]
        if self.callsigns:
            out["callsigns"] = [p.pattern for p in self.callsigns]
        return out


@dataclass(frozen=True, slots=True)
class Zone:
    """A restricted zone. `geometry` is a valid (Multi)Polygon in lon/lat degrees (WGS 84)."""

    id: str
    name: str
    geometry: BaseGeometry
    floor: AltitudeLimit
    ceiling: AltitudeLimit
    active: tuple[tuple[float, float], ...] = ()  # UTC UNIX-second periods; () = always
    applies_to: Audience | None = None  # None = every aircraft
    exempt: Audience = field(default_factory=Audience)
    lookahead_s: float = 120.0
    buffer_m: float = 0.0
    severity: str = "warning"
    properties: dict[str, Any] = field(default_factory=dict)  # anything else the file carried

    @property
    def floor_ft(self) -> float:
        return self.floor.ft

    @property
    def ceiling_ft(self) -> float:
        return self.ceiling.ft

    def band_text(self) -> str:
        return f"{self.floor.text} to {self.ceiling.text}"


def json_document(text: str, source: str) -> Any:
    """The parsed JSON of a zone file, or a ZoneError naming the file: brackets nested deeper
    than Python's recursion limit (a hostile file) are refused like a syntax error, not raised
    as a RecursionError traceback."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZoneError(f"{source}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ZoneError(f"{source}: not a zone file: JSON nested too deeply") from None
