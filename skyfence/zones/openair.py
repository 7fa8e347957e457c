"""Import OpenAir airspace text into skyfence's GeoJSON zone format.

OpenAir is how gliding and paragliding pilots share airspace, so it is the quickest way to get real
restricted areas into skyfence. The import is strict: a monitor fed a zone that was silently
misread would miss incursions, so anything not understood stops the import with the line it is on.
Arcs and circles are computed along geodesics on WGS 84, because a circle drawn in degrees is an
ellipse on the ground: at 50 degrees latitude it would misplace a boundary by a third of its radius.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from skyfence.zones.model import ZoneError, parse_altitude
from skyfence.zones.shapes import polygon_from_walk

GEOD = Geod(ellps="WGS84")
NM_M = 1852.0
ARC_STEP_DEG = 2.0  # chords stray 0.015 % of the radius from the arc, below any data's precision

Point = tuple[float, float]  # (lon, lat) degrees, GeoJSON order

_IGNORED_RECORDS = {"AT", "AF", "AG", "AI", "AX", "SP", "SB"}  # labels, radio and pen styles
_IGNORED_VARIABLES = {"Z", "W"}  # label zoom level and airway width (DY is not supported)
_RECORD_RE = re.compile(r"^(?P<key>[A-Za-z]{1,2})(?:\s+(?P<arg>.*))?$")
_ANGLE = r"(\d{1,3})(?::(\d{1,2}(?:\.\d+)?))?(?::(\d{1,2}(?:\.\d+)?))?\s*([NSEW])"
_POINT_RE = re.compile(rf"^\s*{_ANGLE}\s*,?\s*{_ANGLE}\s*$", re.IGNORECASE)
_FL_RE = re.compile(r"^FL\s*(?P<level>\d{1,3})$", re.IGNORECASE)
_HEIGHT_RE = re.compile(
    r"^(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ft|feet|f|'|m|meters|metres)?\s*"
    r"(?P<ref>amsl|msl|alt|agl|gnd|sfc|asfc)?$",
    re.IGNORECASE,
)


def parse_point(text: str) -> Point:
    """Read `52:08:30 N 013:24:00 E` (or `52:08.5N 013:24.0E`) as (lon, lat).

    The result is in GeoJSON order so that no caller has to remember to swap it.
    """
    m = _POINT_RE.match(text)
    if m is None:
        raise ValueError(
            f"coordinate {text.strip()!r} not understood (e.g. 52:08:30 N 013:24:00 E)"
        )
    lat = _angle(m.groups()[:4], text)
    lon = _angle(m.groups()[4:], text)
    if m[4].upper() not in ("N", "S") or m[8].upper() not in ("E", "W"):
        raise ValueError(f"coordinate {text.strip()!r} must be latitude N/S then longitude E/W")
    if abs(lat) > 90 or abs(lon) > 180:
        raise ValueError(f"coordinate {text.strip()!r} is out of range")
    return lon, lat


def _angle(parts: tuple[str | None, ...], text: str) -> float:
    deg, minutes, seconds, hemi = parts
    if seconds is not None and minutes is not None and "." in minutes:
        raise ValueError(f"coordinate {text.strip()!r} has decimal minutes and seconds")
    m, s = float(minutes or 0), float(seconds or 0)
    if m >= 60 or s >= 60:
        raise ValueError(f"coordinate {text.strip()!r} has minutes or seconds of 60 or more")
    value = int(deg or 0) + m / 60 + s / 3600
    return -value if (hemi or "N").upper() in ("S", "W") else value


def normalise_altitude(text: str) -> str:
    """Rewrite OpenAir spellings ("FL65", "1500ft MSL", "GND", "UNLIM") for `parse_altitude`.

    OpenAir files spell the same limit in many ways; the zone file keeps one spelling so that a
    zone reads the same whichever tool produced the OpenAir text. A height of 0 is the surface.
    """
    raw = " ".join(text.split())
    upper = raw.upper()
    if upper in ("GND", "SFC", "SURFACE", "AGL", "ASFC"):
        return "SFC"
    if upper in ("UNL", "UNLIM", "UNLIMITED"):
        return "UNL"
    m = _FL_RE.match(raw)
    if m:
        return f"FL{int(m['level']):03d}"
    m = _HEIGHT_RE.match(raw)
    if m is None:
        raise ValueError(f"altitude {raw!r} not understood (e.g. SFC, FL65, 1500ft MSL, 500ft AGL)")
    value = float(m["value"])
    if value == 0:
        return "SFC"
    number = str(int(value)) if value.is_integer() else str(value)
    unit = "m" if (m["unit"] or "ft").lower().startswith("m") else "ft"
    above_ground = (m["ref"] or "").lower() in ("agl", "gnd", "sfc", "asfc")
    return f"{number} {unit}" + (" AGL" if above_ground else "")


def arc(centre: Point, start_az: float, sweep: float, r_start: float, r_end: float) -> list[Point]:
    """Points along a geodesic arc; the radius moves linearly from `r_start` to `r_end` (metres).

    Published DB arcs often have endpoints a few metres off a common radius; blending the radius
    makes the arc end exactly where the text says instead of jumping there.
    """
    steps = max(1, math.ceil(abs(sweep) / ARC_STEP_DEG))
    points: list[Point] = []
    for i in range(steps + 1):
        f = i / steps
        lon, lat, _ = GEOD.fwd(
            centre[0], centre[1], start_az + sweep * f, r_start + (r_end - r_start) * f
        )
        points.append((float(lon), float(lat)))
    return points


def _sweep(start_az: float, end_az: float, clockwise: bool) -> float:
    return (end_az - start_az) % 360 if clockwise else -((start_az - end_az) % 360)


@dataclass
class _Airspace:
    line: int
    props: dict[str, Any]
    name: str = ""
    points: list[Point] = field(default_factory=list)
    circle: bool = False
    centre: Point | None = None
    clockwise: bool = True


class _Parser:
    """Reads records one line at a time; each airspace is finished when the next AC starts."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.line = 0
        self.zone: _Airspace | None = None
        self.features: list[dict[str, Any]] = []
        self.ids: set[str] = set()

    def error(self, message: str, line: int | None = None) -> ZoneError:
        return ZoneError(f"{self.source}:{line or self.line}: {message}")

    def feed(self, line: int, raw: str) -> None:
        self.line = line
        text = raw.lstrip("\ufeff").split("*", 1)[0].strip()
        if not text:
            return
        m = _RECORD_RE.match(text)
        if m is None:
            raise self.error(f"cannot read {text!r} as an OpenAir record")
        key, arg = m["key"].upper(), (m["arg"] or "").strip()
        if key in _IGNORED_RECORDS:
            return
        if key == "AC":
            self.finish_zone()
            if not arg:
                raise self.error("AC needs an airspace class")
            self.zone = _Airspace(line, {"class": arg})
            return
        zone = self.zone
        if zone is None:
            raise self.error(f"{key} record before the first AC record")
        if key == "AN":
            zone.name = arg
        elif key == "AY":
            zone.props["type"] = arg
        elif key in ("AL", "AH"):
            zone.props["floor" if key == "AL" else "ceiling"] = self.altitude(arg)
        elif key == "AA":
            zone.props.setdefault("activation", []).append(arg)
        elif key == "V":
            self.variable(zone, arg)
        elif key in ("DP", "DA", "DB"):
            if zone.circle:
                raise self.error(f"{key} after DC: a circle is the whole boundary")
            zone.points.extend(self.boundary(zone, key, arg))
        elif key == "DC":
            if zone.circle or zone.points:
                raise self.error("DC must be the only boundary record of an airspace")
            radius = self.number(arg, "DC radius") * NM_M
            zone.points = arc(self.centre(zone, "DC"), 0.0, 360.0, radius, radius)
            zone.circle = True
        else:
            raise self.error(f"unknown or unsupported record {key!r}")

    def altitude(self, arg: str) -> str:
        try:
            text = normalise_altitude(arg)
            parse_altitude(text)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        return text

    def number(self, arg: str, what: str) -> float:
        try:
            value = float(arg)
        except ValueError:
            raise self.error(f"{what} {arg.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise self.error(f"{what} {arg.strip()!r} is not finite")
        return value

    def point(self, arg: str) -> Point:
        try:
            return parse_point(arg)
        except ValueError as exc:
            raise self.error(str(exc)) from None

    def centre(self, zone: _Airspace, key: str) -> Point:
        if zone.centre is None:
            raise self.error(f"{key} needs a centre: no V X= earlier in this airspace")
        return zone.centre

    def variable(self, zone: _Airspace, arg: str) -> None:
        name, _, value = (part.strip() for part in arg.partition("="))
        name = name.upper()
        if name == "X":
            zone.centre = self.point(value)
        elif name == "D" and value in ("+", "-"):
            zone.clockwise = value == "+"
        elif name == "D":
            raise self.error(f"V D= must be + or -, not {value!r}")
        elif name not in _IGNORED_VARIABLES:
            raise self.error(f"unknown variable V {name}=")

    def boundary(self, zone: _Airspace, key: str, arg: str) -> list[Point]:
        if key == "DP":
            return [self.point(arg)]
        centre = self.centre(zone, key)
        parts = arg.split(",")
        if key == "DA":
            if len(parts) != 3:
                raise self.error("DA needs 'radius_nm, start_deg, end_deg'")
            radius = self.number(parts[0], "DA radius") * NM_M
            if radius <= 0:
                raise self.error("DA radius must be positive")
            start, end = (self.number(p, "DA angle") for p in parts[1:])
            return arc(centre, start, _sweep(start, end, zone.clockwise), radius, radius)
        if len(parts) != 2:
            raise self.error("DB needs 'lat lon, lat lon'")
        first, last = self.point(parts[0]), self.point(parts[1])
        az1, _, r1 = GEOD.inv(centre[0], centre[1], first[0], first[1])
        az2, _, r2 = GEOD.inv(centre[0], centre[1], last[0], last[1])
        points = arc(centre, az1, _sweep(az1, az2, zone.clockwise), r1, r2)
        return [first, *points[1:-1], last]

    def finish_zone(self) -> None:
        zone, self.zone = self.zone, None
        if zone is None:
            return
        where = f"airspace {zone.name!r}" if zone.name else "airspace"
        if not zone.name:
            raise self.error("airspace has no AN name", zone.line)
        for key, record in (("floor", "AL"), ("ceiling", "AH")):
            if key not in zone.props:
                raise self.error(f"{where} has no {record} {key}", zone.line)
        floor, ceiling = parse_altitude(zone.props["floor"]), parse_altitude(zone.props["ceiling"])
        if floor.ft >= ceiling.ft:
            raise self.error(
                f"{where}: floor {floor.text} is not below ceiling {ceiling.text}", zone.line
            )
        # Round before validating, so that what is checked is exactly what is written (~1 cm).
        points = [(round(lon, 7), round(lat, 7)) for lon, lat in zone.points]
        ring = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring.pop()
        if len(ring) < 3:
            raise self.error(
                f"{where} has {len(ring)} distinct points, a polygon needs 3", zone.line
            )
        try:  # cut at the antimeridian, closed over a pole: see skyfence.zones.shapes
            shape = polygon_from_walk(ring)
        except ValueError as exc:
            raise self.error(f"{where} is {exc}", zone.line) from None
        self.features.append(self.feature(zone, shape))

    def feature(self, zone: _Airspace, shape: BaseGeometry) -> dict[str, Any]:
        slug = re.sub(r"[^a-z0-9]+", "-", zone.name.lower()).strip("-") or "zone"
        zone_id, n = slug, 1
        while zone_id in self.ids:
            n += 1
            zone_id = f"{slug}-{n}"
        self.ids.add(zone_id)
        props = {"id": zone_id, "name": zone.name, **zone.props}
        props["source"] = f"{self.source}:{zone.line}"
        return {"type": "Feature", "properties": props, "geometry": _geometry_json(shape)}


def _geometry_json(shape: BaseGeometry) -> dict[str, Any]:
    """GeoJSON of a (Multi)Polygon, with lists as the rest of the zone file has."""
    mapped: dict[str, Any] = json.loads(json.dumps(shapely.geometry.mapping(shape)))
    return mapped


def openair_to_geojson(text: str, source: str = "<openair>") -> dict[str, Any]:
    """Convert OpenAir text to a zone FeatureCollection, or raise ZoneError naming the line.

    `source` is only used in messages and in each feature's `source` property, so that a zone in
    the monitor can be traced back to the OpenAir line that defined it.
    """
    parser = _Parser(source)
    for number, raw in enumerate(text.splitlines(), start=1):
        parser.feed(number, raw)
    parser.finish_zone()
    return {"type": "FeatureCollection", "features": parser.features}
