"""FAA TFR XNOTAM documents: circles, merged polygons, band references, periods, hostile XML."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyproj import Geod
from shapely.geometry import Point

from skyfence.zones.load import import_file, import_text
from skyfence.zones.model import Zone, ZoneError

DATA = Path(__file__).parents[1] / "data"
GEOD = Geod(ellps="WGS84")
NM = 1852.0


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def zones() -> dict[str, Zone]:
    imported = import_file(DATA / "tfr_constructed.xml")
    assert imported.format == "tfr"
    return {z.id: z for z in imported.zones}


def test_vip_circle(zones: dict[str, Zone]) -> None:
    zone = zones["TFR 6/1234 area 1"]  # CIR 38.8977000N 077.0365000W, 10 NM
    centre = (-77.0365, 38.8977)
    assert zone.geometry.contains(Point(GEOD.fwd(*centre, 300.0, 9.9 * NM)[:2]))
    assert not zone.geometry.contains(Point(GEOD.fwd(*centre, 300.0, 10.1 * NM)[:2]))
    assert abs(GEOD.geometry_area_perimeter(zone.geometry)[0]) == pytest.approx(
        math.pi * (10 * NM) ** 2, rel=2e-3
    )
    assert (
        zone.floor.reference == "SFC"
        and zone.ceiling.ft == 17999
        and zone.ceiling.reference == "AMSL"
    )
    assert zone.active == ((t("2026-03-02T14:00"), t("2026-03-02T22:00")),)
    assert zone.properties["tfr_type"] == "91.141" and zone.properties["facility"] == "ZDC"


def test_merged_area_polygon_agl_band_and_area_schedule(zones: dict[str, Zone]) -> None:
    zone = zones["TFR 6/1234 area 2"]
    expected, _ = GEOD.polygon_area_perimeter(
        [-77.02, -77.0, -77.0, -77.02], [38.88, 38.88, 38.87, 38.87]
    )
    assert abs(GEOD.geometry_area_perimeter(zone.geometry)[0]) == pytest.approx(
        abs(expected), rel=1e-9
    )
    assert zone.geometry.contains(Point(-77.01, 38.875)) and not zone.geometry.contains(
        Point(-77.03, 38.875)
    )
    assert zone.ceiling.text == "3000 ft AGL" and zone.ceiling.reference == "AGL"
    assert zone.active == ((t("2026-03-02T18:00"), t("2026-03-02T21:00")),)


def _variant(old: str, new: str) -> str:
    text = (DATA / "tfr_constructed.xml").read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "<codeTimeZone>UTC</codeTimeZone>",
            "<codeTimeZone>EST</codeTimeZone>",
            "in time zone 'EST', not UTC",
        ),
        (
            "<codeDistVerUpper>ALT</codeDistVerUpper>",
            "<codeDistVerUpper>XYZ</codeDistVerUpper>",
            "codeDistVerUpper 'XYZ'",
        ),
        (
            "<geoLatArc>38.8977000N</geoLatArc>",
            "<geoLatArc>38.8977000</geoLatArc>",
            "not like 38.8977N",
        ),
        (
            "<valRadiusArc>10</valRadiusArc>",
            "<valRadiusArc>-1</valRadiusArc>",
            "circle radius -1.0 NM",
        ),
    ],
)
def test_errors_name_the_tfr_and_area(old: str, new: str, message: str) -> None:
    with pytest.raises(ZoneError) as raised:
        import_text(_variant(old, new), "bad.xml")
    assert "bad.xml: TFR 6/1234" in str(raised.value) and message in str(raised.value)


BOMB = """<?xml version="1.0"?>
<!DOCTYPE XNOTAM-Update [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<XNOTAM-Update><Group><Add><Not><NotUid><txtLocalName>&d;&d;&d;&d;</txtLocalName></NotUid></Not></Add></Group></XNOTAM-Update>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE XNOTAM-Update [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<XNOTAM-Update><Group><Add><Not><NotUid><txtLocalName>&secret;</txtLocalName></NotUid></Not></Add></Group></XNOTAM-Update>
"""


@pytest.mark.parametrize("document", [BOMB, EXTERNAL])
def test_entity_bombs_and_external_entities_are_refused(document: str) -> None:
    with pytest.raises(ZoneError, match="refused: the XML declares a DTD or entities"):
        import_text(document, "bomb.xml")


def test_broken_xml_names_the_line() -> None:
    with pytest.raises(ZoneError, match=r"bad\.xml: line 3: not well-formed XML"):
        import_text("<XNOTAM-Update>\n<Group>\n</Grup>", "bad.xml")
