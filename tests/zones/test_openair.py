"""OpenAir import, checked on real published OpenAir text (St. George, Utah; see the data header).

The real file carries one DC circle, two DA arcs, two DB arcs and plain DP polygons, so every
boundary record is exercised on text someone actually flies with, not on text written to pass.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape

from skyfence.zones.geojson import zones_from_geojson
from skyfence.zones.model import ZoneError, parse_altitude
from skyfence.zones.openair import normalise_altitude, openair_to_geojson, parse_point

DATA = Path(__file__).parent / "data" / "ksgu_openair.txt"
GEOD = Geod(ellps="WGS84")
NM = 1852.0
KSGU = "037:02:11.00 N 113:30:37.00 W"  # airport reference point, centre of the DC and DA arcs


@pytest.fixture(scope="module")
def text() -> str:
    return DATA.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def zones(text: str) -> dict[str, dict[str, Any]]:
    collection = openair_to_geojson(text, "ksgu.txt")
    assert collection["type"] == "FeatureCollection"
    return {f["properties"]["name"]: f for f in collection["features"]}


def ring(feature: dict[str, Any]) -> list[tuple[float, float]]:
    return [(lon, lat) for lon, lat in feature["geometry"]["coordinates"][0]]


def polar(centre: str, point: tuple[float, float]) -> tuple[float, float]:
    """Bearing (0..360) and geodesic distance in metres from an OpenAir centre to a vertex."""
    c = parse_point(centre)
    az, _, dist = GEOD.inv(c[0], c[1], point[0], point[1])
    return az % 360, dist


def area_km2(feature: dict[str, Any]) -> float:
    area, _ = GEOD.geometry_area_perimeter(shape(feature["geometry"]))
    return abs(area) / 1e6


def line_of(text: str, record: str) -> int:
    return text.splitlines().index(record) + 1


def test_real_file_gives_every_zone_with_its_band(zones: dict[str, dict[str, Any]]) -> None:
    assert list(zones) == [
        "SAINT GEORGE CLASS E2",
        "SAINT GEORGE E4 NE",
        "SAINT GEORGE E4 SW",
        "KSGU ULTRALIGHT VEHICLES RESTRICTED PRIMARY",
        "KSGU ULTRALIGHT VEHICLES RESTRICTED EAST EXT",
        "KSGU ULTRALIGHT VEHICLES RESTRICTED WEST EXT",
    ]
    classes = [f["properties"]["class"] for f in zones.values()]
    assert classes == ["E", "E", "E", "R", "R", "R"]
    for feature in zones.values():
        props = feature["properties"]
        assert (props["floor"], props["ceiling"]) == ("SFC", "17999 ft")
        assert parse_altitude(props["floor"]).ft == -math.inf
        assert parse_altitude(props["ceiling"]).ft == 17999
        assert feature["geometry"]["type"] == "Polygon"
    assert zones["SAINT GEORGE CLASS E2"]["properties"]["id"] == "saint-george-class-e2"
    assert zones["SAINT GEORGE E4 NE"]["properties"]["source"].startswith("ksgu.txt:")


def test_geometry_is_lon_lat_closed_and_valid(zones: dict[str, dict[str, Any]]) -> None:
    for feature in zones.values():
        points = ring(feature)
        assert points[0] == points[-1]
        assert all(-113.7 < lon < -113.3 and 36.8 < lat < 37.3 for lon, lat in points)
        assert shapely.is_valid(shape(feature["geometry"]))


def test_dc_circle_is_geodesic(zones: dict[str, dict[str, Any]]) -> None:
    points = ring(zones["SAINT GEORGE CLASS E2"])
    assert len(points) >= 90
    for point in points:
        _, dist = polar(KSGU, point)
        assert dist == pytest.approx(4.5 * NM, rel=0.005)
    assert area_km2(zones["SAINT GEORGE CLASS E2"]) == pytest.approx(
        math.pi * (4.5 * NM / 1000) ** 2, rel=0.01
    )


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [("SAINT GEORGE E4 NE", 17.071185, 42.995148), ("SAINT GEORGE E4 SW", 176.585560, 229.357024)],
)
def test_da_arc_runs_clockwise_between_its_angles(
    zones: dict[str, dict[str, Any]], name: str, start: float, end: float
) -> None:
    on_arc = []
    for point in ring(zones[name])[:-1]:
        bearing, dist = polar(KSGU, point)
        if dist < 5 * NM:  # the two DP points are near 8 nm out
            assert dist == pytest.approx(4.5 * NM, rel=0.005)
            on_arc.append(bearing)
    assert len(on_arc) >= (end - start) / 2
    assert min(on_arc) == pytest.approx(start, abs=1e-4)  # coordinates are rounded to 1e-7 deg
    assert max(on_arc) == pytest.approx(end, abs=1e-4)
    assert 10 < area_km2(zones[name]) < 100


def test_db_arcs_end_on_their_points(zones: dict[str, dict[str, Any]]) -> None:
    points = ring(zones["KSGU ULTRALIGHT VEHICLES RESTRICTED WEST EXT"])
    for text in ("037:00:12.47 N 113:32:44.64 W", "037:00:32.89 N 113:33:26.41 W"):
        lon, lat = parse_point(text)
        assert (round(lon, 7), round(lat, 7)) in points
    lon, lat = parse_point("037:01:10.89 N 113:33:34.02 W")
    assert (round(lon, 7), round(lat, 7)) in points
    # Every vertex of the second, small arc (bearings 220 to 301 degrees) is on its circle.
    centre = "037:00:55.44 N 113:33:02.44 W"
    small = [polar(centre, p) for p in points]
    small = [(b, d) for b, d in small if 220 < b < 302 and d < 1000]
    assert len(small) >= 40  # an 81 degree arc in 2 degree steps
    for _, dist in small:
        assert dist == pytest.approx(914, rel=0.005)
    assert 2 < area_km2(zones["KSGU ULTRALIGHT VEHICLES RESTRICTED WEST EXT"]) < 10


def test_dp_polygon_areas_are_plausible(zones: dict[str, dict[str, Any]]) -> None:
    primary = zones["KSGU ULTRALIGHT VEHICLES RESTRICTED PRIMARY"]
    assert len(ring(primary)) == 5  # four DP points, closed
    # The comment says 0.75 each side over 3.25 + 2.5 (the points are drawn in nautical miles).
    assert area_km2(primary) == pytest.approx(1.5 * 5.75 * (NM / 1000) ** 2, rel=0.03)
    assert 1 < area_km2(zones["KSGU ULTRALIGHT VEHICLES RESTRICTED EAST EXT"]) < 10


def test_output_loads_as_a_zone_file(text: str) -> None:
    loaded = zones_from_geojson(openair_to_geojson(text, "ksgu.txt"), "ksgu.geojson")
    assert len(loaded) == 6
    assert {(z.floor.reference, z.ceiling_ft) for z in loaded} == {("SFC", 17999)}
    assert loaded[3].properties["class"] == "R"


def test_ids_are_unique_and_deterministic(text: str) -> None:
    twice = text + "\n" + text
    first, second = openair_to_geojson(twice), openair_to_geojson(twice)
    assert first == second
    ids = [f["properties"]["id"] for f in first["features"]]
    assert len(ids) == len(set(ids)) == 12
    assert ids[0] == "saint-george-class-e2"
    assert ids[6] == "saint-george-class-e2-2"


def test_counter_clockwise_arc_takes_the_other_way_round() -> None:
    def pie(direction: str) -> dict[str, Any]:
        text = (
            f"AC R\nAN PIE\nAL GND\nAH FL100\nV X={KSGU}\n{direction}\nDA 4.5, 0, 90\nDP {KSGU}\n"
        )
        feature: dict[str, Any] = openair_to_geojson(text)["features"][0]
        return feature

    clockwise, anticlockwise = pie("V D=+"), pie("V D=-")
    full = math.pi * (4.5 * NM / 1000) ** 2
    assert area_km2(clockwise) == pytest.approx(full / 4, rel=0.01)
    assert area_km2(anticlockwise) == pytest.approx(3 * full / 4, rel=0.01)


def test_labels_comments_and_extra_records() -> None:
    text = """\
* leading comment
AC P
AY PROHIBITED   * inline comment
AN ED-P 1
AL 0
AH 1500ft MSL
AA ACTIVE H24
AT 52:00:30 N 013:00:30 E
SP 0,1,255,0,0
SB -1,-1,-1
V Z=10

DP 52:00:00 N 013:00:00 E
DP 52:01:00 N 013:00:00 E
DP 52:01:00 N 013:01:00 E
DP 52:00:00 N 013:00:00 E
"""
    (feature,) = openair_to_geojson(text)["features"]
    props = feature["properties"]
    assert props["type"] == "PROHIBITED"
    assert props["activation"] == ["ACTIVE H24"]
    assert (props["floor"], props["ceiling"]) == ("SFC", "1500 ft")
    assert props["id"] == "ed-p-1"
    assert len(ring(feature)) == 4


@pytest.mark.parametrize(
    ("text", "lon", "lat"),
    [
        ("52:08:30 N 013:24:00 E", 13.4, 52.141667),
        ("52:08:30N 013:24:00E", 13.4, 52.141667),
        ("52:08.5 N 013:24.0 E", 13.4, 52.141667),
        ("45:15.531N 108:26.770W", -108.446167, 45.25885),
        ("037:02:11.00 N 113:30:37.00 W", -113.510278, 37.036389),
        ("37:02:11.5 N 113:30:37.25 W", -113.510347, 37.036528),
        ("33:52:00 S 151:12:30 E", 151.208333, -33.866667),
        ("037:04:50.53 N 113:28:6.31 W", -113.468419, 37.080703),
        ("52:08:30 n 013:24:00 e", 13.4, 52.141667),
        ("00:00:00 N 000:00:00 E", 0.0, 0.0),
        ("52:08:30 N, 013:24:00 E", 13.4, 52.141667),
    ],
)
def test_coordinate_parsing(text: str, lon: float, lat: float) -> None:
    assert parse_point(text) == pytest.approx((lon, lat), abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "52:08:30 N",
        "52:08:30 N 013:24:00",
        "013:24:00 E 52:08:30 N",
        "52:60:00 N 013:24:00 E",
        "52:08:60 N 013:24:00 E",
        "91:00:00 N 013:24:00 E",
        "52:00:00 N 181:00:00 E",
        "52:08.5:30 N 013:24:00 E",
        "52.1417 013.4",
        "",
    ],
)
def test_bad_coordinates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="coordinate"):
        parse_point(text)


@pytest.mark.parametrize(
    ("openair", "expected", "ft"),
    [
        ("GND", "SFC", -math.inf),
        ("SFC", "SFC", -math.inf),
        ("0", "SFC", -math.inf),
        ("0ft AGL", "SFC", -math.inf),
        ("FL65", "FL065", 6500),
        ("FL 195", "FL195", 19500),
        ("fl075", "FL075", 7500),
        ("1500ft MSL", "1500 ft", 1500),
        ("1500 MSL", "1500 ft", 1500),
        ("3500FT AMSL", "3500 ft", 3500),
        ("17999 ft", "17999 ft", 17999),
        ("1500 ALT", "1500 ft", 1500),
        ("2000ft AGL", "2000 ft AGL", 2000),
        ("2000 GND", "2000 ft AGL", 2000),
        ("500F SFC", "500 ft AGL", 500),
        ("1500m", "1500 m", 1500 / 0.3048),
        ("1000 m MSL", "1000 m", 1000 / 0.3048),
        ("UNLIM", "UNL", math.inf),
        ("UNL", "UNL", math.inf),
    ],
)
def test_altitude_spellings(openair: str, expected: str, ft: float) -> None:
    text = normalise_altitude(openair)
    assert text == expected
    assert parse_altitude(text).ft == pytest.approx(ft)


def test_real_file_errors_name_the_line(text: str) -> None:
    for good, bad, message in [
        ("DC 4.5", "DC four", "DC radius 'four' is not a number"),
        ("DA 4.5, 17.071185, 42.995148", "DA 4.5, 17.071185", "DA needs"),
        ("AL SFC", "AL 1500 parsecs", "altitude '1500 parsecs' not understood"),
        ("DP 037:08:20.34 N 113:24:42.65 W", "DP 037:08:20.34 N 113:24:42.65", "coordinate"),
    ]:
        line = line_of(text, good)
        broken = text.replace(good, bad, 1)
        with pytest.raises(ZoneError, match=rf"^ksgu\.txt:{line}: .*{message}"):
            openair_to_geojson(broken, "ksgu.txt")


HEAD = "AC R\nAN TEST\nAL SFC\nAH FL100\n"
SQUARE = (
    "DP 52:00:00 N 013:00:00 E\nDP 52:01:00 N 013:00:00 E\n"
    "DP 52:01:00 N 013:01:00 E\nDP 52:00:00 N 013:01:00 E\n"
)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (HEAD + "XY something\n" + SQUARE, 5, "unknown or unsupported record 'XY'"),
        (HEAD + "DY 52:00:00 N 013:00:00 E\n", 5, "unknown or unsupported record 'DY'"),
        ("DP 52:00:00 N 013:00:00 E\n", 1, "DP record before the first AC"),
        (HEAD + "DP 52:00:00 N 013:00:00\n", 5, "coordinate"),
        (HEAD + "DP 52:75:00 N 013:00:00 E\n", 5, "60 or more"),
        (HEAD + "DB 52:00:00 N 013:00:00 E, 52:01:00 N 013:00:00 E\n", 5, "no V X= earlier"),
        (HEAD + "DA 2, 0, 90\n", 5, "no V X= earlier"),
        (HEAD + "DC 2\n", 5, "no V X= earlier"),
        (HEAD + "V X=52:00:00 N 013:00:00 E\nDA 0, 0, 90\n", 6, "DA radius must be positive"),
        (HEAD + "V D=*\n", 5, "V D= must be"),
        (HEAD + "V Q=1\n", 5, "unknown variable V Q="),
        (HEAD + "V X=52:00:00 N 013:00:00 E\nDC 2\n" + SQUARE, 7, "DP after DC"),
        (HEAD + SQUARE + "V X=52:00:00 N 013:00:00 E\nDC 2\n", 10, "DC must be the only"),
        (HEAD + "DP 52:00:00 N 013:00:00 E\nDP 52:01:00 N 013:00:00 E\n", 1, "needs 3"),
        (HEAD + "DP 52:00:00 N 013:00:00 E\n" * 4, 1, "1 distinct points"),
        ("AC R\nAN TEST\nAL SFC\nAH 12 parsecs\n" + SQUARE, 4, "not understood"),
        ("AC R\nAN TEST\nAL FL100\nAH 5000 ft\n" + SQUARE, 1, "not below ceiling"),
        ("AC R\nAL SFC\nAH FL100\n" + SQUARE, 1, "has no AN name"),
        ("AC R\nAN TEST\nAL SFC\n" + SQUARE, 1, "has no AH ceiling"),
        ("AC\nAN TEST\n", 1, "AC needs an airspace class"),
        (
            HEAD + SQUARE + "AC Q\nAN BOWTIE\nAL SFC\nAH FL100\n"
            "DP 52:00:00 N 013:00:00 E\nDP 52:01:00 N 013:01:00 E\n"
            "DP 52:01:00 N 013:00:00 E\nDP 52:00:00 N 013:01:00 E\n",
            9,
            "'BOWTIE' is not a valid polygon: Self-intersection",
        ),
    ],
)
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ZoneError) as info:
        openair_to_geojson(text, "bad.txt")
    assert str(info.value).startswith(f"bad.txt:{line}: ")
    assert message in str(info.value)


def test_airspace_across_the_antimeridian_is_cut_not_inverted() -> None:
    text = (
        "AC R\nAN DATELINE\nAL SFC\nAH FL100\n"
        "DP 01:00:00 S 179:00:00 E\nDP 01:00:00 S 179:00:00 W\n"
        "DP 01:00:00 N 179:00:00 W\nDP 01:00:00 N 179:00:00 E\n"
        "AC R\nAN CIRCLE ON 180\nAL SFC\nAH FL100\nV X=10:00:00 S 180:00:00 E\nDC 20\n"
    )
    box, ring = (shape(f["geometry"]) for f in openair_to_geojson(text, "dateline.txt")["features"])
    assert box.geom_type == ring.geom_type == "MultiPolygon"
    assert box.contains(shapely.Point(179.5, 0)) and box.contains(shapely.Point(-179.5, 0))
    assert not box.contains(shapely.Point(0, 0))
    east, _ = GEOD.polygon_area_perimeter([179.0, 180.0, 180.0, 179.0], [-1, -1, 1, 1])
    assert abs(GEOD.geometry_area_perimeter(box)[0]) == pytest.approx(2 * abs(east), rel=1e-6)
    assert abs(GEOD.geometry_area_perimeter(ring)[0]) == pytest.approx(
        math.pi * (20 * NM) ** 2, rel=2e-3
    )
    assert ring.contains(shapely.Point(-179.9, -10)) and ring.contains(shapely.Point(179.9, -10))
