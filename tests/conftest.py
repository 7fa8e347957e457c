"""Shared fixtures: the real recordings of the `traffic` package, read without importing it."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import WatchProcess

HERE = Path(__file__).parent
TEST_DATA = HERE / "data"


def traffic_samples() -> Path:
    spec = importlib.util.find_spec("traffic")
    assert spec is not None and spec.submodule_search_locations, "pip install -e '.[test]'"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    return traffic_samples()


@pytest.fixture(scope="session")
def paris_zones_path() -> Path:
    return TEST_DATA / "paris_zones.geojson"


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store `skyfence demo` writes: two real recordings replayed through `watch`."""
    from typer.testing import CliRunner

    from skyfence.cli import app

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    run = CliRunner().invoke(app, ["demo", "--no-web", "--store", str(path)])
    assert run.exit_code == 0, run.output
    return path


@pytest.fixture
def watches() -> Iterator[list[WatchProcess]]:
    """The `watch` subprocesses a test starts, killed when it ends however it ends."""
    started: list[WatchProcess] = []
    yield started
    for watch in started:
        watch.kill()


@pytest.fixture(scope="session")
def rule_events(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """A rule's events on real frames (no zone): AFR 393322 whose identity replies were
    re-encoded to 7700 for a stretch, and on a watch list of one row."""
    from fakes import squawking

    from skyfence.auditing import run_audit
    from skyfence.engine.engine import Engine
    from skyfence.engine.events import Event
    from skyfence.rules import RuleSet
    from skyfence.rules.squawk import EmergencySquawks
    from skyfence.rules.watchlist import WatchedAircraft, WatchList

    out = tmp_path_factory.mktemp("rules")
    squawking(samples, out / "flight.jsonl", [range(300, 400)])
    listed = out / "plane-alert-db.csv"
    listed.write_text(
        "$ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category,"
        "$#Link\n393322,,Air France,Airbus,,Civ,Flag carrier,,,Airlines,\n"
    )
    rules = RuleSet([EmergencySquawks(), WatchedAircraft(WatchList.load([listed]))])
    events: list[Event] = []
    run_audit([out / "flight.jsonl"], Engine([], rules=rules), [], on_events=events.extend)
    assert sorted(e.kind for e in events) == ["emergency_squawk", "watched_aircraft"]
    return sorted(events, key=lambda e: e.kind)


@pytest.fixture(scope="session")
def quickstart_events(samples: Path, paris_zones_path: Path) -> list[Any]:
    """The engine's events on traffic's quickstart recording (28 aircraft around the Paris
    test zones, over a thousand events): found once for the whole session."""
    from skyfence.engine.engine import Engine
    from skyfence.schema import StateVectors
    from skyfence.sources.recordings import read_recording
    from skyfence.zones.geojson import load_zones

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    engine = Engine(load_zones(paris_zones_path))
    return engine.process(sv) + engine.finish()
