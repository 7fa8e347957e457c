"""The events the store's tests write: the engine's on traffic's quickstart recording (28
aircraft around the Paris test zones), found once for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones


@pytest.fixture(scope="session")
def quickstart_events(samples: Path, paris_zones_path: Path) -> list[Event]:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    engine = Engine(load_zones(paris_zones_path))
    return engine.process(sv) + engine.finish()
