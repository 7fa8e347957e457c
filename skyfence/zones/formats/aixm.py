"""AIXM 5.1 / 5.1.1 Airspace features: prohibited, restricted and danger areas of an AIP.

The horizontal projection is read from its GML: geodesic strings and line strings, arcs by
centre point (bearings from true north, drawn clockwise when the end angle is greater) and
circles; positions are latitude then longitude, as EPSG:4326 orders them (CRS84 is read as
longitude first). The band keeps its reference: SFC is above ground, MSL above sea level, STD a
flight level. Of an airspace's BASELINE time slices, the one with the highest sequence number
is read, and its validTime is the zone's active period. Activation timesheets are kept as the
property `activation`, and the zone is treated as active whenever valid: a monitor that doubts
errs towards reporting. Airspaces built from others (contributorAirspace) and types that are not
restrictions (FIR, CTA, TMA...) are skipped and listed.
"""

from __future__ import annotations

import math
from typing import Any

from shapely.geometry.base import BaseGeometry

from skyfence.zones.formats import Converted, Problems, collection, feature, local, parse_xml
from skyfence.zones.geojson import parse_time
from skyfence.zones.shapes import NM_M, Point, arc_points, circle, polygon_from_walk

NAME = "aixm"
ZONE_TYPES = {
    "P", "R", "D", "TRA", "TSA", "CTR", "ATZ", "ADIZ", "PROTECT", "D_OTHER", "R_AMC", "D_AMC",
    "AMA", "CBA", "RCA", "TEMPORARY",
}  # fmt: skip
_UNIT_M = {"NM": NM_M, "[NMI_I]": NM_M, "KM": 1000.0, "M": 1.0, "FT": 0.3048, "[FT_I]": 0.3048}


def sniff(head: str) -> bool:
    return "aixm.aero/schema/5.1" in head and "<" in head


def _children(element: Any, name: str) -> list[Any]:
    return [c for c in element if local(c.tag) == name]


def _first(element: Any, name: str) -> Any:
    for child in element.iter():
        if local(child.tag) == name:
            return child
    return None


def _text(element: Any, name: str) -> str | None:
    for child in element:
        if local(child.tag) == name:
            return None if child.text is None else str(child.text).strip()
    return None


def convert(text: str, source: str) -> Converted:
    root = parse_xml(text, source)
    problems = Problems(source)
    skipped: list[str] = []
    features: list[dict[str, Any]] = []
    airspaces = [e for e in root.iter() if local(e.tag) == "Airspace"]
    if not airspaces:
        problems.add("file", "no aixm:Airspace feature")
    for index, airspace in enumerate(airspaces):
        made = _airspace(airspace, index, text, problems, skipped)
        if made is not None:
            features.append(made)
    problems.raise_any()
    return Converted(collection(features), skipped)


def _slice(airspace: Any) -> Any:
    slices = [s for s in airspace.iter() if local(s.tag) == "AirspaceTimeSlice"]
    baseline = [s for s in slices if _text(s, "interpretation") in ("BASELINE", None)]
    return max(baseline or slices, key=lambda s: int(_text(s, "sequenceNumber") or 0), default=None)


def _airspace(
    airspace: Any, index: int, text: str, problems: Problems, skipped: list[str]
) -> dict[str, Any] | None:
    ts = _slice(airspace)
    gml_id = next((v for k, v in airspace.attrib.items() if local(k) == "id"), str(index))
    if ts is None:
        problems.add(f"Airspace {gml_id}", "no AirspaceTimeSlice")
        return None
    kind = _text(ts, "type") or "?"
    designator = _text(ts, "designator") or _text(ts, "name") or gml_id
    where = f"Airspace {designator} ({gml_id})"
    if kind not in ZONE_TYPES:
        skipped.append(f"{where}: type {kind} is not a restriction")
        return None
    volumes = [v for v in ts.iter() if local(v.tag) == "AirspaceVolume"]
    if any(_first(v, "contributorAirspace") is not None for v in volumes) or not volumes:
        skipped.append(f"{where}: no volume of its own (built from other airspaces)")
        return None
    if len(volumes) > 1:
        problems.add(where, f"{len(volumes)} volumes: only one per airspace is supported")
        return None
    volume = volumes[0]
    if _first(volume, "centreline") is not None:
        problems.add(where, "corridor volumes (centreline and width) are not supported")
        return None
    try:
        floor = _limit(volume, "lower")
        ceiling = _limit(volume, "upper")
        geometry = _projection(volume)
        active = _valid(ts)
    except ValueError as exc:
        problems.add(where, str(exc))
        return None
    return feature(
        designator,
        _text(ts, "name") or designator,
        geometry,
        floor,
        ceiling,
        active,
        airspace_type=kind,
        aixm_id=gml_id,
        activation=_activation(ts) or None,
    )


def _limit(volume: Any, which: str) -> str:
    node = next((c for c in volume if local(c.tag) == f"{which}Limit"), None)
    reference = _text(volume, f"{which}LimitReference")
    if node is None or node.text is None:
        if which == "lower":
            raise ValueError("no lowerLimit")
        return "UNL"
    value, uom = node.text.strip().upper(), str(node.attrib.get("uom", "")).upper()
    if value in ("GND", "FLOOR"):
        return "SFC"
    if value in ("UNL", "CEILING"):
        return "UNL"
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{which}Limit {value!r} is not a number, GND or UNL") from None
    if uom == "FL" or (reference == "STD" and uom == "FL"):
        return f"FL{int(number):03d}"
    if uom not in ("FT", "M"):
        raise ValueError(f"{which}Limit unit {uom!r} is not FT, M or FL")
    text = f"{number:g} {uom.lower()}"
    if reference == "SFC":
        return "SFC" if number == 0 else f"{text} AGL"
    if reference in ("MSL", "STD", None, "W84"):  # STD in FT/M: a pressure altitude
        return "SFC" if number == 0 and which == "lower" else text
    raise ValueError(f"{which}LimitReference {reference!r} is not SFC, MSL, STD or W84")


def _valid(ts: Any) -> list[tuple[float, float]] | None:
    period = _first(ts, "validTime")
    begin = _first(period, "beginPosition") if period is not None else None
    end = _first(period, "endPosition") if period is not None else None
    if begin is None or not (begin.text or "").strip():
        return None
    start = parse_time(begin.text.strip())
    stop = math.inf
    if end is not None and (end.text or "").strip():
        stop = parse_time(end.text.strip())
    return [(start, stop)]


def _activation(ts: Any) -> list[str]:
    out = []
    for sheet in (e for e in ts.iter() if local(e.tag) == "Timesheet"):
        parts = [_text(sheet, k) for k in ("day", "startTime", "endTime", "timeReference")]
        out.append(" ".join(p for p in parts if p))
    return out


def _lat_first(element: Any, inherited: bool) -> bool:
    srs = str(element.attrib.get("srsName", ""))
    if "CRS84" in srs:
        return False
    if "4326" in srs:
        return True
    return inherited


def _positions(element: Any, lat_first: bool) -> list[Point]:
    numbers: list[float] = []
    for node in element.iter():
        if local(node.tag) in ("pos", "posList") and node.text:
            try:
                numbers += [float(v) for v in node.text.split()]
            except ValueError:
                raise ValueError(
                    f"coordinates {node.text.strip()[:60]!r} are not numbers"
                ) from None
    if len(numbers) % 2:
        raise ValueError("odd number of coordinates (3D positions are not supported)")
    pairs = list(zip(numbers[::2], numbers[1::2], strict=True))
    points = [(b, a) for a, b in pairs] if lat_first else pairs
    for lon, lat in points:
        if abs(lat) > 90 or abs(lon) > 180:
            raise ValueError(f"position {lat} {lon} out of range (axis order?)")
    return points


def _radius(element: Any) -> float:
    node = next((c for c in element if local(c.tag) == "radius"), None)
    if node is None or node.text is None:
        raise ValueError("arc or circle without radius")
    unit = str(node.attrib.get("uom", "")).upper()
    if unit not in _UNIT_M:
        raise ValueError(f"radius unit {unit!r} not understood")
    value = float(node.text) * _UNIT_M[unit]
    if not 0 < value < 5e6:
        raise ValueError(f"radius {node.text} {unit} must be positive")
    return value


def _angle(element: Any, name: str) -> float:
    node = next((c for c in element if local(c.tag) == name), None)
    if node is None or node.text is None:
        raise ValueError(f"arc without {name}")
    return float(node.text)


def _projection(volume: Any) -> BaseGeometry:
    projection = next((c for c in volume if local(c.tag) == "horizontalProjection"), None)
    if projection is None:
        raise ValueError("no horizontalProjection")
    surface = next(iter(projection), None)
    if surface is None:
        raise ValueError("empty horizontalProjection")
    lat_first = _lat_first(surface, True)
    patches = [p for p in surface.iter() if local(p.tag) in ("PolygonPatch", "Polygon")]
    if len(patches) != 1:
        raise ValueError(f"{len(patches)} polygon patches: one is supported")
    exterior = _first(patches[0], "exterior")
    if exterior is None:
        raise ValueError("polygon patch without exterior")
    if _first(patches[0], "interior") is not None:
        raise ValueError("holes (interior rings) are not supported")
    walk: list[Point] = []
    segments = [
        s
        for s in exterior.iter()
        if local(s.tag)
        in (
            "GeodesicString",
            "LineStringSegment",
            "ArcByCenterPoint",
            "CircleByCenterPoint",
            "LinearRing",
        )
    ]
    if not segments:
        raise ValueError("exterior ring without segments")
    for segment in segments:
        name = local(segment.tag)
        if name == "CircleByCenterPoint":
            if len(segments) > 1:
                raise ValueError("a circle must be the whole boundary")
            return circle(_positions(segment, lat_first)[0], _radius(segment))
        if name == "ArcByCenterPoint":
            centre = _positions(segment, lat_first)
            if len(centre) != 1:
                raise ValueError("ArcByCenterPoint needs exactly one centre position")
            start, end = _angle(segment, "startAngle"), _angle(segment, "endAngle")
            radius = _radius(segment)
            walk += arc_points(centre[0], start, end - start, radius, radius)
        else:
            walk += _positions(segment, lat_first)
    try:
        return polygon_from_walk(walk)
    except ValueError as exc:
        raise ValueError(f"boundary: {exc}") from None
