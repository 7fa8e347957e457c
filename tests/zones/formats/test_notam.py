"""ICAO NOTAMs: published texts, and hand-written edge cases checked against hand geometry.

Geometry is checked independently of the reader: areas from the published coordinates (degrees,
minutes and seconds turned into degrees here by hand) with pyproj, points placed with
Geod.fwd, periods from the B)/C)/D) items read by eye.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod
from shapely.geometry import Point, shape

from skyfence.zones.formats import notam
from skyfence.zones.frame import frame_centre, to_frame
from skyfence.zones.geojson import zone_to_feature, zones_from_geojson
from skyfence.zones.load import import_file, import_text
from skyfence.zones.model import Zone, ZoneError

DATA = Path(__file__).parents[1] / "data"
GEOD = Geod(ellps="WGS84")
NM = 1852.0


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def active(zone: Zone, at: float) -> bool:
    return not zone.active or any(a <= at < b for a, b in zone.active)


@pytest.fixture(scope="module")
def published() -> dict[str, Zone]:
    imported = import_file(DATA / "notams_published.txt")
    assert imported.format == "notam"
    assert imported.skipped == [
        "line 20 (NOTAM A1240/26): QMRLC is not a restriction"
    ]  # a runway closure is counted and listed, not an error
    return {z.id: z for z in imported.zones}


@pytest.fixture(scope="module")
def edge() -> tuple[dict[str, Zone], list[str], dict[str, Any]]:
    imported = import_file(DATA / "notams_edge_cases.txt")
    features = {f["properties"]["id"]: f["properties"] for f in imported.document["features"]}
    return {z.id: z for z in imported.zones}, imported.skipped, features


def test_published_polygon_comes_from_e_not_from_the_q_line(published: dict[str, Zone]) -> None:
    zone = published["A4703/26"]
    # E) N230636E1162812-N234042E1174425-N233012E1174957-N225820E1163232
    lats = [
        23 + 6 / 60 + 36 / 3600,
        23 + 40 / 60 + 42 / 3600,
        23 + 30 / 60 + 12 / 3600,
        22 + 58 / 60 + 20 / 3600,
    ]
    lons = [
        116 + 28 / 60 + 12 / 3600,
        117 + 44 / 60 + 25 / 3600,
        117 + 49 / 60 + 57 / 3600,
        116 + 32 / 60 + 32 / 3600,
    ]
    expected, _ = GEOD.polygon_area_perimeter(lons, lats)
    area = abs(GEOD.geometry_area_perimeter(zone.geometry)[0])
    assert area == pytest.approx(abs(expected), rel=1e-6)
    assert zone.geometry.contains(Point(sum(lons) / 4, sum(lats) / 4))
    # the Q-line centre 2536N11651E is 2.3 degrees north of the area it announces
    assert not zone.geometry.contains(Point(116 + 51 / 60, 25 + 36 / 60))
    assert math.isinf(zone.floor.ft) and zone.floor.reference == "SFC"
    assert zone.ceiling.reference == "UNL"
    assert zone.active == ((t("2026-09-17T23:30"), t("2026-09-18T03:30")),)
    assert zone.properties["q_code"] == "QRTCA" and zone.properties["geometry_from"] == "E"


def test_published_circle_radius_in_km_and_limit_in_metres(published: dict[str, Zone]) -> None:
    zone = published["Q1233/25"]  # RADIUS 5KM CENTRE 612800N0401500E, G)150M AMSL
    centre = (40 + 15 / 60, 61 + 28 / 60)
    assert abs(GEOD.geometry_area_perimeter(zone.geometry)[0]) == pytest.approx(
        math.pi * 5000**2, rel=2e-3
    )
    for azimuth in (0.0, 135.0, 250.0):
        inside = GEOD.fwd(*centre, azimuth, 4900.0)[:2]
        outside = GEOD.fwd(*centre, azimuth, 5100.0)[:2]
        assert zone.geometry.contains(Point(inside)) and not zone.geometry.contains(Point(outside))
    assert zone.ceiling.ft == pytest.approx(150 / 0.3048) and zone.ceiling.reference == "AMSL"


def test_published_small_polygon(published: dict[str, Zone]) -> None:
    zone = published["Q0338/25"]  # 595835N0301229E-595811N0301228E-595809N0301307E
    lats = [59 + 58 / 60 + 35 / 3600, 59 + 58 / 60 + 11 / 3600, 59 + 58 / 60 + 9 / 3600]
    lons = [30 + 12 / 60 + 29 / 3600, 30 + 12 / 60 + 28 / 3600, 30 + 13 / 60 + 7 / 3600]
    expected, _ = GEOD.polygon_area_perimeter(lons, lats)
    assert abs(GEOD.geometry_area_perimeter(zone.geometry)[0]) == pytest.approx(
        abs(expected), rel=1e-6
    )
    assert zone.ceiling.ft == pytest.approx(100 / 0.3048)


def test_antimeridian_polygon_with_a_schedule_crossing_midnight(edge: Any) -> None:
    zones, _, props = edge
    zone = zones["X0001/26"]  # 3959S-4001S between 179 45E and 179 45W
    written = shape(zone_to_feature(zone)["geometry"])  # RFC 7946: cut at the antimeridian
    assert written.geom_type == "MultiPolygon"
    for lon, expected in ((179.9, True), (-179.9, True), (0.0, False), (179.5, False)):
        assert written.contains(Point(lon, -40.0)) is expected
        # the engine's view: the zone in its own longitude frame
        in_frame = to_frame(lon, frame_centre(zone.geometry))
        assert zone.geometry.contains(Point(in_frame, -40.0)) is expected
    # D) DAILY 2200-0400 between B) 2603010000 and C) 2603312359 EST
    assert active(zone, t("2026-03-05T23:00")) and active(zone, t("2026-03-06T03:59"))
    assert not active(zone, t("2026-03-06T04:00")) and not active(zone, t("2026-03-06T12:00"))
    assert active(zone, t("2026-03-06T22:00"))
    assert not active(zone, t("2026-04-01T00:30"))  # the estimated end is the end
    assert props["X0001/26"]["end_estimated"] is True
    assert zone.ceiling.ft == 5000 and zone.ceiling.reference == "AMSL"


def test_circle_around_the_north_pole(edge: Any) -> None:
    zones, _, _ = edge
    zone = zones["X0002/26"]  # RADIUS 150NM CENTRED ON 900000N0000000E, F)FL100 G)UNL, C)PERM
    for lon in (-170.0, -45.0, 0.0, 100.0, 179.0):
        assert zone.geometry.contains(Point(lon, 87.6))  # 144 NM from the pole
        assert not zone.geometry.contains(Point(lon, 87.4))  # 156 NM
    assert zone.floor.ft == 10_000 and zone.floor.reference == "FL"
    assert zone.active[0][1] == math.inf


def test_drone_notam_with_agl_ceiling_and_weekdays(edge: Any) -> None:
    zones, _, _ = edge
    zone = zones["X0003/26"]  # QWULW, G)400FT AGL, D)MON-FRI 0600-1800
    assert zone.ceiling.reference == "AGL" and zone.ceiling.ft == 400
    assert active(zone, t("2026-03-13T12:00"))  # Friday
    assert not active(zone, t("2026-03-14T12:00"))  # Saturday
    assert not active(zone, t("2026-03-16T05:59")) and active(zone, t("2026-03-16T06:00"))
    centre = (8 + 34 / 60, 50 + 5 / 60)
    assert zone.geometry.contains(Point(GEOD.fwd(*centre, 45.0, 1.9 * NM)[:2]))
    assert not zone.geometry.contains(Point(GEOD.fwd(*centre, 45.0, 2.1 * NM)[:2]))


def test_replaced_cancelled_and_other_notams(edge: Any) -> None:
    zones, skipped, props = edge
    assert set(zones) == {"X0001/26", "X0002/26", "X0003/26", "X0005/26"}
    assert props["X0005/26"]["replaces"] == "X0004/26"
    assert zones["X0005/26"].floor.reference == "AGL" and zones["X0005/26"].floor.ft == 1000
    assert skipped == [
        "line 23 (NOTAM X0004/26): replaced by X0005/26",
        "line 35 (NOTAM X0006/26): cancelled by X0007/26",
        "line 46 (NOTAM X0008/26): QFAXX is not a restriction",
    ]


def test_q_line_circle_when_e_has_no_boundary(edge: Any) -> None:
    zones, _, props = edge
    zone = zones["X0005/26"]  # Q) ../5000N00800E005, E) without coordinates
    assert props["X0005/26"]["geometry_from"] == "Q"
    assert abs(GEOD.geometry_area_perimeter(zone.geometry)[0]) == pytest.approx(
        math.pi * (5 * NM) ** 2, rel=2e-3
    )


def test_the_file_order_does_not_matter_for_replacements() -> None:
    text = (DATA / "notams_edge_cases.txt").read_text()
    blocks = text.split("\n\n")
    reordered = "\n\n".join([blocks[0], *reversed(blocks[1:])])
    ids = {z.id for z in import_text(reordered, "reordered").zones}
    assert ids == {"X0001/26", "X0002/26", "X0003/26", "X0005/26"}


GOOD = """(A0001/26 NOTAMN
Q)EDGG/QRTCA/IV/BO/W/000/030/5100N00900E003
A)EDVK B)2603010000 C)2603311200
E)TEMPORARY RESTRICTED AREA
F)SFC G)3000FT AMSL)
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("E)TEMPORARY", "D)DAILY SR-SS\nE)TEMPORARY", "'SR-SS' not understood"),
        (" C)2603311200", "", "item C) is missing"),
        ("C)2603311200", "C)2603311200 ESTIMATED", "is not YYMMDDhhmm, YYMMDDhhmm EST or PERM"),
        (
            "E)TEMPORARY RESTRICTED AREA",
            "E)AREA 5160N00900E-5100N00910E-5110N00900E",
            "minutes of 60",
        ),
        ("G)3000FT AMSL", "G)3000 BANANAS", "G) altitude '3000 BANANAS' not understood"),
        ("B)2603010000", "B)2613010000", "B) '2613010000' is not YYMMDDhhmm"),
    ],
)
def test_malformed_notams_are_refused_with_their_id_and_line(
    old: str, new: str, message: str
) -> None:
    broken = GOOD.replace("A0001", "A0002").replace(old, new)
    with pytest.raises(ZoneError) as raised:
        import_text(GOOD + "\n" + broken, "two.txt")  # nothing half-loaded: A0001 is fine
    text = str(raised.value)
    assert "no zone loaded" in text and "line 7 (NOTAM A0002/26)" in text
    assert message in text


def test_restriction_without_any_boundary_is_an_error_not_a_skip() -> None:
    text = GOOD.replace("/5100N00900E003", "/5100N00900E999")
    with pytest.raises(ZoneError, match="no boundary in E\\) and the Q-line radius is 999"):
        import_text(text, "fir.txt")


def test_only_skipped_notams_is_no_zone_file() -> None:
    text = GOOD.replace("QRTCA", "QMRLC")
    with pytest.raises(ZoneError, match=r"no zones in this notam file\n  skipped: .*QMRLC"):
        import_text(text, "rwy.txt")


def test_written_geojson_reads_back_to_the_same_zones(published: dict[str, Zone]) -> None:
    document = import_file(DATA / "notams_published.txt").document
    again = {z.id: z for z in zones_from_geojson(document, "again")}
    for zone_id, zone in published.items():
        assert shape(again[zone_id].geometry.__geo_interface__).equals(zone.geometry)
        assert (
            again[zone_id].active == zone.active and again[zone_id].band_text() == zone.band_text()
        )


def test_sniff_recognises_notams_only() -> None:
    assert notam.sniff(GOOD)
    assert not notam.sniff("AC R\nAN TEST\nAL SFC\n")
