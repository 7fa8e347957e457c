"""What EUROCAE ED-269 and its successor ED-318 share: one mapping of a UAS zone's published
properties and vertical band to a skyfence zone, with the two formats' key names as data.

ED-269 (`ed269.py`) nests a zone's volumes in its `geometry` list; ED-318 (`ed318.py`) publishes
each volume as a GeoJSON Feature whose geometry carries its band in `layer`. Past that, a zone
is the same: a restriction (PROHIBITED zones are critical, NO_RESTRICTION ones only
informative), active periods, names and messages (ED-318: lists of {text, lang}, English
preferred), and limits with their references (AGL stays AGL; WGS84, above the ellipsoid, is
read as AMSL, which in Europe differs by the geoid's 40-55 m and is kept in
`vertical_reference`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry

from skyfence.zones.formats import Problems, feature
from skyfence.zones.schedule import WEEKDAYS, weekly_periods
from skyfence.zones.shapes import circle, finite_shape, polygon_from_walk

SEVERITY = {
    "PROHIBITED": "critical",
    "REQ_AUTHORISATION": "warning",
    "REQ_AUTHORIZATION": "warning",
    "CONDITIONAL": "warning",
    "NO_RESTRICTION": "info",
}
REFERENCES = ("AGL", "AMSL", "WGS84")


@dataclass(frozen=True, slots=True)
class Dialect:
    """Where one format keeps each thing: the keys of a zone's properties and of its band."""

    restriction: str
    zone_type: str
    applicability: str
    messages: tuple[str, ...]  # the first one given is the zone's message
    lower: str
    upper: str
    lower_reference: str
    upper_reference: str
    uom: str


ED269 = Dialect(
    restriction="restriction",
    zone_type="type",
    applicability="applicability",
    messages=("message",),
    lower="lowerLimit",
    upper="upperLimit",
    lower_reference="lowerVerticalReference",
    upper_reference="upperVerticalReference",
    uom="uomDimensions",
)
ED318 = Dialect(
    restriction="type",
    zone_type="variant",
    applicability="limitedApplicability",
    messages=("message", "restrictionConditions"),
    lower="lower",
    upper="upper",
    lower_reference="lowerReference",
    upper_reference="upperReference",
    uom="uom",
)


@dataclass(frozen=True, slots=True)
class Zone:
    """A published zone's properties, checked once for all its volumes."""

    properties: dict[str, Any]
    dialect: Dialect
    active: list[tuple[float, float]] | None

    @classmethod
    def read(
        cls, properties: dict[str, Any], dialect: Dialect, where: str, problems: Problems
    ) -> Zone | None:
        """The zone, or None with its problems added (its active periods are checked even
        when its restriction is wrong, so that one run names both)."""
        key = dialect.applicability
        active = applicability(properties.get(key), where, problems, key)
        restriction = properties.get(dialect.restriction)
        if restriction not in SEVERITY:
            problems.add(
                where,
                f"{dialect.restriction} {restriction!r} is not one of {', '.join(SEVERITY)}",
            )
            return None
        return cls(properties, dialect, active)

    def band(self, layer: dict[str, Any]) -> tuple[str, str, str]:
        """Floor, ceiling and their references ("AGL/WGS84") of one volume's layer; raises
        ValueError naming the value."""
        d = self.dialect
        lower_ref, upper_ref = layer.get(d.lower_reference), layer.get(d.upper_reference)
        floor = limit(layer.get(d.lower), lower_ref, layer.get(d.uom), True)
        ceiling = limit(layer.get(d.upper), upper_ref, layer.get(d.uom), False)
        return floor, ceiling, f"{lower_ref}/{upper_ref}"

    def feature(
        self, zone_id: str, name: str, geometry: BaseGeometry, band: tuple[str, str, str]
    ) -> dict[str, Any]:
        """One volume as skyfence's zone Feature; `name` when the zone has none."""
        p, d = self.properties, self.dialect
        floor, ceiling, references = band
        messages = (text(p.get(key)) for key in d.messages)
        return feature(
            zone_id,
            text(p.get("name")) or name,
            geometry,
            floor,
            ceiling,
            self.active,
            severity=SEVERITY[p[d.restriction]],
            restriction=p[d.restriction],
            zone_type=p.get(d.zone_type),
            reason=p.get("reason"),
            message=next((m for m in messages if m), None),
            country=p.get("country"),
            authority=[
                text(a.get("name")) for a in p.get("zoneAuthority") or [] if isinstance(a, dict)
            ]
            or None,
            vertical_reference=references,
        )


def text(value: Any) -> str | None:
    """A name or message: a string, or (ED-318) a list of {text, lang}, English preferred."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [v for v in value if isinstance(v, dict) and isinstance(v.get("text"), str)]
        english = [str(v["text"]) for v in texts if str(v.get("lang", "")).startswith("en")]
        chosen = english or [str(v["text"]) for v in texts]
        return chosen[0] if chosen else None
    return None


def limit(value: Any, reference: Any, uom: Any, lower: bool) -> str:
    """One ED-269/ED-318 vertical limit as skyfence text; raises ValueError naming the value."""
    if value is None:
        if lower:
            raise ValueError("lower limit is missing")
        return "UNL"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"limit {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"limit {value!r} is not finite")
    if reference not in REFERENCES:
        raise ValueError(f"vertical reference {reference!r} is not one of {', '.join(REFERENCES)}")
    unit = {"M": "m", "FT": "ft"}.get(str(uom).upper())
    if unit is None:
        raise ValueError(f"unit {uom!r} is not M or FT")
    if number == 0 and (reference == "AGL" or lower):
        return "SFC"
    text = f"{number:g} {unit}"
    return f"{text} AGL" if reference == "AGL" else text


def projection(value: Any, uom: Any = "M") -> BaseGeometry:
    """A horizontal projection: GeoJSON Polygon/MultiPolygon, or Circle {center, radius}."""
    if not isinstance(value, dict):
        raise ValueError("horizontalProjection is missing")
    kind = value.get("type")
    if kind == "Circle":
        centre, radius = value.get("center"), value.get("radius")
        if (
            not isinstance(centre, list)
            or len(centre) != 2
            or not all(isinstance(c, int | float) for c in centre)
            or not isinstance(radius, int | float)
            or not 0 < radius < 5e6
        ):
            raise ValueError(f"Circle needs center [lon, lat] and a positive radius: {value!r}")
        if not (-180 <= centre[0] <= 180 and -90 <= centre[1] <= 90):
            raise ValueError(f"Circle center {centre} out of range (lon, lat order?)")
        factor = 0.3048 if str(uom).upper() == "FT" else 1.0
        return circle((float(centre[0]), float(centre[1])), float(radius) * factor)
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(
            f"horizontalProjection type {kind!r} is not Polygon, MultiPolygon or Circle"
        )
    try:
        geom = finite_shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ValueError(f"malformed {kind}: {exc}") from None
    parts = getattr(geom, "geoms", [geom])
    if any(len(p.interiors) for p in parts):
        return geom  # holes: kept as published, checked by the zone validation
    from shapely.ops import unary_union

    pieces = [polygon_from_walk(list(p.exterior.coords)) for p in parts]
    return pieces[0] if len(pieces) == 1 else unary_union(pieces)


def _utc(text: Any, what: str) -> float:
    from skyfence.zones.geojson import parse_time

    if not isinstance(text, str) or not (text.endswith("Z") or text.endswith("+00:00")):
        raise ValueError(f"{what} {text!r} is not a UTC time (…Z)")
    return parse_time(text)


def _clock(text: Any, what: str) -> int:
    if not isinstance(text, str) or len(text) < 5 or text[2] != ":":
        raise ValueError(f"{what} {text!r} is not hh:mm")
    if not text.endswith("Z") and len(text) > 5:
        raise ValueError(f"{what} {text!r} is not a UTC time (…Z)")
    minutes = int(text[:2]) * 60 + int(text[3:5])
    if len(text) >= 8 and text[5] == ":" and text[6:8] == "59" and text[3:5] == "59":
        minutes += 1  # 23:59:59 ends the day
    return minutes


def applicability(
    value: Any, where: str, problems: Problems, key: str = "applicability"
) -> list[tuple[float, float]] | None:
    """Active periods, None for permanent. Schedules ("day", "startTime", "endTime") repeat
    weekly between startDateTime and endDateTime."""
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        problems.add(where, f"{key} must be a list")
        return None
    periods: list[tuple[float, float]] = []
    try:
        for item in value:
            if not isinstance(item, dict):
                raise ValueError(f"{key} item {item!r} is not an object")
            if item.get("permanent") == "YES":
                return None
            start = _utc(item.get("startDateTime"), "startDateTime")
            end = (
                math.inf
                if item.get("endDateTime") is None
                else _utc(item.get("endDateTime"), "endDateTime")
            )
            rules = []
            for entry in item.get("schedule") or item.get("dailyPeriod") or []:
                if not isinstance(entry, dict):
                    raise ValueError(f"schedule entry {entry!r} is not an object")
                if (
                    entry.get("startTime") is None
                    and entry.get("endTime") is None
                    and not entry.get("day")
                ):
                    continue
                days = entry.get("day") or ["ANY"]
                unknown = [d for d in days if d not in (*WEEKDAYS, "ANY")]
                if unknown:
                    raise ValueError(f"day {unknown} is not MON..SUN or ANY")
                weekdays = (
                    frozenset() if "ANY" in days else frozenset(WEEKDAYS.index(d) for d in days)
                )
                rules.append(
                    (
                        weekdays,
                        _clock(entry.get("startTime"), "startTime"),
                        _clock(entry.get("endTime"), "endTime"),
                    )
                )
            periods += weekly_periods(rules, start, end) if rules else [(start, end)]
    except ValueError as exc:
        problems.add(where, f"{key}: {exc}")
        return None
    return sorted(periods)
