"""AIXM 5.1 Airspace on the Donlon sample AIP (EUROCONTROL & FAA): arcs, circles, references.

The arc of EAR1 is a 227-degree sector of 25 NM (bearings 270 to 497, clockwise from north), so
its area and the points inside and outside are computed here from those numbers alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pyproj import Geod
from shapely.geometry import Point

from skyfence.zones.load import import_file, import_text
from skyfence.zones.model import Zone, ZoneError

DATA = Path(__file__).parents[1] / "data"
DONLON = DATA / "donlon_aixm51_airspaces.xml"
GEOD = Geod(ellps="WGS84")
NM = 1852.0


@pytest.fixture(scope="module")
def zones() -> dict[str, Zone]:
    imported = import_file(DONLON)
    assert imported.format == "aixm"
    assert [s.split(":")[1].strip() for s in imported.skipped] == [
        "type FIR is not a restriction",
        "type CTA is not a restriction",
    ]
    return {z.id: z for z in imported.zones}


def area(zone: Zone) -> float:
    return abs(GEOD.geometry_area_perimeter(zone.geometry)[0])


def test_arc_sector(zones: dict[str, Zone]) -> None:
    zone = zones["EAR1"]
    centre = (-36.166666666666664, 55.233333333333334)  # posList "55.2333 -36.1667": lat first
    assert area(zone) == pytest.approx(227 / 360 * math.pi * (25 * NM) ** 2, rel=3e-3)
    for bearing in (280.0, 0.0, 90.0, 130.0):  # inside the sector swept clockwise 270 -> 137
        assert zone.geometry.contains(Point(GEOD.fwd(*centre, bearing, 24 * NM)[:2]))
    for bearing in (160.0, 200.0, 250.0):  # the 133 degrees left out
        assert not zone.geometry.contains(Point(GEOD.fwd(*centre, bearing, 10 * NM)[:2]))
    assert not zone.geometry.contains(Point(GEOD.fwd(*centre, 0.0, 26 * NM)[:2]))
    # upperLimit 1525 M, upperLimitReference SFC: a height above ground, kept as such
    assert zone.ceiling.reference == "AGL" and zone.ceiling.ft == pytest.approx(1525 / 0.3048)
    assert zone.floor.reference == "SFC" and zone.properties["airspace_type"] == "R"


def test_circles_in_nautical_miles_and_kilometres(zones: dict[str, Zone]) -> None:
    prohibited = zones["EAP2"]  # 52.3667 -22.1, radius 15 NM, 20000 FT, GND
    assert area(prohibited) == pytest.approx(math.pi * (15 * NM) ** 2, rel=2e-3)
    assert prohibited.geometry.contains(Point(-22.1, 52.36666666666667))
    assert not prohibited.geometry.contains(Point(-22.1, 52.36666666666667 + 16 / 60))
    assert prohibited.ceiling.ft == 20000 and prohibited.ceiling.reference == "AMSL"
    danger = zones["EAD6"]  # radius 8.0 km, FL360 STD
    assert area(danger) == pytest.approx(math.pi * 8000**2, rel=2e-3)
    assert danger.ceiling.reference == "FL" and danger.ceiling.ft == 36000
    assert danger.active[0][1] == math.inf  # validTime with an unknown end
    assert "MON 07:00 16:00 UTC" in danger.properties["activation"]


def test_corridor_volume_is_refused_by_name() -> None:
    text = DONLON.read_text()
    at = text.index("EAP2_VAARDNOR")
    text = text[:at] + text[at:].replace(
        "<aixm:horizontalProjection>", "<aixm:centreline/><aixm:horizontalProjection>", 1
    )
    with pytest.raises(ZoneError, match=r"Airspace EAP2 \(uuid\.[0-9a-f-]+\): corridor volumes"):
        import_text(text, "corridor.xml")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '<gml:radius uom="NM">15.0</gml:radius>',
            '<gml:radius uom="furlong">15.0</gml:radius>',
            "radius unit 'FURLONG'",
        ),
        (
            '<aixm:upperLimit uom="FT">20000</aixm:upperLimit>',
            '<aixm:upperLimit uom="FT">high</aixm:upperLimit>',
            "upperLimit 'HIGH'",
        ),
        (
            "<gml:posList>52.36666666666667 -22.1</gml:posList>",
            "<gml:posList>152.3 -22.1</gml:posList>",
            "out of range",
        ),
    ],
)
def test_errors_name_the_airspace(old: str, new: str, message: str) -> None:
    text = DONLON.read_text()
    assert old in text
    with pytest.raises(ZoneError) as raised:
        import_text(text.replace(old, new, 1), "bad.xml")
    assert "bad.xml: Airspace EAP2 (uuid." in str(raised.value) and message in str(raised.value)


def test_crs84_positions_are_longitude_first() -> None:
    text = (
        DONLON.read_text()
        .replace(
            '<aixm:ElevatedSurface srsName="urn:ogc:def:crs:EPSG::4326" gml:id="ID_240">',
            '<aixm:ElevatedSurface srsName="urn:ogc:def:crs:OGC:1.3:CRS84" gml:id="ID_240">',
        )
        .replace(
            "<gml:posList>52.36666666666667 -22.1</gml:posList>",
            "<gml:posList>-22.1 52.36666666666667</gml:posList>",
        )
    )
    zones = {z.id: z for z in import_text(text, "crs84.xml").zones}
    assert zones["EAP2"].geometry.contains(Point(-22.1, 52.36666666666667))
