"""Exports open in the tools they are for: GeoJSON, KML (Google Earth), CSV."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from shapely.geometry import shape

from skyfence.report.exports import export_format, render
from skyfence.store.events import EventStore

KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture(scope="module")
def store(demo_store_path: Path) -> EventStore:
    return EventStore(demo_store_path)


def test_events_in_every_format(store: EventStore) -> None:
    records = store.query(limit=100)
    geo = json.loads(render("events", "geojson", records))
    assert [f["id"] for f in geo["features"]] == [r["id"] for r in records]
    assert all(shape(f["geometry"]).is_valid for f in geo["features"])
    kml = ET.fromstring(render("events", "kml", records))
    assert len(kml.findall(f".//{KML}Placemark")) == len(records) == 7
    rows = list(csv.DictReader(io.StringIO(render("events", "csv", records))))
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    assert json.loads(rows[0]["details"]) == records[0]["details"]


def test_a_track_keeps_quarantined_fixes_off_the_flown_line(store: EventStore) -> None:
    positions = store.positions("4baac6", 0, 2e9)
    quarantined = sum(not p["trusted"] for p in positions)
    geo = json.loads(render("track", "geojson", positions))
    line, *points = geo["features"]
    assert line["geometry"]["type"] == "LineString"
    assert len(line["geometry"]["coordinates"]) == len(positions) - quarantined
    assert len(points) == quarantined == 741  # the first: the last real position, frozen
    assert {p["properties"]["reason"] for p in points} <= {
        "frozen_position",
        "outside_flight_envelope",
        "impossible_jump",
    }
    kml = ET.fromstring(render("track", "kml", positions, "THY9BP"))
    coordinates = kml.find(f".//{KML}LineString/{KML}coordinates")
    assert coordinates is not None and coordinates.text is not None
    lon, lat, alt_m = map(float, coordinates.text.split()[0].split(","))
    assert (round(lon, 4), round(lat, 4)) == (
        round(line["geometry"]["coordinates"][0][0], 4),
        round(line["geometry"]["coordinates"][0][1], 4),
    )
    assert alt_m == pytest.approx(line["geometry"]["coordinates"][0][2], abs=0.1)
    assert len(list(csv.DictReader(io.StringIO(render("track", "csv", positions))))) == len(
        positions
    )


def test_the_file_name_picks_the_format() -> None:
    assert [export_format(Path(n)) for n in ("a.geojson", "b.KML", "c.csv")] == [
        "geojson",
        "kml",
        "csv",
    ]
    with pytest.raises(ValueError, match=r"events.xlsx: unknown export type"):
        export_format(Path("events.xlsx"))
