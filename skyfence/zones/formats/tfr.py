"""FAA Temporary Flight Restrictions: the XNOTAM-Update XML documents of the FAA's TFR service.

Each TFR area (TFRAreaGroup) becomes a zone: its boundary from `abdMergedArea` (the FAA's own
polygon, arcs already resolved into vertices) or, failing that, a circle given by an Avx of type
CIR; its band from the ALT (above mean sea level), HEI (above ground) or STD (flight level)
limits; its period from the area's schedule or the NOTAM's dateEffective..dateExpire. The TFR
type (91.141 VIP, 99.7 security, 91.137 hazards...) is kept as `tfr_type`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from skyfence.zones.formats import Converted, Problems, collection, feature, local, parse_xml
from skyfence.zones.geojson import parse_time
from skyfence.zones.shapes import NM_M, Point, circle, polygon_from_walk

NAME = "tfr"
_ANGLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([NSEW])\s*$")
_UNIT_M = {"NM": NM_M, "KM": 1000.0, "M": 1.0, "FT": 0.3048}


def sniff(head: str) -> bool:
    return "<XNOTAM-Update" in head


def _find(element: Any, name: str) -> Any:
    for child in element.iter():
        if local(child.tag) == name:
            return child
    return None


def _text(element: Any, name: str) -> str | None:
    found = _find(element, name)
    return None if found is None or found.text is None else found.text.strip()


def _own(elements: list[Any], name: str) -> str | None:
    """A direct child's text, so that a NOTAM's dates are not taken from one of its areas."""
    for element in elements:
        for child in element:
            if local(child.tag) == name and child.text is not None:
                return str(child.text).strip()
    return None


def convert(text: str, source: str) -> Converted:
    root = parse_xml(text, source)
    problems = Problems(source)
    if local(root.tag) != "XNOTAM-Update":
        problems.add("root", f"<{local(root.tag)}> is not an XNOTAM-Update document")
        problems.raise_any()
    skipped: list[str] = []
    features: list[dict[str, Any]] = []
    for group in (g for g in root if local(g.tag) == "Group"):
        for action in group:
            if local(action.tag) != "Add":
                skipped.append(f"<{local(action.tag)}>: only <Add> carries a restriction")
                continue
            for notam in (n for n in action if local(n.tag) == "Not"):
                features += _notam(notam, problems)
    problems.raise_any()
    return Converted(collection(features), skipped)


def _notam(notam: Any, problems: Problems) -> list[dict[str, Any]]:
    name = _text(notam, "txtLocalName") or "?"
    where = f"TFR {name}"
    before = len(problems.items)
    tfr = _find(notam, "TfrNot")
    if tfr is None:
        problems.add(where, "no <TfrNot>: not a TFR")
        return []
    tfr_type = _own([tfr], "codeType")
    start = _utc([notam, tfr], "dateEffective", "codeTimeZone", where, problems)
    end = _utc([notam, tfr], "dateExpire", "codeExpirationTimeZone", where, problems)
    areas = [a for a in tfr if local(a.tag) == "TFRAreaGroup"]
    if not areas:
        problems.add(where, "no TFRAreaGroup")
    out = []
    for index, group in enumerate(areas):
        area_where = f"{where} area {index}"
        area = _find(group, "aseTFRArea")
        if area is None:
            problems.add(area_where, "no aseTFRArea")
            continue
        schedule = [s for s in group.iter() if local(s.tag) == "ScheduleGroup"][:1]
        area_start = _utc(schedule, "dateEffective", "codeTimeZone", area_where, problems)
        area_end = _utc(schedule, "dateExpire", "codeExpirationTimeZone", area_where, problems)
        area_start = start if area_start is None else area_start
        area_end = end if area_end is None else area_end
        floor = _limit(area, "Lower", area_where, problems)
        ceiling = _limit(area, "Upper", area_where, problems)
        geometry = _boundary(group, area_where, problems)
        if len(problems.items) > before or floor is None or ceiling is None or geometry is None:
            continue
        first = -math.inf if area_start is None else area_start
        last = math.inf if area_end is None else area_end
        active = None if math.isinf(first) and math.isinf(last) else [(max(first, 0.0), last)]
        zone_id = f"TFR {name}" + (f" area {index + 1}" if len(areas) > 1 else "")
        out.append(
            feature(
                zone_id,
                f"TFR {name} {_text(area, 'txtName') or ''}".strip(),
                geometry,
                floor,
                ceiling,
                active,
                tfr_type=tfr_type,
                notam=name,
                facility=_own([notam, tfr], "codeFacility"),
                description=_text(notam, "txtDescrUSNS") or _text(notam, "txtDescrTraditional"),
            )
        )
    return out


def _utc(
    elements: list[Any], name: str, zone_name: str, where: str, problems: Problems
) -> float | None:
    value = _own(elements, name)
    if value is None:
        return None
    zone = _own(elements, zone_name)
    if zone not in (None, "UTC", "GMT", "Z"):
        problems.add(where, f"{name} {value} is in time zone {zone!r}, not UTC")
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        problems.add(where, f"{name}: {exc}")
        return None


def _limit(area: Any, which: str, where: str, problems: Problems) -> str | None:
    code = _text(area, f"codeDistVer{which}")
    value = _text(area, f"valDistVer{which}")
    unit = (_text(area, f"uomDistVer{which}") or "FT").upper()
    if code is None or value is None:
        problems.add(where, f"no {which.lower()} limit (codeDistVer{which}, valDistVer{which})")
        return None
    try:
        number = float(value)
    except ValueError:
        problems.add(where, f"valDistVer{which} {value!r} is not a number")
        return None
    if code == "STD" or unit == "FL":
        return f"FL{int(number):03d}"
    if unit not in ("FT", "M"):
        problems.add(where, f"uomDistVer{which} {unit!r} is not FT, M or FL")
        return None
    text = f"{number:g} {unit.lower()}"
    if code == "HEI":  # height above ground
        return "SFC" if number == 0 else f"{text} AGL"
    if code in ("ALT", "W84"):
        return "SFC" if number == 0 and which == "Lower" else text
    problems.add(where, f"codeDistVer{which} {code!r} is not ALT, HEI or STD")
    return None


def _angle(text: str | None, what: str) -> float:
    m = _ANGLE.match(text or "")
    if m is None:
        raise ValueError(f"{what} {text!r} is not like 38.8977N or 077.0365W")
    value = float(m[1])
    return -value if m[2] in "SW" else value


def _point(avx: Any, lat_name: str = "geoLat", lon_name: str = "geoLong") -> Point:
    lat, lon = _angle(_text(avx, lat_name), lat_name), _angle(_text(avx, lon_name), lon_name)
    if abs(lat) > 90 or abs(lon) > 180:
        raise ValueError(f"position {lat}, {lon} out of range")
    return lon, lat


def _boundary(group: Any, where: str, problems: Problems) -> Any:
    try:
        merged = _find(group, "abdMergedArea")
        if merged is not None:
            return polygon_from_walk([_point(a) for a in merged if local(a.tag) == "Avx"])
        for avx in group.iter():
            if local(avx.tag) == "Avx" and _text(avx, "codeType") == "CIR":
                radius = float(_text(avx, "valRadiusArc") or "nan")
                unit = (_text(avx, "uomRadiusArc") or "NM").upper()
                if not (radius > 0 and unit in _UNIT_M):
                    raise ValueError(f"circle radius {radius} {unit} not understood")
                return circle(_point(avx, "geoLatArc", "geoLongArc"), radius * _UNIT_M[unit])
    except ValueError as exc:
        problems.add(where, str(exc))
        return None
    problems.add(where, "no boundary (abdMergedArea or a CIR circle)")
    return None
