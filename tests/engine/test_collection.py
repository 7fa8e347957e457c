"""Fewer garbage collections during an audit: settings restored, same events."""

from __future__ import annotations

import gc
from pathlib import Path

from skyfence.engine.collection import YOUNG_THRESHOLD, fewer_collections
from skyfence.engine.engine import Engine
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones


def test_settings_are_restored_and_events_unchanged(samples: Path, paris_zones_path: Path) -> None:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    zones = load_zones(paris_zones_path)
    plain = Engine(zones)
    expected = [e.to_dict() for e in plain.process(sv) + plain.finish()]
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0  # what was alive on entry is left alone
        engine = Engine(zones)
        found = [e.to_dict() for e in engine.process(sv) + engine.finish()]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert len(expected) > 1_000
    assert found == expected
