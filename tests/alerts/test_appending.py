"""`watch -o` across restarts, on the events of a real recording (traffic's quickstart)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from skyfence.alerts.appending import held_ids, holds_events, next_part, prepare_appending
from skyfence.alerts.files import open_sink
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.errors import InputError
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
        appending = prepare_appending(path)
        sink = appending.open()
        sink.write(run)
        sink.close()
        written.append(appending.written.name)
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
    its first bytes is kept too, and one whose id column cannot be read holds no id."""
    path = tmp_path / "events.parquet"
    write(path, events)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # the footer is at the end
    cut = path.read_bytes()
    assert not holds_events(path)
    part = prepare_appending(path).written
    sink = open_sink(part)
    sink.write(events[:10])
    sink.close()
    assert part.name == "events.1.parquet" and path.read_bytes() == cut
    assert ds.dataset(part).count_rows() == 10
    empty = tmp_path / "empty.parquet"
    empty.touch()
    assert next_part(empty).name == "empty.1.parquet"
    damaged = tmp_path / "damaged.parquet"  # a page of the id column overwritten
    write(damaged, events)
    data = bytearray(damaged.read_bytes())
    data[40:4_000] = b"\x55" * len(data[40:4_000])
    damaged.write_bytes(bytes(data))
    assert holds_events(damaged) and held_ids(damaged) == set()  # written again: none lost
    assert prepare_appending(damaged).written.name == "damaged.1.parquet"


def test_a_folder_or_a_broken_link_named_like_a_part_is_refused_by_name(
    events: list[Event], tmp_path: Path
) -> None:
    """It stopped `watch` with the raw "Is a directory" or "No such file"."""
    path = tmp_path / "events.parquet"
    write(path, events)
    (tmp_path / "events.1.parquet").mkdir()
    with pytest.raises(InputError, match=r"events\.1\.parquet: not a file \(a folder"):
        prepare_appending(path)
    (tmp_path / "events.1.parquet").rmdir()
    (tmp_path / "events.2.parquet").symlink_to(tmp_path / "gone.parquet")
    with pytest.raises(InputError, match=r"events\.2\.parquet: not a file"):
        prepare_appending(path)


def test_appending_to_jsonl_and_csv_writes_the_file_itself(
    events: list[Event], tmp_path: Path
) -> None:
    for name in ("events.jsonl", "events.csv"):
        path = tmp_path / name
        write(path, events[:10])
        assert prepare_appending(path).written == path


def replay(path: Path, events: list[Event]) -> int:
    """One run of `watch -o path` that finds `events`: how many it did not write again."""
    sink = prepare_appending(path).open()
    sink.write(events[: len(events) // 2])
    sink.write(events[len(events) // 2 :])
    sink.close()
    return sink.skipped


def file_ids(path: Path) -> list[str]:
    if path.suffix == ".jsonl":
        ids = []
        for line in path.read_text().splitlines():
            try:
                ids.append(json.loads(line)["id"])
            except ValueError:  # a line cut by a crash
                continue
        return ids
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [row["id"] for row in csv.DictReader(f)]


def test_a_replay_writes_only_the_events_the_file_does_not_hold(
    events: list[Event], tmp_path: Path
) -> None:
    """A run that finds the events of an earlier one (a recording replayed, a feed heard again
    after a restart) writes only the others; ids that repeat within one run are written once."""
    ids = [e.id for e in events]
    for name in ("events.jsonl", "events.csv", "events.parquet"):
        path = tmp_path / name
        assert replay(path, events[:100]) == 0
        assert replay(path, events + events[:5]) == 105  # again, and twice within the run
        if path.suffix == ".parquet":
            parts = [path, *sorted(tmp_path.glob("events.[0-9]*.parquet"))]
            held = ds.dataset(parts).to_table(columns=["id"]).column("id").to_pylist()
        else:
            held = file_ids(path)
        assert held == ids, name
        assert held_ids(path) == set(ids)


def test_an_event_on_a_line_cut_by_a_crash_is_written_again_whole(
    events: list[Event], tmp_path: Path
) -> None:
    """The last line cut by a crash (no line end) holds no event: a replay writes it again,
    whole. A cut line that a restart already ended, among whole lines, costs only itself."""
    for name in ("events.jsonl", "events.csv"):
        path = tmp_path / name
        replay(path, events[:10])
        text = path.read_bytes()
        path.write_bytes(text[: text.rstrip(b"\r\n").rfind(b"\n") + 1 + 40])  # line 10 cut
        assert events[9].id not in held_ids(path) and events[8].id in held_ids(path)
        assert replay(path, events[:20]) == 9
        assert file_ids(path)[-11:] == [e.id for e in events[9:20]], name
        data = path.read_bytes()
        first = data.index(b"\n") + 1  # a cut line after the first one, ended by a restart
        path.write_bytes(data[:first] + data[first : first + 40] + b"\n" + data[first:])
        assert held_ids(path) == {e.id for e in events[:20]}


def test_the_ids_of_a_spreadsheet_csv_and_of_a_noisy_file_are_read(
    events: list[Event], tmp_path: Path
) -> None:
    """Excel's "CSV UTF-8": a byte-order mark and CRLF line ends; and files with a byte that
    is not UTF-8 in a callsign or an id: the ids are still read, the other events written once."""
    path = tmp_path / "events.csv"
    replay(path, events[:10])
    saved = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + saved)
    assert held_ids(path) == {e.id for e in events[:10]}
    assert replay(path, events[:20]) == 10
    assert file_ids(path) == [e.id for e in events[:20]]
    noisy = tmp_path / "noisy.jsonl"
    replay(noisy, events[:10])
    noisy.write_bytes(noisy.read_bytes().replace(b'"callsign": "', b'"callsign": "\xff', 1))
    assert held_ids(noisy) == {e.id for e in events[:10]}
    noisy = tmp_path / "noisy.csv"  # Arrow refuses the id column: read by the csv module
    replay(noisy, events[:10])
    noisy.write_bytes(noisy.read_bytes().replace(events[0].id.encode(), b"\xff", 1))
    assert held_ids(noisy) == {"\ufffd", *(e.id for e in events[1:10])}


def test_the_ids_of_a_file_saved_with_cr_line_ends_are_read(
    events: list[Event], tmp_path: Path
) -> None:
    """Excel's "CSV (Macintosh)" ends its lines with CR alone, as an editor on an old Mac
    does: no LF in the file, so every line was taken for one cut by a crash, and a replay
    wrote every event again."""
    for name in ("events.csv", "events.jsonl"):
        path = tmp_path / name
        replay(path, events[:10])
        saved = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r")
        path.write_bytes(saved)
        assert held_ids(path) == {e.id for e in events[:10]}, name
        assert replay(path, events[:20]) == 10, name
        path.write_bytes(saved[:-30])  # the last line cut: its event is written again
        assert held_ids(path) == {e.id for e in events[:9]}, name
