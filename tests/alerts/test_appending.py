"""`watch -o` across restarts, on the events of a real recording (traffic's quickstart)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from skyfence.alerts.appending import holds_events, next_part, open_appending
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
    found = engine.process(sv) + engine.finish()
    assert len(found) > 100
    return found


def write(path: Path, events: list[Event]) -> None:
    sink = open_sink(path)
    sink.write(events)
    sink.close()


def test_each_run_writes_the_part_after_the_last(events: list[Event], tmp_path: Path) -> None:
    """A new file is written itself; then events.1.parquet, events.2.parquet...: after the last
    part, even when one before it was removed. The parts read as one table hold every run's
    events, and no file is written over."""
    path = tmp_path / "events.parquet"
    runs = [events[:50], events[50:100], events[100:]]
    written = []
    for run in runs:
        sink, part = open_appending(path)
        sink.write(run)
        sink.close()
        written.append(part.name)
    assert written == ["events.parquet", "events.1.parquet", "events.2.parquet"]
    (tmp_path / "events.1.parquet").rename(tmp_path / "kept.parquet.bak")
    assert next_part(path).name == "events.3.parquet"
    (tmp_path / "events.other.parquet").write_text("not a part")  # not numbered: not a part
    assert next_part(path).name == "events.3.parquet"
    parts = [path, *sorted(tmp_path.glob("events.[0-9]*.parquet"))]
    ids = ds.dataset(parts).to_table(columns=["id"]).column("id").to_pylist()
    assert sorted(ids) == sorted(e.id for e in events[:50] + events[100:])


def test_a_part_left_by_a_killed_watch_is_kept_and_the_next_one_written(
    events: list[Event], tmp_path: Path
) -> None:
    """A watch killed while writing Parquet leaves a file without its footer (its events are
    in the store): kept as it is, and the restart writes the next part. A file emptied before
    its first bytes is kept too."""
    path = tmp_path / "events.parquet"
    write(path, events)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # the footer is at the end
    cut = path.read_bytes()
    assert not holds_events(path)
    sink, part = open_appending(path)
    sink.write(events[:10])
    sink.close()
    assert part.name == "events.1.parquet" and path.read_bytes() == cut
    assert ds.dataset(part).count_rows() == 10
    empty = tmp_path / "empty.parquet"
    empty.touch()
    assert next_part(empty).name == "empty.1.parquet"


def test_appending_to_jsonl_and_csv_writes_the_file_itself(
    events: list[Event], tmp_path: Path
) -> None:
    for name in ("events.jsonl", "events.csv"):
        path = tmp_path / name
        write(path, events[:10])
        sink, written = open_appending(path)
        sink.close()
        assert written == path
