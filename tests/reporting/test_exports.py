"""Exports open in the tools they are for: GeoJSON, KML (Google Earth), CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from shapely.geometry import shape

from skyfence.reporting.exports import event_zones, export_format, render_events, render_track
from skyfence.store.events import EventStore

KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture(scope="module")
def store(demo_store_path: Path) -> EventStore:
    return EventStore(demo_store_path)


def test_events_in_every_format(store: EventStore) -> None:
    records = store.query(limit=100)
    geo = json.loads(render_events("geojson", records))
    assert [f["id"] for f in geo["features"]] == [r.id for r in records]
    assert [f["properties"] for f in geo["features"]] == [
        r.to_json(zone_version=True) for r in records
    ]
    assert all(shape(f["geometry"]).is_valid for f in geo["features"])
    kml = ET.fromstring(render_events("kml", records))
    assert len(kml.findall(f".//{KML}Placemark")) == len(records) == 7
    rows = list(csv.DictReader(io.StringIO(render_events("csv", records))))
    assert [r["id"] for r in rows] == [r.id for r in records]
    assert [r["time"] for r in rows] == [r.time_iso for r in records]
    assert json.loads(rows[0]["details"]) == records[0].details


def test_a_track_keeps_quarantined_fixes_off_the_flown_line(store: EventStore) -> None:
    positions = store.positions("4baac6", 0, 2e9)
    quarantined = sum(not p["trusted"] for p in positions)
    geo = json.loads(render_track("geojson", positions))
    line, *points = geo["features"]
    assert line["geometry"]["type"] == "LineString"
    assert len(line["geometry"]["coordinates"]) == len(positions) - quarantined
    # 740 spoofed fixes (the claimed point in Lviv FIR) and the position that froze when the
    # receiver was jammed over Romania
    assert len(points) == quarantined == 741
    assert {p["properties"]["reason"] for p in points} <= {
        "outside_flight_envelope",
        "impossible_jump",
        "frozen_position",
    }
    kml = ET.fromstring(render_track("kml", positions, "THY9BP"))
    coordinates = kml.find(f".//{KML}LineString/{KML}coordinates")
    assert coordinates is not None and coordinates.text is not None
    lon, lat, alt_m = map(float, coordinates.text.split()[0].split(","))
    assert (round(lon, 4), round(lat, 4)) == (
        round(line["geometry"]["coordinates"][0][0], 4),
        round(line["geometry"]["coordinates"][0][1], 4),
    )
    assert alt_m == pytest.approx(line["geometry"]["coordinates"][0][2], abs=0.1)
    assert len(list(csv.DictReader(io.StringIO(render_track("csv", positions))))) == len(positions)


def test_kml_carries_the_zones_and_the_track_styled(store: EventStore) -> None:
    """Opened in Google Earth, the export tells the story: each zone the events are about (as it
    was then, with its band), the flown line and the quarantined fixes in their own colours."""
    records = store.query(limit=100)
    zones = event_zones(store, records)
    assert {z["properties"]["id"] for z in zones} == {r.zone_id for r in records}
    kml = ET.fromstring(render_events("kml", records, "events", zones))
    styles = {s.get("id") for s in kml.iter(f"{KML}Style")}
    assert styles == {"zone", "trusted", "quarantined", "event"}
    zone_marks = [p for p in kml.iter(f"{KML}Placemark") if p.findtext(f"{KML}styleUrl") == "#zone"]
    names = {p.findtext(f"{KML}name") for p in zone_marks}
    assert "UKLV (SFC to UNL)" in names and len(zone_marks) == len(zones)
    uklv = next(z for z in zones if z["properties"]["id"] == "UKLV")
    ring = next(p for p in zone_marks if p.findtext(f"{KML}name", "").startswith("UKLV"))
    outer = ring.find(f".//{KML}outerBoundaryIs/{KML}LinearRing/{KML}coordinates")
    assert outer is not None and outer.text is not None
    drawn = [tuple(map(float, c.split(","))) for c in outer.text.split()]
    assert (
        shape({"type": "Polygon", "coordinates": [drawn]}).equals_exact(
            shape(uklv["geometry"]), 1e-5
        )
        or shape(uklv["geometry"]).geom_type == "MultiPolygon"
    )
    events = [p for p in kml.iter(f"{KML}Placemark") if p.findtext(f"{KML}styleUrl") == "#event"]
    assert len(events) == len(records)

    track = ET.fromstring(render_track("kml", store.positions("4baac6", 0, 2e9), "t", zones))
    urls = [p.findtext(f"{KML}styleUrl") for p in track.iter(f"{KML}Placemark")]
    assert urls.count("#trusted") == 1 and urls.count("#quarantined") == 741
    assert urls.count("#zone") == len(zones)
    colours = {s.get("id"): s.findtext(f".//{KML}color") for s in track.iter(f"{KML}Style")}
    assert colours["trusted"] == "ffd16f1f" and colours["quarantined"] == "ffd9309b"


def test_the_file_name_picks_the_format() -> None:
    assert [export_format(Path(n)) for n in ("a.geojson", "b.KML", "c.csv")] == [
        "geojson",
        "kml",
        "csv",
    ]
    with pytest.raises(ValueError, match=r"events.xlsx: unknown export type"):
        export_format(Path("events.xlsx"))


def test_a_track_across_the_antimeridian_is_cut_there(store: EventStore) -> None:
    """THY9BP's real track moved to cross ±180: GeoJSON (RFC 7946 §3.1.9) and KML get pieces
    that end on the line, not one line drawn the long way round the world."""
    positions = [p for p in store.positions("4baac6", 0, 2e9) if p["trusted"]]
    middle = positions[len(positions) // 2]["lon"]
    moved = [{**p, "lon": (p["lon"] - middle + 360) % 360 - 180} for p in positions]
    geo = json.loads(render_track("geojson", moved))
    line = geo["features"][0]["geometry"]
    assert line["type"] == "MultiLineString"
    pieces = line["coordinates"]
    assert len(pieces) >= 2
    for piece in pieces:
        lons = [c[0] for c in piece]
        assert max(lons) - min(lons) < 180 and all(-180 <= x <= 180 for x in lons)
    for before, after in itertools.pairwise(pieces):
        assert abs(before[-1][0]) == abs(after[0][0]) == 180
        assert before[-1][1:] == after[0][1:]
    assert sum(len(p) for p in pieces) == len(moved) + 2 * (len(pieces) - 1)
    kml = ET.fromstring(render_track("kml", moved, "THY9BP"))
    lines = kml.findall(f".//{KML}MultiGeometry/{KML}LineString")
    assert len(lines) == len(pieces)


RAW = "=\x1b[2J\x00\u202e"  # as a store written before sources escaped callsigns may hold


def test_raw_control_characters_and_formulas_are_escaped_in_every_export(
    store: EventStore,
) -> None:
    records = [dataclasses.replace(r, callsign=RAW) for r in store.query(limit=100)]
    kml = ET.fromstring(render_events("kml", records))  # valid XML
    names = {n.text for n in kml.iter(f"{KML}name")}
    assert "entry =\\x1b[2J\\x00\\u202e" in names
    rows = list(csv.DictReader(io.StringIO(render_events("csv", records))))
    assert {r["callsign"] for r in rows} == {"'=\\x1b[2J\\x00\\u202e"}
    (first, *_) = json.loads(render_events("geojson", records))["features"]
    assert first["properties"]["callsign"] == RAW  # JSON escapes it by itself, and keeps it whole
    track = [{**p, "callsign": RAW, "reason": "\x1b[1A"} for p in store.positions("4baac6", 0, 2e9)]
    ET.fromstring(render_track("kml", track, "track"))
    assert "'=" in render_track("csv", track)
