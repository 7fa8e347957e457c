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


def test_appending_keeps_the_events_a_file_holds(events: list[Event], tmp_path: Path) -> None:
    """What `watch -o` does after a restart: JSONL and CSV files get the new events after the
    old ones, one CSV header, and a line cut by a crash stays a line of its own."""
    expected = [e["id"] for e in (e.to_dict() for e in events)]
    for ext in (".jsonl", ".csv"):
        path = tmp_path / f"events{ext}"
        for part, append in ((events[:10], False), (events[10:], True)):
            sink = open_sink(path, append=append)
            sink.write(part)
            sink.close()
        if ext == ".jsonl":
            ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
        else:
            with path.open() as f:
                ids = [r["id"] for r in csv.DictReader(f)]
        assert ids == expected
    cut = tmp_path / "cut.jsonl"
    cut.write_text('{"id": "cut mid-li')
    sink = open_sink(cut, append=True)
    sink.write(events[:1])
    sink.close()
    assert cut.read_text().splitlines()[1] == json.dumps(events[0].to_dict(), ensure_ascii=False)


def test_a_file_that_cannot_be_appended_to_is_refused_and_kept(
    events: list[Event], tmp_path: Path
) -> None:
    parquet = tmp_path / "events.parquet"
    sink = open_sink(parquet)
    sink.write(events)
    sink.close()
    held = parquet.read_bytes()
    with pytest.raises(ValueError, match=r"events\.parquet: a Parquet file cannot be appended to"):
        open_sink(parquet, append=True)
    foreign = tmp_path / "states.csv"
    foreign.write_text("time,icao24,lat,lon\n1,abc,0,0\n")
    with pytest.raises(ValueError, match=r"states\.csv: its first line is not skyfence's event"):
        open_sink(foreign, append=True)
    assert parquet.read_bytes() == held
    assert foreign.read_text() == "time,icao24,lat,lon\n1,abc,0,0\n"


def test_appending_to_a_csv_saved_by_a_spreadsheet(events: list[Event], tmp_path: Path) -> None:
    """A spreadsheet saves the event file back with a byte-order mark and CRLF line ends (Excel's
    "CSV UTF-8"): still skyfence's events, appended to. Saved as UTF-16 ("Unicode text"), it is
    refused naming the file, and kept as it is."""
    path = tmp_path / "events.csv"
    sink = open_sink(path)
    sink.write(events[:10])
    sink.close()
    saved = "\ufeff" + path.read_text(encoding="utf-8").replace("\r\n", "\n")
    path.write_bytes(saved.replace("\n", "\r\n").encode("utf-8"))
    sink = open_sink(path, append=True)
    sink.write(events[10:])
    sink.close()
    with path.open(encoding="utf-8-sig", newline="") as f:
        ids = [r["id"] for r in csv.DictReader(f)]
    assert ids == [e.to_dict()["id"] for e in events]

    wide = tmp_path / "wide.csv"
    wide.write_bytes(saved.encode("utf-16"))
    held = wide.read_bytes()
    with pytest.raises(ValueError, match=r"wide\.csv: .*not UTF-8"):
        open_sink(wide, append=True)
    assert wide.read_bytes() == held
