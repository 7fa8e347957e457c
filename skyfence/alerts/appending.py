"""`watch -o FILE` across restarts: which file this run writes, after what the file holds.

A JSONL or CSV file is appended to (`files.open_sink(append=True)`). A Parquet file cannot be:
its footer, written when it is closed, indexes its rows. So an existing `events.parquet` is kept
and this run writes the next part beside it, `events.1.parquet`, `events.2.parquet`...; the
parts read together as one table (`pyarrow.dataset.dataset([...])`, docs/usage.md). A file that
is not skyfence's events is refused, never written over: a service restarted by systemd keeps
running, and loses nothing.

A run also leaves out the events the file (or its parts) already holds, as the store does by
their ids: a recording replayed twice, or a feed heard again after a restart, would otherwise
write its events twice. Only the ids are read, by Arrow, once when the run starts.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from skyfence.alerts.files import PARQUET_SCHEMA, EventSink, check_event_csv, open_sink
from skyfence.alerts.registry import output_for
from skyfence.engine.events import EVENT_COLUMNS, Event
from skyfence.errors import InputError

PARQUET_MAGIC = b"PAR1"  # the first bytes of every Parquet file, written when it is opened


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def parquet_parts(path: Path) -> list[Path]:
    """`path` and its numbered parts (`events.1.parquet`...) that exist, in the order written."""
    pattern = re.compile(re.escape(path.stem) + r"\.(\d+)" + re.escape(path.suffix))
    numbered = sorted(
        (int(found.group(1)), p)
        for p in path.parent.glob(f"*{path.suffix}")
        if (found := pattern.fullmatch(p.name))
    )
    return ([path] if path.exists() else []) + [p for _, p in numbered]


def holds_events(path: Path) -> bool:
    """Whether a Parquet file can be read as skyfence's events: True, or False for one whose
    footer is missing (a `watch` killed while writing it: its events are in the store). An
    InputError for any other file, which is not to be written beside."""
    if not path.is_file():  # a folder, or a link to nothing, named like a part
        raise InputError(
            f"{path}: not a file (a folder, or a link to nothing) named like a part of the "
            "event file: move it, or give another file"
        )
    with path.open("rb") as f:
        head = f.read(len(PARQUET_MAGIC))
    if head not in (PARQUET_MAGIC, b""):  # empty: killed before its first bytes
        raise InputError(
            f"{path}: not a Parquet file: events are written only beside a Parquet file of "
            "events; give another file"
        )
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError):
        return False
    if names != PARQUET_SCHEMA.names:
        raise InputError(
            f"{path}: its columns are not skyfence's events ({', '.join(names[:12])}): events "
            "are written only beside a Parquet file of events; give another file"
        )
    return True


def next_part(path: Path) -> Path:
    """The Parquet file this run writes: `path` when it does not exist, else the part after
    the last one (each part checked first)."""
    parts = parquet_parts(path)
    for part in parts:
        holds_events(part)
    if not path.exists():
        return path
    last = 0 if len(parts) == 1 else int(parts[-1].stem.rsplit(".", 1)[1])
    return path.with_name(f"{path.stem}.{last + 1}{path.suffix}")


class NewEventsOnly:
    """A sink that does not write again an event whose id it holds already; `skipped` counts
    those left out."""

    def __init__(self, sink: EventSink, held: set[str]) -> None:
        self._sink = sink
        self._held = held
        self.skipped = 0

    def write(self, events: list[Event]) -> None:
        new = []
        for event in events:
            event_id = event.id
            if event_id in self._held:
                self.skipped += 1
            else:
                self._held.add(event_id)
                new.append(event)
        if new:
            self._sink.write(new)

    def close(self) -> None:
        self._sink.close()


@dataclass(frozen=True, slots=True)
class Appending:
    """Where `watch -o` writes, found before anything is opened or created: `written` is `path`
    itself (a JSONL or CSV file, appended to), or the next part beside a Parquet file that
    exists; `held` are the ids of the events the file holds, not written again."""

    path: Path
    written: Path
    held: frozenset[str]

    def open(self) -> NewEventsOnly:
        return NewEventsOnly(open_sink(self.written, append=True), set(self.held))


def prepare_appending(path: Path) -> Appending:
    """Everything `watch -o` refuses (a file type nobody writes, a file that is not events),
    refused before the run opens anything: a store that then fails to open leaves no empty
    part behind, restart after restart."""
    output_for(str(path))
    if is_csv(path):
        check_event_csv(path)
    written = next_part(path) if is_parquet(path) else path
    held = held_ids(path)  # before the sink ends a line cut by a crash: that one is not held
    return Appending(path, written, frozenset(held))


def held_ids(path: Path) -> set[str]:
    """The ids of the events an event file holds (a Parquet file: with its parts). A line
    without its line end, cut by a crash, holds none: its event is written again, whole."""
    if is_parquet(path):
        return {i for part in parquet_parts(path) if holds_events(part) for i in _part_ids(part)}
    size = _whole_lines(path)
    if size == 0:
        return set()
    data = pa.memory_map(str(path)).read_buffer(size)
    jsonl = path.suffix.lower() == ".jsonl"
    try:
        ids = _jsonl_ids_arrow(data) if jsonl else _csv_ids_arrow(data)
    except (pa.ArrowException, KeyError):  # a line cut mid-file, a byte that is not UTF-8
        text = data.to_pybytes().decode("utf-8-sig", errors="replace").splitlines()
        return _jsonl_ids(text) if jsonl else _csv_ids(text)
    return {i for i in ids if i is not None}


def _part_ids(part: Path) -> list[str]:
    """The ids of a Parquet part; none from a damaged page (its events are written again)."""
    try:
        ids: list[str] = pq.read_table(part, columns=["id"]).column("id").to_pylist()
    except (pa.ArrowException, OSError):
        return []
    return ids


def _whole_lines(path: Path) -> int:
    """The file's bytes up to its last line end: LF, CRLF or CR alone (Excel's "CSV
    (Macintosh)", an old Mac editor)."""
    if not path.is_file():
        return 0
    with path.open("rb") as f:
        end = f.seek(0, 2)
        while end > 0:
            start = max(0, end - (1 << 16))
            f.seek(start)
            chunk = f.read(end - start)
            at = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            if at >= 0:
                return start + at + 1
            end = start
    return 0


def _jsonl_ids_arrow(data: pa.Buffer) -> list[str | None]:
    schema = pa.schema([("id", pa.string())])
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    table = pajson.read_json(pa.BufferReader(data), parse_options=options)
    ids: list[str | None] = table.column("id").to_pylist()
    return ids


def _csv_ids_arrow(data: pa.Buffer) -> list[str | None]:
    """The id column; rows without every column (cut) are skipped."""
    table = pacsv.read_csv(
        pa.BufferReader(data),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _: "skip"),
        convert_options=pacsv.ConvertOptions(
            include_columns=["id"], column_types={"id": pa.string()}
        ),
    )
    ids: list[str | None] = table.column("id").to_pylist()
    return ids


def _jsonl_ids(lines: list[str]) -> set[str]:
    ids = set()
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # cut, or not an event
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            ids.add(record["id"])
    return ids


def _csv_ids(lines: list[str]) -> set[str]:
    ids = set()
    try:
        for row in csv.reader(lines):
            if len(row) == len(EVENT_COLUMNS) and row[0] != "id":
                ids.add(row[0])
    except csv.Error:  # a field past the csv module's limit: what was read is kept
        pass
    return ids
