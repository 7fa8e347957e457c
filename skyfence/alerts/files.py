"""Event files: JSONL, CSV and Parquet, chosen by the file's extension.

Every writer takes events as they come (`write`), so an audit larger than memory streams its
events out, and `close` finishes the file. The columns are the event record's, in the same order
everywhere; `details` is a JSON object in CSV and Parquet.

An audit replaces its file (it is a whole answer); `watch` appends (`append=True`), so a service
restart keeps the events it wrote before for whoever tails or ingests the file. A Parquet file
cannot be appended to: an existing one is refused rather than emptied (`watch` writes the
next part beside it: `skyfence.alerts.appending`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from skyfence.alerts.registry import FILE_FORMATS, load, output_for
from skyfence.engine.events import EVENT_COLUMNS, Event
from skyfence.errors import InputError
from skyfence.text import csv_cell

FORMATS = FILE_FORMATS


class EventSink(Protocol):
    def write(self, events: list[Event]) -> None: ...

    def close(self) -> None: ...


def _ends_a_line(path: Path) -> bool:
    """Whether appending to `path` starts a new line: a file cut mid-line by a crash would
    otherwise glue its first new event to the broken one."""
    with path.open("rb") as f:
        if f.seek(0, 2) == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


def _open_text(path: Path, append: bool) -> tuple[IO[str], bool]:
    """The file opened to write, and whether it already holds rows (appended to)."""
    held = append and path.is_file() and path.stat().st_size > 0
    handle = path.open("a" if append else "w", encoding="utf-8", newline="")
    if held and not _ends_a_line(path):
        handle.write("\n")
    return handle, held


class JsonlSink:
    def __init__(self, path: Path, *, append: bool = False) -> None:
        self._file, _ = _open_text(path, append)

    def write(self, events: list[Event]) -> None:
        for event in events:
            self._file.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()


def _csv_header(path: Path) -> list[str]:
    """The first row of a CSV file; a spreadsheet that saved it back put a byte-order mark first
    (Excel's "CSV UTF-8"), which is not part of the first column's name."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return next(csv.reader(f), [])
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}): events are appended only to a file of "
            "events; give another file"
        ) from None


def check_event_csv(path: Path) -> None:
    """An InputError unless the file is new, empty or starts with the event header: events are
    appended only to a file of events."""
    if path.is_file() and path.stat().st_size > 0:
        header = _csv_header(path)
        if header != list(EVENT_COLUMNS):
            raise InputError(
                f"{path}: its first line is not skyfence's event header "
                f"({','.join(EVENT_COLUMNS)}): events are appended only to a file of events; "
                "give another file"
            )


class CsvSink:
    def __init__(self, path: Path, *, append: bool = False) -> None:
        if append:
            check_event_csv(path)
        self._file, held = _open_text(path, append)
        self._csv = csv.DictWriter(self._file, fieldnames=EVENT_COLUMNS)
        if not held:  # one header, however many runs append
            self._csv.writeheader()

    def write(self, events: list[Event]) -> None:
        for event in events:
            row = event.to_dict()
            row["details"] = json.dumps(row["details"], ensure_ascii=False)
            self._csv.writerow({k: csv_cell(v) for k, v in row.items()})

    def close(self) -> None:
        self._file.close()


PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("zone_id", pa.string()),
        ("icao24", pa.string()),
        ("callsign", pa.string()),
        ("country", pa.string()),
        ("time", pa.timestamp("ms", tz="UTC")),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("altitude_ft", pa.float64()),
        ("details", pa.string()),
    ]
)


def events_table(events: list[Event]) -> pa.Table:
    """Events as an Arrow table of `PARQUET_SCHEMA`: the Parquet file's rows, and what a Spark
    executor hands back."""
    rows = [event.to_dict() for event in events]
    columns: dict[str, list[Any]] = {name: [r[name] for r in rows] for name in EVENT_COLUMNS}
    columns["time"] = [round(e.t_s * 1000) for e in events]
    columns["details"] = [json.dumps(r["details"], ensure_ascii=False) for r in rows]
    return pa.table(
        [
            pa.array(columns[f.name], f.type)
            if f.name != "time"
            else pa.array(columns["time"], pa.int64()).cast(f.type)
            for f in PARQUET_SCHEMA
        ],
        schema=PARQUET_SCHEMA,
    )


class ParquetSink:
    def __init__(self, path: Path, *, append: bool = False) -> None:
        if append and path.exists():
            raise InputError(
                f"{path}: a Parquet file cannot be appended to, and replacing it would lose the "
                "events it holds: give a new file, or a .jsonl or .csv file (appended to)"
            )
        self._writer = pq.ParquetWriter(str(path), PARQUET_SCHEMA)

    def write(self, events: list[Event]) -> None:
        if events:
            self._writer.write_table(events_table(events))

    def close(self) -> None:
        self._writer.close()


def open_sink(path: str | Path, *, append: bool = False) -> EventSink:
    """A writer for the path's extension (`registry.OUTPUTS`); a clear error for any other.
    `append`: after the events the file holds (JSONL, CSV), instead of replacing them."""
    path = Path(path)
    sink: type[EventSink] = load(output_for(str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    return sink(path, append=append)  # type: ignore[call-arg]
