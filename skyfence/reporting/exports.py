"""Events and tracks as GeoJSON, KML (Google Earth) and CSV: the formats other tools open.

Every function takes the records the store gives (`EventStore.query`, `EventStore.positions`),
so the CLI and the API export exactly what they show; an event's properties are its
`StoredEvent.to_json` with the zone version it refers to.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from skyfence.errors import InputError
from skyfence.reporting.colours import (
    EVENT_COLOUR,
    QUARANTINED_COLOUR,
    TRUSTED_COLOUR,
    ZONE_COLOUR,
)
from skyfence.store.events import EventStore
from skyfence.store.records import StoredEvent
from skyfence.text import csv_cell, escape_controls

FT_TO_M = 0.3048
FORMATS = ("geojson", "kml", "csv")
_SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".csv": "csv"}
KML_NS = "http://www.opengis.net/kml/2.2"

Record = dict[str, Any]


def export_format(path: Path) -> str:
    """The format a file name asks for."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown export type (use .geojson, .kml or .csv)")
    return fmt


def events_geojson(events: Sequence[StoredEvent]) -> dict[str, Any]:
    return _collection(
        [_point(e.lon, e.lat, _properties(e), e.altitude_ft, feature_id=e.id) for e in events]
    )


def _properties(event: StoredEvent) -> Record:
    return event.to_json(zone_version=True)


def track_geojson(positions: Sequence[Record]) -> dict[str, Any]:
    """The trusted fixes as one line; each quarantined fix as a point, with its reason: a
    spoofed position must never look like part of the flown path."""
    trusted = [p for p in positions if p["trusted"]]
    features = []
    if len(trusted) >= 2:
        pieces = _split_at_antimeridian(
            [_coordinates(p["lon"], p["lat"], p["altitude_ft"]) for p in trusted]
        )
        props = {
            "icao24": trusted[0]["icao24"],
            "callsign": next((p["callsign"] for p in trusted if p["callsign"]), ""),
            "start": trusted[0]["time"],
            "end": trusted[-1]["time"],
            "fixes": len(trusted),
        }
        geometry: dict[str, Any] = (
            {"type": "LineString", "coordinates": pieces[0]}
            if len(pieces) == 1
            else {"type": "MultiLineString", "coordinates": pieces}
        )
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    for p in positions:
        if not p["trusted"]:
            features.append(_point(p["lon"], p["lat"], p, p["altitude_ft"]))
    return _collection(features)


def events_csv(events: Sequence[StoredEvent]) -> str:
    columns = ["id", "kind", "zone_id", "zone_version", "icao24", "callsign", "country", "time"]
    columns += ["lat", "lon"]
    columns += ["altitude_ft", "details"]
    rows = [{**_properties(e), "details": json.dumps(e.details, sort_keys=True)} for e in events]
    return _csv(columns, rows)


def track_csv(positions: Sequence[Record]) -> str:
    columns = ["icao24", "time", "callsign", "lat", "lon", "altitude_ft", "gs_kt", "track_deg"]
    return _csv([*columns, "trusted", "reason"], positions)


def event_zones(store: EventStore, events: Sequence[StoredEvent]) -> list[Record]:
    """The zones the events are about, each as it was then (once per zone version)."""
    found: dict[tuple[str, int | None], Record] = {}
    for e in events:
        if (e.zone_id, e.zone_version) not in found:
            zone = store.event_zone(e.id)
            if zone is not None:
                found[(e.zone_id, e.zone_version)] = zone
    return list(found.values())


def events_kml(
    events: Sequence[StoredEvent], name: str = "skyfence events", zones: Sequence[Record] = ()
) -> str:
    document = _document(name, zones)
    for e in events:
        placemark = ET.SubElement(document, "Placemark")
        ET.SubElement(placemark, "styleUrl").text = "#event"
        ET.SubElement(placemark, "name").text = f"{e.kind} {e.callsign or e.icao24}"
        ET.SubElement(placemark, "description").text = (
            f"{e.time_iso}: {e.kind} of {e.callsign or '-'} ({e.icao24}, "
            f"{e.country or '?'}) in zone {e.zone_id}"
            + (f" (version {e.zone_version})" if e.zone_version is not None else "")
        )
        when = ET.SubElement(placemark, "TimeStamp")
        ET.SubElement(when, "when").text = e.time_iso
        _kml_point(placemark, e.lon, e.lat, e.altitude_ft)
    return _kml(document)


def track_kml(positions: Sequence[Record], name: str, zones: Sequence[Record] = ()) -> str:
    document = _document(name, zones)
    trusted = [p for p in positions if p["trusted"]]
    if len(trusted) >= 2:
        placemark = ET.SubElement(document, "Placemark")
        ET.SubElement(placemark, "name").text = f"{name}: trusted fixes"
        ET.SubElement(placemark, "styleUrl").text = "#trusted"
        pieces = _split_at_antimeridian(
            [[p["lon"], p["lat"], (p["altitude_ft"] or 0.0) * FT_TO_M] for p in trusted]
        )
        parent = ET.SubElement(placemark, "MultiGeometry") if len(pieces) > 1 else placemark
        for piece in pieces:
            line = ET.SubElement(parent, "LineString")
            ET.SubElement(line, "altitudeMode").text = "absolute"
            ET.SubElement(line, "coordinates").text = " ".join(
                f"{lon:.6f},{lat:.6f},{alt:.1f}" for lon, lat, alt in piece
            )
    for p in positions:
        if not p["trusted"]:
            placemark = ET.SubElement(document, "Placemark")
            ET.SubElement(placemark, "name").text = f"quarantined: {p['reason']}"
            ET.SubElement(placemark, "styleUrl").text = "#quarantined"
            ET.SubElement(placemark, "description").text = f"{p['time']}: {p['reason']}"
            _kml_point(placemark, p["lon"], p["lat"], p["altitude_ft"])
    return _kml(document)


def render_events(
    fmt: str,
    events: Sequence[StoredEvent],
    name: str = "skyfence events",
    zones: Sequence[Record] = (),
) -> str:
    """The text of an events export. KML also draws `zones` (GeoJSON features, as
    `event_zones` gives them): Google Earth shows the story, not bare points."""
    return _render(
        fmt,
        lambda: events_geojson(events),
        lambda: events_kml(events, name, zones),
        lambda: events_csv(events),
    )


def render_track(
    fmt: str, positions: Sequence[Record], name: str = "skyfence", zones: Sequence[Record] = ()
) -> str:
    """The text of a track export (`EventStore.positions`); KML draws `zones` as above."""
    return _render(
        fmt,
        lambda: track_geojson(positions),
        lambda: track_kml(positions, name, zones),
        lambda: track_csv(positions),
    )


def _render(
    fmt: str,
    geojson: Callable[[], dict[str, Any]],
    kml: Callable[[], str],
    csv_text: Callable[[], str],
) -> str:
    """The export in `fmt`, only that one drawn."""
    if fmt == "geojson":
        return json.dumps(geojson(), allow_nan=False)
    if fmt == "kml":
        return kml()
    if fmt == "csv":
        return csv_text()
    raise InputError(f"unknown export format {fmt!r} (use {', '.join(FORMATS)})")


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _coordinates(lon: float, lat: float, altitude_ft: float | None) -> list[float]:
    return [lon, lat] if altitude_ft is None else [lon, lat, round(altitude_ft * FT_TO_M, 1)]


def _split_at_antimeridian(line: list[list[float]]) -> list[list[list[float]]]:
    """A track as pieces that do not cross ±180 (RFC 7946 §3.1.9): a step of more than 180°
    of longitude is the short way across the line, cut where it meets it."""
    pieces = [[line[0]]]
    for a, b in itertools.pairwise(line):
        step = b[0] - a[0]
        if abs(step) > 180.0:
            edge = 180.0 if step < 0 else -180.0  # leaving by this side, entering by the other
            across = step - 360.0 * round(step / 360.0)  # the short way
            f = (edge - a[0]) / across
            mid = [a[i] + (b[i] - a[i]) * f for i in range(1, len(a))]
            pieces[-1].append([edge, *mid])
            pieces.append([[-edge, *mid]])
        pieces[-1].append(b)
    return pieces


def _point(
    lon: float, lat: float, props: Record, altitude_ft: float | None, feature_id: str | None = None
) -> dict[str, Any]:
    feature: dict[str, Any] = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": _coordinates(lon, lat, altitude_ft)},
        "properties": dict(props),
    }
    if feature_id is not None:
        feature["id"] = feature_id
    return feature


def _csv(columns: list[str], rows: Sequence[Record]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def _document(name: str, zones: Sequence[Record]) -> ET.Element:
    document = ET.Element("Document")
    ET.SubElement(document, "name").text = name
    _styles(document)
    for zone in zones:
        _kml_zone(document, zone)
    return document


def _kml_colour(hex_rgb: str, alpha: int = 255) -> str:
    """KML writes colours as aabbggrr."""
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"{alpha:02x}{b}{g}{r}"


def _styles(document: ET.Element) -> None:
    zone = ET.SubElement(document, "Style", id="zone")
    line = ET.SubElement(zone, "LineStyle")
    ET.SubElement(line, "color").text = _kml_colour(ZONE_COLOUR)
    ET.SubElement(line, "width").text = "2"
    ET.SubElement(ET.SubElement(zone, "PolyStyle"), "color").text = _kml_colour(ZONE_COLOUR, 0x40)
    trusted = ET.SubElement(document, "Style", id="trusted")
    line = ET.SubElement(trusted, "LineStyle")
    ET.SubElement(line, "color").text = _kml_colour(TRUSTED_COLOUR)
    ET.SubElement(line, "width").text = "3"
    for style_id, colour, scale in (
        ("quarantined", QUARANTINED_COLOUR, "0.6"),
        ("event", EVENT_COLOUR, "1.2"),
    ):
        icon = ET.SubElement(ET.SubElement(document, "Style", id=style_id), "IconStyle")
        ET.SubElement(icon, "color").text = _kml_colour(colour)
        ET.SubElement(icon, "scale").text = scale


def _kml_zone(document: ET.Element, zone: Record) -> None:
    """A zone on the ground, named with its band: KML has no floor and ceiling of its own."""
    props = zone["properties"]
    placemark = ET.SubElement(document, "Placemark")
    ET.SubElement(placemark, "name").text = f"{props['id']} ({props.get('band', '')})"
    version = props.get("zone_version")
    ET.SubElement(placemark, "description").text = (
        f"{props.get('name', '')}, {props.get('band', '')}"
        + ("" if version is None else f", version {version}")
    )
    ET.SubElement(placemark, "styleUrl").text = "#zone"
    geometry = zone["geometry"]
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    parent = ET.SubElement(placemark, "MultiGeometry") if len(polygons) > 1 else placemark
    for rings in polygons:
        polygon = ET.SubElement(parent, "Polygon")
        ET.SubElement(polygon, "tessellate").text = "1"
        for n, ring in enumerate(rings):
            side = ET.SubElement(polygon, "outerBoundaryIs" if n == 0 else "innerBoundaryIs")
            ET.SubElement(ET.SubElement(side, "LinearRing"), "coordinates").text = " ".join(
                f"{x:.6f},{y:.6f}" for x, y, *_ in ring
            )


def _kml_coordinates(lon: float, lat: float, altitude_ft: float | None) -> str:
    altitude_m = 0.0 if altitude_ft is None else altitude_ft * FT_TO_M
    return f"{lon:.6f},{lat:.6f},{altitude_m:.1f}"


def _kml_point(placemark: ET.Element, lon: float, lat: float, altitude_ft: float | None) -> None:
    point = ET.SubElement(placemark, "Point")
    ET.SubElement(point, "altitudeMode").text = "absolute"
    ET.SubElement(point, "coordinates").text = _kml_coordinates(lon, lat, altitude_ft)


def _kml(document: ET.Element) -> str:
    """The KML text; every text escaped for XML, which has no representation for most control
    characters (a callsign with one made the whole file unreadable)."""
    for element in document.iter():
        if element.text:
            element.text = escape_controls(element.text)
    root = ET.Element("kml", xmlns=KML_NS)
    root.append(document)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
