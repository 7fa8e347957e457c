"""The API over the store the demo writes: what the map reads, and who may write."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

from skyfence.store.events import EventStore
from skyfence.web.app import MAX_BODY_BYTES, MAX_OFFSET, STATIC, create_app
from skyfence.zones.geojson import zone_display_feature, zones_from_geojson

TOKEN = "test-token-4f2a"


@pytest.fixture()
def client(demo_store_path: Path, tmp_path: Path) -> Iterator[TestClient]:
    path = tmp_path / "store.sqlite"  # a copy: acknowledgements must not leak between tests
    shutil.copy(demo_store_path, path)
    with EventStore(path) as store, TestClient(create_app(store, TOKEN)) as client:
        yield client


def test_zones_are_geojson_with_their_band(client: TestClient) -> None:
    zones = client.get("/api/zones").json()
    by_id = {f["properties"]["id"]: f for f in zones["features"]}
    tra = by_id["DEMO-TRA-CENTRE"]["properties"]
    assert (tra["floor"], tra["ceiling"], tra["band"]) == ("FL200", "FL660", "FL200 to FL660")
    assert by_id["UKLV"]["properties"]["active_now"] is True  # closed since 2022, open-ended
    assert shape(by_id["ZNPP-30KM"]["geometry"]).is_valid


def test_zones_across_the_antimeridian_and_round_a_pole_reach_the_map_split(
    tmp_path: Path,
) -> None:
    """What MapLibre is given: zones cut at ±180 (RFC 7946), never a ring the long way round."""
    ring = [[179, -1], [-179, -1], [-179, 1], [179, 1], [179, -1]]
    box_geometry = {"type": "Polygon", "coordinates": [ring]}
    pole_geometry = {"type": "Point", "coordinates": [0, 90]}
    pole = {"id": "POLE", "radius_m": 500_000}
    features = [
        {"type": "Feature", "properties": {"id": "AM"}, "geometry": box_geometry},
        {"type": "Feature", "properties": pole, "geometry": pole_geometry},
    ]
    zones = zones_from_geojson({"type": "FeatureCollection", "features": features})
    with EventStore(tmp_path / "s.sqlite") as store:
        store.set_zones([zone_display_feature(z) for z in zones])
        with TestClient(create_app(store, TOKEN)) as client:
            served = client.get("/api/zones").json()["features"]
    by_id = {f["properties"]["id"]: shape(f["geometry"]) for f in served}
    for geometry in by_id.values():
        lons = [x for x, _ in shapely.get_coordinates(geometry)]
        assert geometry.is_valid and min(lons) >= -180 and max(lons) <= 180
    box = by_id["AM"]
    assert box.geom_type == "MultiPolygon" and box.area == pytest.approx(4.0)
    assert not box.contains(shapely.Point(0, 0)) and box.contains(shapely.Point(179.5, 0))
    assert by_id["POLE"].contains(shapely.Point(123, 89.9))


def test_aircraft_are_points_with_a_state(client: TestClient) -> None:
    (plane,) = client.get("/api/aircraft").json()["features"]
    assert plane["properties"]["callsign"] == "THY9BP"
    assert plane["properties"]["state"] in ("normal", "warning", "inside", "suspect")
    lon, lat = plane["geometry"]["coordinates"]
    assert (lat, lon) == (plane["properties"]["lat"], plane["properties"]["lon"])


def test_events_filter_and_page_without_overlap(client: TestClient) -> None:
    everything = client.get("/api/events").json()
    assert everything["total"] == 7 and len(everything["items"]) == 7
    times = [e["time"] for e in everything["items"]]
    assert times == sorted(times, reverse=True)  # newest first
    pages = [client.get(f"/api/events?limit=3&offset={o}").json()["items"] for o in (0, 3, 6)]
    assert [e["id"] for page in pages for e in page] == [e["id"] for e in everything["items"]]
    entries = client.get("/api/events", params={"kind": "entry", "zone": "DEMO-R-APPROACH"})
    assert [e["callsign"] for e in entries.json()["items"]] == ["AFR34ZG"]
    window = {"since": "2024-07-06T07:23:00", "until": "2024-07-06T07:30:00Z"}
    assert client.get("/api/events", params=window).json()["total"] == 2  # naive = UTC
    assert client.get("/api/events", params={"icao24": "4BAAC6"}).json()["total"] == 1
    assert client.get("/api/events", params={"kind": "landing"}).status_code == 422
    assert client.get("/api/events", params={"icao24": "x'; drop"}).status_code == 422
    assert client.get("/api/events", params={"limit": 100_000}).status_code == 422


def test_zone_filters_read_ids_in_any_case_and_refuse_unknown_ones(client: TestClient) -> None:
    """As `skyfence export --zone`: `uklv` is UKLV's event, and a zone the store does not know
    is a 422 naming the known ones, not an empty list or file that reads as no incursion."""
    for path in ("/api/events", "/api/export/events?format=csv"):
        exact = client.get(path, params={"zone": "UKLV"})
        assert client.get(path, params={"zone": "uklv"}).content == exact.content
        assert "THY9BP" in exact.text  # its suspect position claims UKLV
        unknown = client.get(path, params={"zone": "UKXX"})
        assert unknown.status_code == 422
        assert "UKXX" in unknown.json()["detail"] and "DEMO-R-APPROACH" in unknown.json()["detail"]


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_one_event_comes_with_its_track_and_zone(client: TestClient) -> None:
    (suspect,) = client.get("/api/events", params={"kind": "suspect_position"}).json()["items"]
    detail = client.get(f"/api/events/{suspect['id']}").json()
    assert detail["event"]["details"]["claimed_zones"] == ["UKLV"]
    assert detail["zone"]["properties"]["id"] == "UKLV"
    quarantined = [p for p in detail["track"] if not p["trusted"]]
    assert quarantined and all(p["reason"] for p in quarantined)
    # a suspect position's track: the hour either side, the flown path around the spoofed one
    t = seconds(suspect["time"])
    assert detail["track_around_s"] == 3600
    assert all(abs(p["time_s"] - t) <= 3600 for p in detail["track"])
    assert any(p["trusted"] and p["time_s"] < t for p in detail["track"])
    assert any(p["trusted"] and p["time_s"] > t for p in detail["track"])
    exit_ = client.get("/api/events", params={"kind": "exit"}).json()["items"][0]
    around = client.get(f"/api/events/{exit_['id']}").json()
    assert around["track_around_s"] == 900
    assert all(abs(p["time_s"] - seconds(exit_["time"])) <= 900 for p in around["track"])
    assert client.get("/api/events/" + "0" * 20).status_code == 404


def test_acknowledging_needs_the_token(client: TestClient) -> None:
    event_id = client.get("/api/events").json()["items"][0]["id"]
    url = f"/api/events/{event_id}/ack"
    assert client.post(url, json={"note": "x"}).status_code == 401
    bad = client.post(url, json={"note": "x"}, headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    assert client.get(f"/api/events/{event_id}").json()["event"]["acknowledged"] is None
    good = client.post(
        url,
        json={"note": "seen", "by": "duty analyst"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert good.status_code == 200
    assert good.json()["acknowledged"]["by"] == "duty analyst"
    assert client.get(f"/api/events/{event_id}").json()["event"]["acknowledged"]["note"] == "seen"


def test_an_acknowledgement_reaches_the_map_with_its_controls_escaped(client: TestClient) -> None:
    event_id = client.get("/api/events").json()["items"][0]["id"]
    hostile = {"by": "\u202eduty\x1b[2J", "note": "seen\x00\u2066"}
    answer = client.post(
        f"/api/events/{event_id}/ack", json=hostile, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 200
    escaped = {"by": "\\u202eduty\\x1b[2J", "note": "seen\\x00\\u2066"}
    for record in (answer.json(), client.get(f"/api/events/{event_id}").json()["event"]):
        assert {k: record["acknowledged"][k] for k in ("by", "note")} == escaped


def test_acknowledging_an_unknown_event_is_a_404_naming_the_event_not_the_store(
    client: TestClient, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    unknown = "0" * 20
    answer = client.post(f"/api/events/{unknown}/ack", json={"note": "x"}, headers=headers)
    assert answer.status_code == 404
    assert answer.json() == {"detail": f"no event '{unknown}'"}
    assert str(tmp_path) not in answer.text  # the store's path stays on the server
    too_long = client.post(f"/api/events/{'0' * 65}/ack", json={"note": "x"}, headers=headers)
    assert too_long.status_code == 404
    assert client.get("/api/events").json()["items"][0]["acknowledged"] is None


def test_oversized_and_hostile_requests_are_refused(client: TestClient) -> None:
    event_id = client.get("/api/events").json()["items"][0]["id"]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    huge = json.dumps({"note": "x" * MAX_BODY_BYTES})
    assert (
        client.post(f"/api/events/{event_id}/ack", content=huge, headers=headers).status_code == 413
    )
    for path in (
        "/static/../../store.sqlite",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/etc/passwd",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
    assert client.get("/api/events/" + "a" * 5000).status_code == 404


def test_no_cross_origin_access_by_default(client: TestClient) -> None:
    response = client.get("/api/events", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_no_page_may_frame_ours(client: TestClient) -> None:
    """Issue 12: the one-click Acknowledge could be clickjacked from a framing page."""
    for path in ("/", "/docs", "/api/events", "/static/app.js"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY", path


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_name_is_case_insensitive(client: TestClient, scheme: str) -> None:
    """RFC 6750 and RFC 7235: `bearer TOKEN` was refused."""
    event_id = client.get("/api/events").json()["items"][0]["id"]
    url = f"/api/events/{event_id}/ack"
    answer = client.post(url, json={"by": "x"}, headers={"Authorization": f"{scheme} {TOKEN}"})
    assert answer.status_code == 200, answer.text
    for refused in (f"Basic {TOKEN}", f"{scheme} ", scheme, f"{scheme} wrong", f"{scheme}{TOKEN}"):
        answer = client.post(url, json={"by": "x"}, headers={"Authorization": refused})
        assert answer.status_code == 401, refused


def test_the_page_basemap_and_openapi_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/vendor/maplibre-gl.js" in page.text
    assert client.get("/static/vendor/maplibre-gl.js").status_code == 200
    countries = client.get("/api/basemap").json()
    names = {f["properties"]["name"] for f in countries["features"]}
    assert {"Ukraine", "France", "Poland"} <= names
    spec = client.get("/openapi.json").json()
    assert {"/api/zones", "/api/aircraft", "/api/events", "/api/stream"} <= set(spec["paths"])
    assert client.get("/api/status").json()["events"] == 7


def test_exports_download_in_each_format(client: TestClient, demo_store_path: Path) -> None:
    geo = client.get("/api/export/events", params={"kind": "entry"})
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert [f["properties"]["kind"] for f in geo.json()["features"]] == ["entry", "entry"]
    kml = client.get("/api/export/events", params={"format": "kml"})
    assert 'filename="events.kml"' in kml.headers["content-disposition"]
    assert kml.text.count("<styleUrl>#event</styleUrl>") == 7
    assert kml.text.count("<styleUrl>#zone</styleUrl>") == 3  # the zones the events are about
    assert "<name>UKLV (SFC to UNL)</name>" in kml.text
    window = {"since": "2024-09-17T09:00:00Z", "until": "2024-09-17T10:00:00Z", "format": "csv"}
    track = client.get("/api/export/track/4BAAC6", params=window)
    assert track.status_code == 200 and track.text.splitlines()[0].startswith("icao24,time")
    assert len(track.text.splitlines()) > 100
    track_kml = client.get("/api/export/track/4baac6", params={**window, "format": "kml"}).text
    assert "<name>UKLV (SFC to UNL)</name>" in track_kml  # the zone its spoofed fixes claimed
    assert "<styleUrl>#quarantined</styleUrl>" in track_kml
    assert client.get("/api/export/events", params={"format": "xlsx"}).status_code == 422
    too_long = {**window, "until": "2024-12-17T10:00:00Z"}
    assert client.get("/api/export/track/4baac6", params=too_long).status_code == 422
    assert client.get("/api/export/track/../../etc", params=window).status_code == 404
    # without a window: the whole logged track, as `skyfence export track` writes it
    whole = client.get("/api/export/track/4baac6", params={"format": "csv"})
    assert whole.status_code == 200
    rows = whole.text.splitlines()
    assert len(rows) > len(track.text.splitlines())
    with EventStore(demo_store_path) as store:
        assert len(rows) == 1 + len(store.positions("4baac6", 0.0, 4e9, limit=10**7))
    since_only = client.get("/api/export/track/4baac6", params={"since": window["since"]})
    assert since_only.status_code == 200


def test_interference_cells_per_hour(client: TestClient) -> None:
    """The demo's watch stored THY9BP's hours: its spoofed positions claimed cells inside
    Lviv FIR; by default the last 24 stored hours are served."""
    from skyfence.zones.geojson import load_zones

    body = client.get("/api/interference").json()
    assert body["hours"] == sorted(body["hours"]) and body["hours"][0].startswith("2024-09-17")
    uklv = next(z for z in load_zones("ukraine") if z.id == "UKLV").geometry
    claimed = [f for f in body["features"] if f["properties"]["claimed"]]
    assert claimed and all(uklv.intersects(shape(f["geometry"])) for f in claimed)
    assert all(f["properties"]["hour"] in body["hours"] for f in body["features"])
    july = {"since": "2024-07-06T00:00:00", "until": "2024-07-07T00:00:00Z"}
    frames = client.get("/api/interference", params=july).json()
    assert frames["hours"] and all(h.startswith("2024-07-06") for h in frames["hours"])
    assert not any(f["properties"]["spoofed"] for f in frames["features"])
    too_long = {"since": "2024-07-01T00:00:00", "until": "2024-07-09T00:00:00"}
    assert client.get("/api/interference", params=too_long).status_code == 422


def test_a_window_that_ends_before_it_starts_is_a_422_not_an_empty_answer(
    client: TestClient,
) -> None:
    """As `audit`, `report` and `export` refuse it; the same window the right way round has
    THY9BP's suspect position and track."""
    backwards = {"since": "2024-09-17T10:00:00Z", "until": "2024-09-17T09:00:00Z"}
    forwards = {"since": backwards["until"], "until": backwards["since"]}
    for path in ("/api/events", "/api/export/events", "/api/export/track/4baac6",
                 "/api/interference"):  # fmt: skip
        refused = client.get(path, params=backwards)
        assert refused.status_code == 422 and refused.json()["detail"] == (
            "since must be before until"
        )
        assert client.get(path, params=forwards).status_code == 200
    assert client.get("/api/events", params=forwards).json()["total"] == 1


@pytest.mark.parametrize(
    "value", ["9223372036854775808", "9" * 400, "-1", "-9223372036854775809", "1e3", "nan", "inf"]
)
def test_numbers_beyond_their_bounds_are_a_422_naming_the_parameter(
    client: TestClient, value: str
) -> None:
    """Issue 12: `offset=9223372036854775808` reached SQLite and gave a 500 (OverflowError)."""
    for path, name in (
        ("/api/events", "offset"),
        ("/api/events", "limit"),
        ("/api/export/events", "limit"),
    ):
        response = client.get(path, params={name: value})
        assert response.status_code == 422, (path, name, response.text)
        (problem,) = response.json()["detail"]
        assert problem["loc"] == ["query", name]
    for name in ("since", "until") if value != "-1" else ():  # -1 is a time: 1969-12-31
        window = {"since": "2024-09-17T09:00:00Z", "until": "2024-09-17T10:00:00Z", name: value}
        for path in ("/api/events", "/api/export/track/4baac6"):
            response = client.get(path, params=window)
            assert response.status_code == 422, (path, name, response.text)
            assert response.json()["detail"][0]["loc"] == ["query", name]
    assert client.get("/api/events", params={"offset": MAX_OFFSET}).json()["items"] == []


def test_the_map_takes_the_kinds_colours_and_labels_from_the_api(client: TestClient) -> None:
    from skyfence.kinds import KINDS

    served = client.get("/api/kinds").json()
    assert served == {
        kind: {
            "label": info.label,
            "colour": info.colour,
            "severity": info.severity,
            "explanation": info.explanation,
        }
        for kind, info in KINDS.items()
    }
    kinds_in_store = {e["kind"] for e in client.get("/api/events").json()["items"]}
    assert kinds_in_store and kinds_in_store <= set(served)
    script = (STATIC / "app.js").read_text()
    style = (STATIC / "style.css").read_text()
    assert 'api("/api/kinds")' in script
    assert "`--k: ${KINDS[ev.kind].colour}`" in script  # an alert's colour is the table's
    for kind, info in KINDS.items():  # and no copy of the table in the map's own files
        assert f'"{info.label}"' not in script, kind
        assert f".kind-{kind} " not in style, kind
