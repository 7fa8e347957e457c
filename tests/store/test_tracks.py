"""The store beside the events: the live picture, the track log, zones and acknowledgements."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.reporting.exports import render_events
from skyfence.reporting.incident import incident_report
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.errors import EventNotFoundError
from skyfence.store.events import EventStore
from skyfence.store.rows import EventFilter, event_row
from skyfence.store.tables import MIGRATIONS, SCHEMA_VERSION
from skyfence.web.app import create_app
from skyfence.zones.geojson import load_zones, zone_display_feature
from skyfence.zones.model import Zone, parse_altitude


def test_a_demo_store_holds_the_picture_tracks_and_zones(demo_store_path: Path) -> None:
    with EventStore(demo_store_path) as store:
        zones = {z["properties"]["id"]: z for z in store.zones()}
        entry = store.query(EventFilter(kind="entry", zone_id="DEMO-TRA-CENTRE"))[0]
        t = entry.time_iso
        track = store.positions(entry.icao24, 0, 2e9)
        sources = store.sources()
    assert set(zones) >= {"DEMO-TRA-CENTRE", "UKLV", "ZNPP-30KM"}
    assert zones["DEMO-TRA-CENTRE"]["properties"]["floor_ft"] == 20000
    assert zones["UKLV"]["properties"]["ceiling_ft"] is None  # UNL
    assert all(p["trusted"] for p in track)  # a clean flight
    times = [p["time_s"] for p in track]
    assert times == sorted(times) and len({t // 5 for t in times}) == len(times)  # thinned
    assert track[0]["time"] < t < track[-1]["time"]
    assert [s["messages"] for s in sources] == [7173, 8681]  # both replays, in full


def test_acknowledging_needs_a_known_event_and_the_first_one_stands(tmp_path: Path) -> None:
    from skyfence.engine.events import Event

    event = Event("entry", "Z", "4baac6", "THY9BP", "TR", 1726565064.7, 49.6, 23.9, 38000.0)
    with EventStore(tmp_path / "s.sqlite") as store:
        store.write([event])
        store.flush()
        before = store.get(event.id)
        assert before is not None and before.acknowledgement is None
        first = store.acknowledge(event.id, "ops", "called the ANSP")
        again = store.acknowledge(event.id, "someone else", "later")
        assert first.acknowledgement is not None and first.acknowledgement.by == "ops"
        assert again == first
        assert first.to_json() == before.to_json() == event.to_dict()  # the record is unchanged
        with pytest.raises(EventNotFoundError, match=f"no event '{'0' * 20}' in {store.path}"):
            store.acknowledge("0" * 20, "ops")
        (stored,) = store.query()
        assert stored.acknowledgement == first.acknowledgement


def test_old_tracks_are_pruned_except_around_events(tmp_path: Path) -> None:
    from skyfence.engine.events import Event

    rows = [("4baac6", float(t), "", 49.0, 24.0, 1.0, 1.0, 1.0, 1, "") for t in range(0, 10_000, 5)]
    other = [("abcdef", float(t), "", 49.0, 24.0, 1.0, 1.0, 1.0, 1, "") for t in range(0, 100, 5)]
    with EventStore(tmp_path / "s.sqlite") as store:
        store.write([Event("entry", "Z", "4baac6", "", "", 5000.0, 49.0, 24.0, None)])
        store.write_picture(positions=rows + other)
        store.flush()
        gone = store.prune_positions(before_s=9000.0, keep_around_events_s=1000.0)
        kept = [p["time_s"] for p in store.positions("4baac6", 0, 1e9)]
    assert gone == len([t for t in range(0, 9000, 5) if abs(t - 5000) > 1000]) + len(other)
    assert min(kept) == 4000.0 and 6000.0 in kept and 6005.0 not in kept


def test_a_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with EventStore(path) as store:
        pass
    with sqlite3.connect(path) as conn:  # make it look like a store from the first release
        tables = ("positions", "aircraft", "zones", "sources", "acknowledgements", "interference")
        for table in tables:
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP TABLE zone_versions")
        conn.execute("ALTER TABLE events DROP COLUMN zone_version")
        conn.execute("PRAGMA user_version = 1")
    with EventStore(path) as store:
        assert store.aircraft() == [] and store.zones() == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def _display(zones: list[Zone]) -> list[dict[str, Any]]:
    return [zone_display_feature(z) for z in zones]


def _events_of(zones: list[Zone], sv: StateVectors) -> list[Event]:
    engine = Engine(zones)
    return engine.process(sv) + engine.finish()


def test_old_events_keep_the_zone_version_they_were_found_with(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """Watch zone set A, then set B on the same store (one zone edited, one dropped, one
    added): events found under A still show A's zone, with its band, in the store, the API,
    the incident report and the exports; events found under B show B's."""
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    sv = sv.take(np.isin(sv.icao24, np.unique(sv.icao24)[:120]))
    zones_a = load_zones(paris_zones_path)
    edited = dataclasses.replace(zones_a[0], ceiling=parse_altitude("FL150"))
    zones_b = [edited, *zones_a[2:], *load_zones("ukraine")[:1]]  # NORTH-BOX dropped
    assert zones_a[0].band_text() == "SFC to FL100" and edited.band_text() == "SFC to FL150"
    path = tmp_path / "s.sqlite"
    with EventStore(path) as store:
        store.set_zones(_display(zones_a))
        found_a = _events_of(zones_a, sv)
        store.write(found_a)
        store.flush()
        store.set_zones(_display(zones_b))
        found_b = [e for e in _events_of(zones_b, sv) if e.id not in {a.id for a in found_a}]
        store.write(found_b)
        store.flush()
        store.set_zones(_display(zones_b))  # the same set again: no new version
    with EventStore(path) as store:  # and after a restart
        old = next(e for e in found_a if e.zone_id == "PARIS-20KM")
        new = next(e for e in found_b if e.zone_id == "PARIS-20KM")
        dropped = next(e for e in found_a if e.zone_id == "NORTH-BOX")
        old_zone, new_zone = store.event_zone(old.id), store.event_zone(new.id)
        assert old_zone is not None and new_zone is not None
        assert (old_zone["properties"]["band"], old_zone["properties"]["zone_version"]) == (
            "SFC to FL100",
            1,
        )
        assert (new_zone["properties"]["band"], new_zone["properties"]["zone_version"]) == (
            "SFC to FL150",
            2,
        )
        gone = store.event_zone(dropped.id)  # no longer watched, still known
        assert gone is not None and gone["properties"]["band"] == zones_a[1].band_text()
        assert {z["properties"]["id"]: z["properties"]["zone_version"] for z in store.zones()}[
            "PARIS-20KM"
        ] == 2
        assert "NORTH-BOX" not in {z["properties"]["id"] for z in store.zones()}
        stored = store.get(old.id)
        assert stored is not None and stored.to_json() == old.to_dict()  # the record is unchanged
        records = store.query(EventFilter(zone_id="PARIS-20KM"), limit=10_000)
        versions = {r.id: r.zone_version for r in records}
        assert versions[old.id] == 1 and versions[new.id] == 2
        rows = list(csv.DictReader(io.StringIO(render_events("csv", records))))
        assert {r["id"]: r["zone_version"] for r in rows}[old.id] == "1"
        page = incident_report(store, old.id)
        assert "PARIS-20KM (version 1): Paris 20 km circle, SFC to FL100" in page
        with TestClient(create_app(store, "t" * 32)) as client:
            detail = client.get(f"/api/events/{old.id}").json()
            assert detail["zone"]["properties"]["band"] == "SFC to FL100"
            assert detail["zone"]["properties"]["zone_version"] == 1


def test_a_version_2_store_keeps_its_zones_and_events_when_migrated(tmp_path: Path) -> None:
    """A store written before zone versions: its zones become version 1, and its events
    refer to them; nothing is lost."""
    path = tmp_path / "v2.sqlite"
    event = Event("entry", "Z", "4baac6", "THY9BP", "TR", 1726565064.7, 49.6, 23.9, 38000.0)
    with sqlite3.connect(path) as conn:  # exactly what release 2 created and wrote
        for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        conn.execute(f"INSERT INTO events VALUES ({', '.join('?' * 13)})", (*event_row(event), 1))
        feature = {"type": "Feature", "properties": {"id": "Z", "band": "SFC to FL100"}}
        conn.execute("INSERT INTO zones VALUES ('Z', ?)", (json.dumps(feature),))
    with EventStore(path) as store:
        stored = store.get(event.id)
        assert stored is not None and stored.to_json() == event.to_dict()
        zone = store.event_zone(event.id)
        assert zone is not None and zone["properties"] == {
            "id": "Z",
            "band": "SFC to FL100",
            "zone_version": 1,
        }
        store.set_zones([{**feature, "properties": {"id": "Z", "band": "SFC to FL200"}}])
        assert store.event_zone(event.id) == zone  # the new zone set rewrites nothing
