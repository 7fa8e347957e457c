from __future__ import annotations

import json
import math
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod

from skyfence.zones.geojson import geodesic_circle, load_zones, zone_to_feature, zones_from_geojson
from skyfence.zones.model import ZoneError, parse_altitude

GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize(
    ("text", "ft", "reference"),
    [
        ("SFC", -math.inf, "SFC"),
        ("GND", -math.inf, "SFC"),
        ("UNL", math.inf, "UNL"),
        ("FL275", 27_500, "FL"),
        ("FL 95", 9_500, "FL"),
        ("5000 ft", 5_000, "AMSL"),
        ("5000ft", 5_000, "AMSL"),
        ("1500 m", 1500 / 0.3048, "AMSL"),
        ("2000 ft AGL", 2_000, "AGL"),
        ("0 ft AGL", -math.inf, "SFC"),
        (3000, 3_000, "AMSL"),
    ],
)
def test_parse_altitude(text: str | int, ft: float, reference: str) -> None:
    limit = parse_altitude(text)
    assert limit.ft == pytest.approx(ft)
    assert limit.reference == reference


@pytest.mark.parametrize("text", ["FL", "5000 furlongs", "high", "", "FL1234", True])
def test_parse_altitude_rejects(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_altitude(text)


def test_bundled_ukraine_zones() -> None:
    zones = load_zones("ukraine")
    assert [z.id for z in zones] == ["UKBV", "UKDV", "UKFV", "UKLV", "UKOV", "ZNPP-30KM"]
    kyiv = zones[0].geometry
    assert kyiv.contains(shapely.Point(30.52, 50.45))  # Kyiv
    assert zones[3].geometry.contains(shapely.Point(24.03, 49.84))  # Lviv
    assert not zones[3].geometry.contains(shapely.Point(21.01, 52.23))  # Warsaw
    for z in zones:
        assert z.floor.text == "SFC" and z.ceiling.text == "UNL"
        assert z.active[0][0] == pytest.approx(1645660800.0)  # 2022-02-24T00:00Z
        assert math.isinf(z.active[0][1])
        assert z.applies_to is None
    # the FIRs tile Ukraine: neighbours share borders but do not overlap
    firs = [z.geometry for z in zones[:5]]
    for i in range(5):
        for j in range(i + 1, 5):
            assert firs[i].intersection(firs[j]).area < 1e-4


def test_circle_is_geodesic() -> None:
    znpp = load_zones("ukraine")[-1]
    lon, lat = 34.5858, 47.5122
    xs, ys = np.asarray(znpp.geometry.exterior.coords).T
    _, _, dist = GEOD.inv(np.full(len(xs), lon), np.full(len(xs), lat), xs, ys)
    assert np.allclose(dist, 30_000, rtol=1e-6)
    # a circle in degrees would be an ellipse on the ground: ours is not
    assert (xs.max() - xs.min()) > 1.4 * (ys.max() - ys.min())
    area = abs(GEOD.geometry_area_perimeter(znpp.geometry)[0])
    assert area == pytest.approx(math.pi * 30_000**2, rel=0.002)


def test_round_trip_through_feature() -> None:
    zones = load_zones("ukraine")
    doc = {"type": "FeatureCollection", "features": [zone_to_feature(z) for z in zones]}
    again = zones_from_geojson(json.loads(json.dumps(doc)))
    assert [z.id for z in again] == [z.id for z in zones]
    assert all(a.geometry.equals_exact(b.geometry, 1e-9) for a, b in zip(zones, again, strict=True))
    assert [z.active for z in again] == [z.active for z in zones]


def _feature(**props: Any) -> dict[str, Any]:
    geometry = props.pop("geometry", None) or {
        "type": "Polygon",
        "coordinates": [[[30, 50], [31, 50], [31, 51], [30, 51], [30, 50]]],
    }
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_every_problem_is_reported_with_its_feature() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    doc = {
        "type": "FeatureCollection",
        "features": [
            _feature(id="A", floor="FL300", ceiling="FL100"),
            _feature(id="B", geometry=bowtie),
            _feature(id="A"),
            _feature(id="C", floor="10 parsecs"),
            _feature(id="D", active=[["2022-03-01T00:00:00Z", "2022-02-01T00:00:00Z"]]),
            _feature(id="E", applies_to={"callsigns": ["AFR[0-"]}),
            _feature(id="F", applies_to={"countries": ["France"]}),
            _feature(id="G", geometry={"type": "Point", "coordinates": [30, 50]}),
            _feature(name="no id"),
            _feature(id="H", geometry={"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
            _feature(id="I", active=[["yesterday", None]]),
            _feature(id="J", lookahead_s=-5),
            _feature(id="K", ceilng="FL100"),
            _feature(id="L", applies_to={"countries": ["UK"]}),
            _feature(id="M", severity="extreme"),
        ],
    }
    with pytest.raises(ZoneError) as info:
        zones_from_geojson(doc, "zones.geojson")
    message = str(info.value)
    expected = [
        "feature 0 (id 'A'): floor FL300 is not below ceiling FL100",
        "feature 1 (id 'B'): invalid geometry: Self-intersection",
        "feature 2 (id 'A'): duplicate id, first used by feature 0",
        "feature 3 (id 'C'): floor: altitude '10 parsecs' not understood",
        "feature 4 (id 'D'): active[0] ends before it starts",
        "feature 5 (id 'E') applies_to: callsign pattern 'AFR[0-'",
        "feature 6 (id 'F') applies_to: country 'France' is not an ISO 3166 alpha-2 code",
        "feature 7 (id 'G'): a Point zone needs radius_m or radius_nm",
        "feature 8: property 'id' is required",
        "feature 9 (id 'H'): geometry type 'LineString' is not a zone",
        "feature 10 (id 'I'): active[0]: time 'yesterday' is not ISO 8601",
        "feature 11 (id 'J'): lookahead_s must be a non-negative number",
        "feature 12 (id 'K'): unknown property 'ceilng': did you mean 'ceiling'?",
        "feature 13 (id 'L') applies_to: country 'UK' has no ICAO address block (the United "
        "Kingdom is GB)",
        "feature 14 (id 'M'): severity 'extreme' is not one of info, warning, critical",
    ]
    for line in expected:
        assert f"zones.geojson: {line}" in message
    assert "15 problem(s), no zone loaded" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_coordinate_that_is_not_finite_is_named_without_a_warning(
    paris_zones_path: Path, value: float, capfd: pytest.CaptureFixture[str]
) -> None:
    """A real zone file with one latitude NaN or infinite: named as such (NaN was "invalid
    geometry: Invalid Coordinate" after shapely's RuntimeWarning on stderr)."""
    document = json.loads(paris_zones_path.read_text(encoding="utf-8"))
    feature = next(f for f in document["features"] if f["geometry"]["type"] == "Polygon")
    feature["geometry"]["coordinates"][0][1][1] = value
    with pytest.raises(ZoneError, match="a coordinate is not a finite number"):
        zones_from_geojson(document, "paris.geojson")
    assert "Warning" not in capfd.readouterr().err


def test_coordinates_given_as_text_are_refused_with_their_feature(paris_zones_path: Path) -> None:
    """A real zone file whose vertex, or circle centre, is written "0" or true: shapely read
    the text as the number, and the zone moved to wherever the text said, unremarked."""
    document = json.loads(paris_zones_path.read_text(encoding="utf-8"))
    k, polygon = next(
        (k, f) for k, f in enumerate(document["features"]) if f["geometry"]["type"] == "Polygon"
    )
    vertex = polygon["geometry"]["coordinates"][0][1]
    vertex[1] = str(vertex[1])
    j, point = next(
        (j, f) for j, f in enumerate(document["features"]) if f["geometry"]["type"] == "Point"
    )
    point["geometry"]["coordinates"][0] = True
    with pytest.raises(ZoneError) as info:
        zones_from_geojson(document, "paris.geojson")
    message = str(info.value)
    for index, feature in ((k, polygon), (j, point)):
        name = feature["properties"]["id"]
        said = f"paris.geojson: feature {index} (id {name!r}): coordinates are JSON numbers"
        assert said in message
    assert f"position {vertex!r} holds {vertex[1]!r}" in message
    assert "holds True" in message and "2 problem(s), no zone loaded" in message


def test_a_first_vertex_given_as_text_is_named_as_text_not_as_an_open_ring(
    paris_zones_path: Path,
) -> None:
    """Text in the first position made the ring look open (["2.4", "48.9"] is not [2.4, 48.9]):
    the author was told to close a ring that is closed."""
    document = json.loads(paris_zones_path.read_text(encoding="utf-8"))
    polygon = next(f for f in document["features"] if f["geometry"]["type"] == "Polygon")
    first = polygon["geometry"]["coordinates"][0][0]
    first[0] = str(first[0])
    with pytest.raises(ZoneError) as info:
        zones_from_geojson(document, "paris.geojson")
    assert f"coordinates are JSON numbers: position {first!r} holds {first[0]!r}" in str(info.value)
    assert "not closed" not in str(info.value)


def test_a_lookahead_beyond_an_hour_is_refused_with_its_feature(paris_zones_path: Path) -> None:
    document = json.loads(paris_zones_path.read_text(encoding="utf-8"))
    document["features"][0]["properties"]["lookahead_s"] = 36_000
    with pytest.raises(ZoneError, match=r"feature 0 \(id '.*'\): lookahead_s must be at most 3600"):
        zones_from_geojson(document, "paris.geojson")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection",\n "features": [\n}')
    with pytest.raises(ZoneError, match=r"broken.geojson: line 3: not valid JSON"):
        load_zones(broken)
    with pytest.raises(ZoneError, match=r"missing\.geojson: cannot read zone file"):
        load_zones(tmp_path / "missing.geojson")
    with pytest.raises(ZoneError, match="a zone file is a GeoJSON FeatureCollection"):
        zones_from_geojson({"type": "Feature"}, "x")
    with pytest.raises(ZoneError, match="no zones"):
        zones_from_geojson({"type": "FeatureCollection", "features": []}, "x")
    with pytest.raises(ZoneError, match="not a bundled zone set: demo, ukraine"):
        load_zones("ukrain")


def test_audience_and_options_are_parsed() -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            _feature(
                id="R",
                name="Rule",
                applies_to={"countries": ["ru", "BY"]},
                exempt={"icao24": ["4BAAC6"], "callsigns": ["^UKR"]},
                lookahead_s=300,
                buffer_m=5000,
                severity="critical",
                note="kept",
            ),
            _feature(id="N", geometry={"type": "Point", "coordinates": [2.35, 48.85]}, radius_nm=5),
        ],
    }
    rule, circle = zones_from_geojson(doc)
    assert rule.applies_to is not None and rule.applies_to.countries == {"RU", "BY"}
    assert rule.exempt.icao24 == {0x4BAAC6}
    assert rule.exempt.callsigns[0].pattern == "^UKR"
    assert (rule.lookahead_s, rule.buffer_m, rule.severity) == (300, 5000, "critical")
    assert rule.properties == {"note": "kept"}
    ring = np.asarray(circle.geometry.exterior.coords)
    _, _, d = GEOD.inv(np.full(len(ring), 2.35), np.full(len(ring), 48.85), ring[:, 0], ring[:, 1])
    assert np.allclose(d, 5 * 1852, rtol=1e-6)
    assert geodesic_circle(0, 0, 1000).is_valid


def test_absurd_zone_files_are_refused_before_they_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skyfence.zones import geojson

    bundled = Path(str(files("skyfence.zones") / "data" / "ukraine.geojson"))
    monkeypatch.setattr(geojson, "MAX_FILE_BYTES", bundled.stat().st_size - 1)
    with pytest.raises(ZoneError, match=r"ukraine.geojson: [\d,]+ bytes, more than the limit"):
        load_zones(bundled)
    monkeypatch.undo()
    monkeypatch.setattr(geojson, "MAX_VERTICES", 1000)
    with pytest.raises(ZoneError, match=r"vertices, more than the limit 1000"):
        load_zones("ukraine")  # the real FIR outlines have thousands of vertices
    monkeypatch.setattr(geojson, "MAX_FEATURES", 5)
    with pytest.raises(ZoneError, match=r"6 features, more than the limit 5"):
        load_zones("ukraine")
    binary = tmp_path / "zones.geojson"
    binary.write_bytes(b"\x1f\x8b\x08\x00garbage\xff\xfe")
    with pytest.raises(ZoneError, match=r"zones.geojson: not UTF-8 text"):
        load_zones(binary)


def test_a_numeric_id_and_an_unclosed_ring_are_refused_with_their_feature() -> None:
    """The bundled Ukraine set, its first zone given the id 7 and the ring of a polygon zone cut
    short (its closing position lost): both refused, not normalised, and named."""
    doc = json.loads(files("skyfence").joinpath("zones/data/ukraine.geojson").read_text())
    first = doc["features"][0]
    first["properties"]["id"] = 7
    k, polygon = next(
        (k, f) for k, f in enumerate(doc["features"]) if k and f["geometry"]["type"] == "Polygon"
    )
    ring = polygon["geometry"]["coordinates"][0]
    del ring[-1]
    zone_id = polygon["properties"]["id"]
    with pytest.raises(ZoneError) as info:
        zones_from_geojson(doc, "ukraine.geojson")
    message = str(info.value)
    assert 'ukraine.geojson: feature 0: id 7 is a number: zone ids are strings ("7")' in message
    assert (
        f"ukraine.geojson: feature {k} (id {zone_id!r}): ring 0 is not closed: it ends at "
        f"{ring[-1]}, not at its first position {ring[0]}" in message
    )
    assert "2 problem(s), no zone loaded" in message
    multi = {"type": "MultiPolygon", "coordinates": [[[*ring, ring[0]]], [ring]]}
    with pytest.raises(ZoneError, match="ring 0 of polygon 1 is not closed"):
        zones_from_geojson(
            {"type": "FeatureCollection", "features": [_feature(id="X", geometry=multi)]}
        )
