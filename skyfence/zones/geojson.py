"""Load and validate zone files (GeoJSON FeatureCollection, one Feature per zone).

A zone file is either accepted whole or rejected whole: a monitor running on half a zone set would
silently miss incursions, so every problem is collected and reported with the feature it is in.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from skyfence.settings import MAX_LOOKAHEAD_S
from skyfence.zones.countries import default_table
from skyfence.zones.frame import continuous, split_antimeridian
from skyfence.zones.model import Audience, Zone, ZoneError, json_document, parse_altitude
from skyfence.zones.shapes import finite_shape

GEOD = Geod(ellps="WGS84")
NM_M = 1852.0
CIRCLE_VERTICES = 128
MAX_FEATURES = 100_000
MAX_VERTICES = 5_000_000
MAX_FILE_BYTES = 512 * 1024 * 1024  # 5 M vertices as GeoJSON text is ~200 MB
SEVERITIES = ("info", "warning", "critical")

_KNOWN_PROPERTIES = {
    "id",
    "name",
    "floor",
    "ceiling",
    "active",
    "applies_to",
    "exempt",
    "lookahead_s",
    "buffer_m",
    "severity",
    "radius_m",
    "radius_nm",
}


@dataclass
class _Problems:
    """Collects every problem of a file so that one run reports them all."""

    source: str
    items: list[str]

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.source}: {where}: {message}")


def geodesic_circle(lon: float, lat: float, radius_m: float, n: int = CIRCLE_VERTICES) -> Polygon:
    """A circle as the polygon of points at `radius_m` along geodesics, not a circle in degrees."""
    azimuths = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), azimuths, np.full(n, radius_m))
    ring = np.column_stack([lons, lats])
    return Polygon(np.vstack([ring, ring[:1]]))


def parse_time(value: Any) -> float:
    """ISO 8601 to UNIX seconds; a time without offset is UTC, as everywhere in skyfence."""
    if not isinstance(value, str):
        raise ValueError(f"time {value!r} is not an ISO 8601 string")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {value!r} is not ISO 8601 (e.g. 2022-02-24T00:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def load_zones(source: str | Path) -> list[Zone]:
    """Zones from a file path, or from a bundled set by name (e.g. "ukraine")."""
    from skyfence.zones.bundled import bundled_names, bundled_path

    path = bundled_path(str(source)) or Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ZoneError(f"{path}: {size:,} bytes, more than the limit {MAX_FILE_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        bundled = ", ".join(bundled_names())
        raise ZoneError(
            f"{source}: cannot read zone file: {exc.strerror or exc} "
            f"(and it is not a bundled zone set: {bundled})"
        ) from None
    except UnicodeDecodeError as exc:
        raise ZoneError(f"{path}: not UTF-8 text (byte {exc.start}): not a GeoJSON file") from None
    document = json_document(text, str(path))
    return zones_from_geojson(document, str(path))


def zones_from_geojson(document: Any, source: str = "<geojson>") -> list[Zone]:
    problems = _Problems(source, [])
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ZoneError(f"{source}: a zone file is a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise ZoneError(f"{source}: 'features' must be a list")
    if not features:
        raise ZoneError(f"{source}: no zones (the FeatureCollection has no features)")
    if len(features) > MAX_FEATURES:
        raise ZoneError(f"{source}: {len(features)} features, more than the limit {MAX_FEATURES}")
    zones: list[Zone] = []
    seen: dict[str, int] = {}
    vertices = 0
    for index, feature in enumerate(features):
        zone_id = _peek_id(feature)
        if zone_id is not None:
            if zone_id in seen:
                where = f"feature {index} (id {zone_id!r})"
                problems.add(where, f"duplicate id, first used by feature {seen[zone_id]}")
            seen.setdefault(zone_id, index)
        zone = _zone_from_feature(feature, index, problems)
        if zone is None:
            continue
        vertices += int(shapely.get_num_coordinates(zone.geometry))
        zones.append(zone)
    if vertices > MAX_VERTICES:
        problems.add("file", f"{vertices} vertices, more than the limit {MAX_VERTICES}")
    if problems.items:
        raise ZoneError(
            f"{source}: {len(problems.items)} problem(s), no zone loaded:\n"
            + "\n".join(problems.items)
        )
    return zones


def _peek_id(feature: Any) -> str | None:
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        return None
    value = feature["properties"].get("id", feature.get("id"))
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _zone_from_feature(feature: Any, index: int, problems: _Problems) -> Zone | None:
    where = f"feature {index}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.add(where, "not a GeoJSON Feature")
        return None
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        problems.add(where, "properties must be an object")
        return None
    zone_id = props.get("id", feature.get("id"))
    if isinstance(zone_id, int | float) and not isinstance(zone_id, bool):
        # refused, not turned into text: 7, 7.0 and "07" would name one zone or three
        problems.add(where, f'id {zone_id!r} is a number: zone ids are strings ("{zone_id}")')
        return None
    if not isinstance(zone_id, str) or zone_id == "":
        problems.add(where, "property 'id' is required (a non-empty string)")
        return None
    zone_id = str(zone_id)
    where = f"feature {index} (id {zone_id!r})"
    before = len(problems.items)

    geometry = _geometry(feature.get("geometry"), props, where, problems)
    floor = ceiling = None
    try:
        floor = parse_altitude(props.get("floor", "SFC"))
    except ValueError as exc:
        problems.add(where, f"floor: {exc}")
    try:
        ceiling = parse_altitude(props.get("ceiling", "UNL"))
    except ValueError as exc:
        problems.add(where, f"ceiling: {exc}")
    if floor is not None and ceiling is not None and floor.ft >= ceiling.ft:
        problems.add(where, f"floor {floor.text} is not below ceiling {ceiling.text}")
    active = _periods(props.get("active"), where, problems)
    applies_to = (
        None
        if props.get("applies_to") is None
        else _audience(props["applies_to"], f"{where} applies_to", problems)
    )
    exempt = _audience(props.get("exempt") or {}, f"{where} exempt", problems)
    lookahead_s = _non_negative(props, "lookahead_s", 120.0, where, problems)
    if lookahead_s > MAX_LOOKAHEAD_S:  # a search of the world at every fix: audit seemed hung
        problems.add(where, f"lookahead_s must be at most {MAX_LOOKAHEAD_S:g}, got {lookahead_s:g}")
        lookahead_s = 120.0
    buffer_m = _non_negative(props, "buffer_m", 0.0, where, problems)
    severity = props.get("severity", "warning")
    if severity not in SEVERITIES:
        problems.add(where, f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    for key in props:
        if key not in _KNOWN_PROPERTIES:
            near = difflib.get_close_matches(key, _KNOWN_PROPERTIES, n=1, cutoff=0.8)
            if near:  # a misspelt limit would silently widen the zone
                problems.add(where, f"unknown property {key!r}: did you mean {near[0]!r}?")
    if len(problems.items) > before or geometry is None or floor is None or ceiling is None:
        return None
    return Zone(
        id=zone_id,
        name=str(props.get("name") or zone_id),
        geometry=geometry,
        floor=floor,
        ceiling=ceiling,
        active=active,
        applies_to=applies_to,
        exempt=exempt,
        lookahead_s=lookahead_s,
        buffer_m=buffer_m,
        severity=str(severity),
        properties={k: v for k, v in props.items() if k not in _KNOWN_PROPERTIES},
    )


def _geometry(
    geometry: Any, props: dict[str, Any], where: str, problems: _Problems
) -> BaseGeometry | None:
    if not isinstance(geometry, dict):
        problems.add(where, "missing geometry")
        return None
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon", "Point"):
        problems.add(where, f"geometry type {kind!r} is not a zone (Polygon, MultiPolygon, Point)")
        return None
    # text first: a quoted first position would make a closed ring look open
    text = _not_numbers(kind, geometry.get("coordinates"))
    if text is not None:
        problems.add(where, text)
        return None
    unclosed = _unclosed_ring(kind, geometry.get("coordinates"))
    if unclosed is not None:
        problems.add(where, unclosed)
        return None
    try:
        geom = finite_shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        problems.add(where, f"malformed {kind} coordinates: {exc}")
        return None
    if geom.is_empty:
        problems.add(where, "empty geometry")
        return None
    bounds = geom.bounds
    if not (bounds[0] >= -180 and bounds[2] <= 180 and bounds[1] >= -90 and bounds[3] <= 90):
        problems.add(where, f"coordinates out of range (lon, lat order?): bounds {bounds}")
        return None
    if kind == "Point":
        radius = _radius(props, where, problems)
        if radius is None:
            return None
        return continuous(geodesic_circle(geom.x, geom.y, radius))
    try:
        geom = continuous(geom)  # across the antimeridian, round a pole: see zones.frame
    except Exception as exc:  # shapely raises several types for rings it cannot build
        problems.add(where, f"invalid geometry: {exc}")
        return None
    if not shapely.is_valid(geom):
        problems.add(where, f"invalid geometry: {shapely.is_valid_reason(geom)}")
        return None
    assert isinstance(geom, Polygon | MultiPolygon)
    return geom


def _unclosed_ring(kind: str, coordinates: Any) -> str | None:
    """Why a ring is not closed, if one is not. Refused rather than closed for the author, as
    shapely would: a ring cut short (a lost last line) would get a straight edge that moves the
    boundary, and no one would know."""
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    if not isinstance(polygons, list):
        return None  # malformed: shapely says how
    for p, rings in enumerate(polygons):
        for r, ring in enumerate(rings if isinstance(rings, list) else []):
            if isinstance(ring, list) and len(ring) >= 2 and ring[0] != ring[-1]:
                which = f"ring {r}" + (f" of polygon {p}" if kind == "MultiPolygon" else "")
                return (
                    f"{which} is not closed: it ends at {ring[-1]}, not at its first position "
                    f"{ring[0]} (GeoJSON rings end where they start)"
                )
    return None


def _not_numbers(kind: str, coordinates: Any) -> str | None:
    """Why a position is not numbers, if one is not. Shapely reads text that looks like a
    number ("0") as that number, and `true` as 1: a file that quotes a coordinate would move its
    zone to wherever the text says, unremarked."""
    if kind == "Point":
        positions: list[Any] = [coordinates]
    else:
        polygons = [coordinates] if kind == "Polygon" else coordinates
        positions = [
            position
            for rings in (polygons if isinstance(polygons, list) else [])
            for ring in (rings if isinstance(rings, list) else [])
            for position in (ring if isinstance(ring, list) else [])
        ]
    for position in positions:
        if not isinstance(position, list):
            continue  # malformed: shapely says how
        for value in position:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                return f"coordinates are JSON numbers: position {position!r} holds {value!r}"
    return None


def _radius(props: dict[str, Any], where: str, problems: _Problems) -> float | None:
    if "radius_m" in props and "radius_nm" in props:
        problems.add(where, "give radius_m or radius_nm, not both")
        return None
    key = "radius_m" if "radius_m" in props else "radius_nm" if "radius_nm" in props else None
    if key is None:
        problems.add(where, "a Point zone needs radius_m or radius_nm")
        return None
    value = props[key]
    if not _is_number(value) or not 0 < value <= 5_000_000 / (NM_M if key == "radius_nm" else 1):
        problems.add(where, f"{key} must be a positive number, got {value!r}")
        return None
    return float(value) * (NM_M if key == "radius_nm" else 1.0)


def _periods(value: Any, where: str, problems: _Problems) -> tuple[tuple[float, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        problems.add(where, "active must be a non-empty list of [start, end|null] periods")
        return ()
    periods = []
    for i, period in enumerate(value):
        if not isinstance(period, list) or len(period) != 2:
            problems.add(where, f"active[{i}] must be [start, end|null], got {period!r}")
            continue
        try:
            start = parse_time(period[0])
            end = math.inf if period[1] is None else parse_time(period[1])
        except ValueError as exc:
            problems.add(where, f"active[{i}]: {exc}")
            continue
        if end <= start:
            problems.add(where, f"active[{i}] ends before it starts: {period!r}")
            continue
        periods.append((start, end))
    return tuple(sorted(periods))


_ISO2 = re.compile(r"^[A-Z]{2}$")
_HEX24 = re.compile(r"^[0-9a-fA-F]{6}$")


def _audience(value: Any, where: str, problems: _Problems) -> Audience:
    if not isinstance(value, dict):
        problems.add(where, "must be an object with countries, icao24, callsigns")
        return Audience()
    unknown = set(value) - {"countries", "icao24", "callsigns"}
    if unknown:
        problems.add(where, f"unknown keys {sorted(unknown)} (use countries, icao24, callsigns)")
    countries, addresses, patterns = set(), set(), []
    for code in _string_list(value, "countries", where, problems):
        if not _ISO2.match(code.upper()):
            problems.add(where, f"country {code!r} is not an ISO 3166 alpha-2 code")
        elif code.upper() not in default_table().names:
            hint = " (the United Kingdom is GB)" if code.upper() == "UK" else ""
            problems.add(where, f"country {code!r} has no ICAO address block{hint}")
        else:
            countries.add(code.upper())
    for address in _string_list(value, "icao24", where, problems):
        if _HEX24.match(address):
            addresses.add(int(address, 16))
        else:
            problems.add(where, f"icao24 {address!r} is not 6 hexadecimal digits")
    for pattern in _string_list(value, "callsigns", where, problems):
        try:
            patterns.append(re.compile(pattern))
        except re.error as exc:
            problems.add(where, f"callsign pattern {pattern!r}: {exc}")
    return Audience(frozenset(countries), frozenset(addresses), tuple(patterns))


def _string_list(value: dict[str, Any], key: str, where: str, problems: _Problems) -> list[str]:
    items = value.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        problems.add(where, f"{key} must be a list of strings")
        return []
    return items


def _non_negative(
    props: dict[str, Any], key: str, default: float, where: str, problems: _Problems
) -> float:
    value = props.get(key, default)
    if not _is_number(value) or value < 0:
        problems.add(where, f"{key} must be a non-negative number, got {value!r}")
        return default
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def zone_to_feature(zone: Zone) -> dict[str, Any]:
    """The native GeoJSON Feature for a zone (circles come back as their polygon)."""
    props: dict[str, Any] = {
        "id": zone.id,
        "name": zone.name,
        "floor": zone.floor.text,
        "ceiling": zone.ceiling.text,
        "lookahead_s": zone.lookahead_s,
        "buffer_m": zone.buffer_m,
        "severity": zone.severity,
    }
    if zone.active:
        props["active"] = [
            [_iso(start), None if math.isinf(end) else _iso(end)] for start, end in zone.active
        ]
    if zone.applies_to is not None:
        props["applies_to"] = zone.applies_to.to_json()
    if not zone.exempt.is_empty:
        props["exempt"] = zone.exempt.to_json()
    props.update(zone.properties)
    return {
        "type": "Feature",
        "properties": props,
        "geometry": shapely.geometry.mapping(split_antimeridian(zone.geometry)),
    }


def zones_to_geojson(zones: list[Zone]) -> dict[str, Any]:
    """A FeatureCollection that `zones_from_geojson` reads back into the same zones (how zones
    travel to worker processes and Spark executors)."""
    return {"type": "FeatureCollection", "features": [zone_to_feature(z) for z in zones]}


def zone_display_feature(zone: Zone) -> dict[str, Any]:
    """The zone as the map and reports show it: the native feature, with the band in feet
    (None for SFC and UNL) so that a viewer need not parse altitude texts."""
    feature = zone_to_feature(zone)
    props = dict(feature["properties"])
    props["floor_ft"] = None if math.isinf(zone.floor.ft) else round(zone.floor.ft)
    props["ceiling_ft"] = None if math.isinf(zone.ceiling.ft) else round(zone.ceiling.ft)
    props["band"] = zone.band_text()
    return {**feature, "properties": props}


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
