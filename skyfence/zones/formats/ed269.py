"""EUROCAE ED-269 UAS geographical zones (JSON): how EU states published drone geozones first.

A zone (UASZoneVersion) may carry several geometries, each with its own vertical band; each
becomes one skyfence zone (`<identifier>#2`...). Restriction, reason, message and authority are
kept as properties; PROHIBITED zones are critical, NO_RESTRICTION ones only informative. Heights
keep their reference: AGL stays AGL, and WGS84 (above the ellipsoid) is read as AMSL, which in
Europe differs by the geoid's 40-55 m and is kept in `vertical_reference`.
"""

from __future__ import annotations

import math
from typing import Any

from shapely.geometry.base import BaseGeometry

from skyfence.zones.formats import Converted, Problems, collection, feature
from skyfence.zones.model import ZoneError, json_document
from skyfence.zones.schedule import WEEKDAYS, weekly_periods
from skyfence.zones.shapes import circle, finite_shape, polygon_from_walk

NAME = "ed269"
SEVERITY = {
    "PROHIBITED": "critical",
    "REQ_AUTHORISATION": "warning",
    "REQ_AUTHORIZATION": "warning",
    "CONDITIONAL": "warning",
    "NO_RESTRICTION": "info",
}
REFERENCES = ("AGL", "AMSL", "WGS84")


def sniff(head: str) -> bool:
    return '"UASZoneList"' in head or ('"horizontalProjection"' in head and '"features"' in head)


def convert(text: str, source: str) -> Converted:
    document = json_document(text, source)
    zones = (
        document.get("UASZoneList", document.get("features"))
        if isinstance(document, dict)
        else None
    )
    if not isinstance(zones, list):
        raise ZoneError(f"{source}: an ED-269 file has a UASZoneList (or features) list")
    problems = Problems(source)
    features: list[dict[str, Any]] = []
    volumes: dict[str, int] = {}  # an identifier published with several volumes: id#1, id#2...
    for zone in zones:
        if isinstance(zone, dict) and isinstance(zone.get("identifier"), str):
            count = len(zone["geometry"]) if isinstance(zone.get("geometry"), list) else 0
            volumes[zone["identifier"]] = volumes.get(zone["identifier"], 0) + count
    numbered: dict[str, int] = {}
    for index, zone in enumerate(zones):
        where = f"zone {index}"
        if not isinstance(zone, dict) or not isinstance(zone.get("identifier"), str):
            problems.add(where, "not a UASZoneVersion with an identifier")
            continue
        where = f"zone {index} ({zone['identifier']!r})"
        geometries = zone.get("geometry")
        if not isinstance(geometries, list) or not geometries:
            problems.add(where, "geometry must be a non-empty list")
            continue
        active = applicability(zone.get("applicability"), where, problems)
        restriction = zone.get("restriction")
        if restriction not in SEVERITY:
            problems.add(where, f"restriction {restriction!r} is not one of {', '.join(SEVERITY)}")
            continue
        for g_index, volume in enumerate(geometries):
            zone_id = zone["identifier"]
            if volumes[zone_id] > 1:
                numbered[zone_id] = numbered.get(zone_id, 0) + 1
                zone_id = f"{zone_id}#{numbered[zone_id]}"
            made = _volume(volume, f"{where} geometry {g_index}", problems)
            if made is None:
                continue
            geometry, floor, ceiling, refs = made
            features.append(
                feature(
                    zone_id,
                    str(zone.get("name") or zone["identifier"]),
                    geometry,
                    floor,
                    ceiling,
                    active,
                    severity=SEVERITY[restriction],
                    restriction=restriction,
                    zone_type=zone.get("type"),
                    reason=zone.get("reason"),
                    message=zone.get("message") or None,
                    country=zone.get("country"),
                    authority=[
                        a.get("name")
                        for a in zone.get("zoneAuthority") or []
                        if isinstance(a, dict)
                    ]
                    or None,
                    vertical_reference=refs,
                )
            )
    problems.raise_any()
    return Converted(collection(features))


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


def _volume(
    volume: Any, where: str, problems: Problems
) -> tuple[BaseGeometry, str, str, str] | None:
    if not isinstance(volume, dict):
        problems.add(where, "not an object")
        return None
    try:
        floor = limit(
            volume.get("lowerLimit"),
            volume.get("lowerVerticalReference"),
            volume.get("uomDimensions"),
            True,
        )
        ceiling = limit(
            volume.get("upperLimit"),
            volume.get("upperVerticalReference"),
            volume.get("uomDimensions"),
            False,
        )
        geometry = projection(volume.get("horizontalProjection"), volume.get("uomDimensions"))
    except ValueError as exc:
        problems.add(where, str(exc))
        return None
    refs = f"{volume.get('lowerVerticalReference')}/{volume.get('upperVerticalReference')}"
    return geometry, floor, ceiling, refs


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
