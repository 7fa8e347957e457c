"""The store beside the events: the live picture, the track log, zones and acknowledgements."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from skyfence.store.events import EventStore
from skyfence.store.schema import SCHEMA_VERSION


def test_a_demo_store_holds_the_picture_tracks_and_zones(demo_store_path: Path) -> None:
    with EventStore(demo_store_path) as store:
        zones = {z["properties"]["id"]: z for z in store.zones()}
        entry = store.query(kind="entry", zone_id="DEMO-TRA-CENTRE")[0]
        t = entry["time"]
        track = store.positions(entry["icao24"], 0, 2e9)
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
        assert store.get(event.id, acknowledged=True)["acknowledged"] is None  # type: ignore[index]
        first = store.acknowledge(event.id, "ops", "called the ANSP")
        again = store.acknowledge(event.id, "someone else", "later")
        assert first["acknowledged"]["by"] == "ops" and again == first
        assert store.get(event.id) == event.to_dict()  # the event record itself is unchanged
        with pytest.raises(KeyError):
            store.acknowledge("0" * 20, "ops")
        assert store.query(acknowledged=True)[0]["acknowledged"]["note"] == "called the ANSP"


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
        conn.execute("PRAGMA user_version = 1")
    with EventStore(path) as store:
        assert store.aircraft() == [] and store.zones() == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
