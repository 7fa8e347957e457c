from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from skyfence.alerts.files import open_sink
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones


@pytest.fixture(scope="module")
def events(samples: Path, paris_zones_path: Path) -> list[Event]:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    engine = Engine(load_zones(paris_zones_path))
    return engine.process(sv) + engine.finish()


def test_every_format_holds_the_same_records(events: list[Event], tmp_path: Path) -> None:
    paths = [tmp_path / f"events{ext}" for ext in (".jsonl", ".csv", ".parquet")]
    for path in paths:
        sink = open_sink(path)
        sink.write(events[:100])
        sink.write(events[100:])  # written as they come, in several calls
        sink.close()
    expected = [e.to_dict() for e in events]
    from_jsonl = [json.loads(line) for line in paths[0].read_text().splitlines()]
    assert from_jsonl == expected
    with paths[1].open() as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [e["id"] for e in expected]
    assert [json.loads(r["details"]) for r in rows] == [e["details"] for e in expected]
    table = pq.read_table(paths[2]).to_pylist()
    assert [r["id"] for r in table] == [e["id"] for e in expected]
    assert [r["time"].isoformat(timespec="milliseconds").replace("+00:00", "Z") for r in table] == [
        e["time"] for e in expected
    ]
    assert [json.loads(r["details"]) for r in table] == [e["details"] for e in expected]


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"events\.txt: unknown event file type '\.txt'"):
        open_sink(tmp_path / "events.txt")
