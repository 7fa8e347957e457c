"""Zones reloaded while watching, on real traffic (Paris, 7 Oct 2021): removed zones end their
open states with `zone_withdrawn`, kept zones keep their aircraft, bad files change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore
from skyfence.watch_zones import ZoneReloader
from skyfence.watching import ReplaySource, run_watch
from skyfence.zones.load import load_zone_source


@pytest.fixture(scope="module")
def traffic(samples: Path) -> StateVectors:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    keep = np.isin(sv.icao24, np.unique(sv.icao24)[:150])  # 150 aircraft keep it quick
    sv = sv.take(keep)
    return sv.take(np.argsort(sv.t_s, kind="stable"))


def write(
    path: Path,
    document: dict[str, Any],
    drop: tuple[str, ...] = (),
    changes: dict[str, dict[str, Any]] | None = None,
) -> None:
    features = [f for f in document["features"] if f["properties"]["id"] not in drop]
    for f in features:
        f["properties"].update((changes or {}).get(f["properties"]["id"], {}))
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def test_removed_kept_and_added_zones(
    traffic: StateVectors, paris_zones_path: Path, tmp_path: Path
) -> None:
    source = json.loads(paris_zones_path.read_text())
    zone_file = tmp_path / "zones.geojson"
    write(zone_file, json.loads(json.dumps(source)), drop=("NORTH-BOX",))
    engine = Engine(load_zone_source(str(zone_file)))
    said: list[str] = []
    reloader = ZoneReloader([str(zone_file)], engine, check_every_s=0.0, say=said.append)
    half = traffic.t_s < np.median(traffic.t_s)
    before = engine.process(traffic.take(np.flatnonzero(half)))
    inside = engine.inside()
    in_paris = {a for a, ids in inside.items() if "PARIS-20KM" in ids}
    in_cdg = {a for a, ids in inside.items() if "CDG-10NM" in ids}
    assert in_paris and in_cdg and before

    assert reloader() == []  # nothing changed: nothing happens
    # PARIS-20KM withdrawn, CDG-10NM kept (its name edited), NORTH-BOX published
    write(
        zone_file,
        json.loads(json.dumps(source)),
        drop=("PARIS-20KM",),
        changes={"CDG-10NM": {"name": "CDG"}},
    )
    withdrawn = reloader()
    assert {e.kind for e in withdrawn} == {"zone_withdrawn"}
    assert {int(e.icao24, 16) for e in withdrawn} == in_paris
    assert all(e.zone_id == "PARIS-20KM" and e.t_s == engine.clock_s for e in withdrawn)
    assert said[-1].startswith("zones reloaded: 4 zones (1 new, 1 removed")
    assert {a for a, ids in engine.inside().items() if "CDG-10NM" in ids} == in_cdg

    after = engine.process(traffic.take(np.flatnonzero(~half))) + engine.finish()
    assert not [e for e in after if e.zone_id == "PARIS-20KM"]  # no phantom exit
    # the zones kept behave exactly as if nothing had been reloaded: same events, same times
    unchanged = Engine(load_zone_source(str(paris_zones_path)))
    unchanged.process(traffic.take(np.flatnonzero(half)))
    baseline = unchanged.process(traffic.take(np.flatnonzero(~half))) + unchanged.finish()

    def kept(events: list[Event]) -> list[tuple[str, str, str, float]]:
        return sorted(
            (e.kind, e.zone_id, e.icao24, e.t_s)
            for e in events
            if e.zone_id in ("CDG-10NM", "EAST-L", "HIGH-WEST") and e.kind != "suspect_position"
        )

    assert kept(after) == kept(baseline) and kept(after)
    assert any(e.zone_id == "NORTH-BOX" for e in after)
    cdg = [e for e in after if e.zone_id == "CDG-10NM" and e.kind in ("entry", "exit")]
    assert cdg and all(e.details["zone_name"] == "CDG" for e in cdg)


def test_invalid_new_file_is_refused_and_the_old_zones_stay(
    paris_zones_path: Path, tmp_path: Path
) -> None:
    zone_file = tmp_path / "zones.geojson"
    zone_file.write_text(paris_zones_path.read_text())
    engine = Engine(load_zone_source(str(zone_file)))
    store = EventStore(tmp_path / "events.sqlite")
    try:
        said: list[str] = []
        reloader = ZoneReloader([str(zone_file)], engine, store, check_every_s=0.0, say=said.append)
        zone_file.write_text(paris_zones_path.read_text().replace('"FL100"', '"FL1000 ft"'))
        assert reloader() == []
        assert reloader.refused == 1 and "the previous zones stay in force" in said[-1]
        assert "ceiling" in said[-1] and "PARIS-20KM" in said[-1]
        assert len(engine.zones.zones) == 5
        # fixed: the next look reloads, and the store (what /api/zones serves) follows
        write(zone_file, json.loads(paris_zones_path.read_text()), drop=("EAST-L",))
        assert reloader() == [] and reloader.reloads == 1
        store.flush()
        assert sorted(f["properties"]["id"] for f in store.zones()) == sorted(
            ["PARIS-20KM", "NORTH-BOX", "HIGH-WEST", "CDG-10NM"]
        )
    finally:
        store.close()


def test_request_reloads_without_a_file_change(paris_zones_path: Path, tmp_path: Path) -> None:
    """What SIGHUP does: reload now, even if the file looks the same (an edit within the same
    second and size)."""
    zone_file = tmp_path / "zones.geojson"
    zone_file.write_text(paris_zones_path.read_text())
    engine = Engine(load_zone_source(str(zone_file)))
    reloader = ZoneReloader([str(zone_file)], engine, check_every_s=3600.0, say=lambda _: None)
    assert reloader() == [] and reloader.reloads == 0
    reloader.request()
    assert reloader() == [] and reloader.reloads == 1


def test_run_watch_emits_withdrawals_to_its_sinks(
    traffic: StateVectors, paris_zones_path: Path, tmp_path: Path
) -> None:
    zone_file = tmp_path / "zones.geojson"
    zone_file.write_text(paris_zones_path.read_text())
    engine = Engine(load_zone_source(str(zone_file)))
    reloader = ZoneReloader([str(zone_file)], engine, check_every_s=0.0, say=lambda _: None)
    middle = float(np.median(traffic.t_s))
    # 40 minutes around the middle: the replay ticks once per second of recording
    traffic = traffic.take(np.flatnonzero(np.abs(traffic.t_s - middle) < 1200))

    def reload_midway() -> list[Event]:
        if engine.clock_s >= middle and reloader.reloads == 0:
            write(zone_file, json.loads(paris_zones_path.read_text()), drop=("PARIS-20KM",))
            reloader.request()
        return reloader()

    seen: list[Event] = []
    result = run_watch(
        [ReplaySource(traffic)], engine, [], on_events=seen.extend, reload_zones=reload_midway
    )
    withdrawn = [e for e in seen if e.kind == "zone_withdrawn"]
    assert (
        reloader.reloads == 1 and withdrawn and result.by_kind["zone_withdrawn"] == len(withdrawn)
    )
    assert not [e for e in seen if e.zone_id == "PARIS-20KM" and e.t_s > withdrawn[0].t_s]
