"""ED-269 and ED-318 UAS zones on the Swiss samples of the InterUSS monitoring project.

Expected geometry comes from the source's own numbers (read with json here, not with the reader).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyproj import Geod
from shapely.geometry import Point, shape

from skyfence.zones.frame import frame_centre, to_frame
from skyfence.zones.geojson import zone_to_feature
from skyfence.zones.load import import_file, import_text
from skyfence.zones.model import Zone, ZoneError

DATA = Path(__file__).parents[1] / "data"
GEOD = Geod(ellps="WGS84")


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def active(zone: Zone, at: float) -> bool:
    return not zone.active or any(a <= at < b for a, b in zone.active)


def area(zone: Zone) -> float:
    return abs(GEOD.geometry_area_perimeter(zone.geometry)[0])


def ring_area(ring: list[list[float]]) -> float:
    return abs(GEOD.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])[0])


def test_ed269_cis_sample_polygon_permanent_agl_to_unlimited() -> None:
    path = DATA / "che_ed269_cis_sample.json"
    imported = import_file(path)
    assert imported.format == "ed269"
    (zone,) = imported.zones
    source = json.loads(path.read_text())["UASZoneList"][0]["geometry"][0]
    assert area(zone) == pytest.approx(
        ring_area(source["horizontalProjection"]["coordinates"][0]), rel=1e-7
    )
    assert zone.id == "LSXX" and zone.active == ()  # permanent: YES
    assert zone.floor.reference == "SFC" and zone.ceiling.reference == "UNL"  # 0 AGL, null
    assert zone.properties["restriction"] == "REQ_AUTHORISATION" and zone.severity == "warning"
    assert zone.properties["authority"] == ["LSXX City Sample"]


@pytest.fixture(scope="module")
def che1() -> dict[str, Zone]:
    imported = import_file(DATA / "che_ed269_geoawareness_1.json")
    assert imported.format == "ed269"
    return {z.id: z for z in imported.zones}


def test_ed269_circle_with_weekend_evening_schedule(che1: dict[str, Zone]) -> None:
    zone = che1["Montreux Concert Area"]  # Circle center [6.913146, 46.430758] radius 3000 (M)
    assert area(zone) == pytest.approx(math.pi * 3000**2, rel=2e-3)
    centre = (6.913146, 46.430758)
    assert zone.geometry.contains(Point(GEOD.fwd(*centre, 60.0, 2950.0)[:2]))
    assert not zone.geometry.contains(Point(GEOD.fwd(*centre, 60.0, 3050.0)[:2]))
    assert zone.ceiling.ft == pytest.approx(6259 / 0.3048) and zone.ceiling.reference == "AMSL"
    assert zone.severity == "critical"  # PROHIBITED
    # SAT, SUN 17:00:00.00Z-23:59:59.00Z from 2022-06-15T09:00Z; 2022-06-18 is a Saturday
    assert not active(zone, t("2022-06-17T18:00")) and active(zone, t("2022-06-18T18:00"))
    assert active(zone, t("2022-06-19T23:59:30")) and not active(zone, t("2022-06-20T00:00:30"))
    assert not active(zone, t("2022-06-18T16:59")) and not active(zone, t("2023-06-17T18:00"))


def test_ed269_several_volumes_and_agl_floors(che1: dict[str, Zone]) -> None:
    rings = [che1[f"Flugplatz Reichenbach#{i}"] for i in (1, 2, 3)]
    assert [z.floor.text for z in rings] == ["SFC", "50 m AGL", "100 m AGL"]
    assert all(z.ceiling.text == "120 m AGL" for z in rings)
    assert che1["Gantrisch Nature Park#2"].ceiling.text == "250 ft AGL"  # FT dimensions
    assert che1["Lausanne Airport#2"].floor.ft == pytest.approx(30 / 0.3048)
    assert che1["Flugplatz Reichenbach#1"].active == (
        (t("2022-06-15T09:00"), t("2023-06-15T09:00")),
    )


def test_ed318_sample_layers_names_and_areas() -> None:
    path = DATA / "che_ed318_cis_sample.json"
    imported = import_file(path)
    assert imported.format == "ed318"
    zones = {z.id: z for z in imported.zones}
    source = {f["properties"]["identifier"]: f for f in json.loads(path.read_text())["features"]}
    assert set(zones) == set(source) == {"LSZB003", "BLns058", "LSTB002"}
    for zone_id, zone in zones.items():
        assert area(zone) == pytest.approx(
            ring_area(source[zone_id]["geometry"]["coordinates"][0]), rel=1e-7
        )
    bern = zones["LSZB003"]
    assert bern.name == "LSZB Bern-Belp 2"
    assert bern.floor.text == "60 m AGL" and bern.ceiling.text == "99999 m AGL"
    assert bern.properties["reason"] == ["AIR_TRAFFIC"] and bern.properties["authority"] == [
        "Skyguide"
    ]
    assert zones["BLns058"].floor.reference == "SFC"


ED318_CIRCLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [179.99, -16.5],
                "extent": {"subType": "Circle", "radius": 2000},
                "layer": {
                    "upper": 120,
                    "upperReference": "AGL",
                    "lower": 0,
                    "lowerReference": "AGL",
                    "uom": "m",
                },
            },
            "properties": {
                "identifier": "FJ-DATELINE",
                "country": "FJI",
                "name": [{"text": "On the date line", "lang": "en-GB"}],
                "type": "PROHIBITED",
                "limitedApplicability": [
                    {
                        "startDateTime": "2026-03-01T00:00:00Z",
                        "endDateTime": "2026-03-08T00:00:00Z",
                        "schedule": [{"day": ["SUN"], "startTime": "22:00Z", "endTime": "02:00Z"}],
                    }
                ],
            },
        }
    ],
}


def test_ed318_circle_across_the_antimeridian_with_a_night_schedule() -> None:
    (zone,) = import_text(json.dumps(ED318_CIRCLE), "dateline.json").zones
    written = shape(zone_to_feature(zone)["geometry"])  # RFC 7946: cut at the antimeridian
    assert written.geom_type == "MultiPolygon"
    for lon, expected in ((-179.995, True), (179.985, True), (0.0, False)):
        assert written.contains(Point(lon, -16.5)) is expected
        in_frame = to_frame(lon, frame_centre(zone.geometry))  # the engine's view
        assert zone.geometry.contains(Point(in_frame, -16.5)) is expected
    assert area(zone) == pytest.approx(math.pi * 2000**2, rel=2e-3)
    assert zone.ceiling.text == "120 m AGL"
    # 2026-03-01 is a Sunday: 22:00 to Monday 02:00
    assert active(zone, t("2026-03-01T23:00")) and active(zone, t("2026-03-02T01:59"))
    assert not active(zone, t("2026-03-02T02:00")) and not active(zone, t("2026-03-03T23:00"))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("geometry", "layer", "lowerReference"), "QNH", "vertical reference 'QNH'"),
        (("geometry", "layer", "uom"), "yd", "unit 'yd'"),
        (("geometry", "extent", "radius"), -5, "positive radius"),
        (("properties", "type"), "FORBIDDEN", "type 'FORBIDDEN'"),
        (("geometry", "coordinates"), [46.5, 179.99], "out of range"),
    ],
)
def test_ed318_errors_name_the_feature(path: tuple[str, ...], value: object, message: str) -> None:
    document = json.loads(json.dumps(ED318_CIRCLE))
    target = document["features"][0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ZoneError) as raised:
        import_text(json.dumps(document), "bad.json")
    assert "bad.json: feature 0 ('FJ-DATELINE'):" in str(raised.value) and message in str(
        raised.value
    )


def test_ed269_local_times_are_refused() -> None:
    text = (
        (DATA / "che_ed269_geoawareness_1.json").read_text().replace("17:00:00.00Z", "17:00:00.00")
    )
    with pytest.raises(
        ZoneError, match=r"zone 0 \('Montreux Concert Area'\): applicability: .*not a UTC"
    ):
        import_text(text, "local.json")


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_coordinate_that_is_not_finite_is_named_without_a_warning(
    value: float, capfd: pytest.CaptureFixture[str]
) -> None:
    """The real CIS sample with one vertex's longitude NaN or infinite: refused as what it is
    (was "cannot convert float NaN to integer", after shapely's RuntimeWarning on stderr)."""
    document = json.loads((DATA / "che_ed269_cis_sample.json").read_text(encoding="utf-8"))
    ring = document["UASZoneList"][0]["geometry"][0]["horizontalProjection"]["coordinates"][0]
    ring[1][0] = value
    with pytest.raises(ZoneError) as raised:
        import_text(json.dumps(document), "cis.json")
    assert "zone 0 ('LSXX') geometry 0: malformed Polygon: a coordinate is not a finite" in str(
        raised.value
    )
    assert "Warning" not in capfd.readouterr().err
