"""Event files: JSONL, CSV and Parquet, chosen by the file's extension.

Every writer takes events as they come (`write`), so an audit larger than memory streams its
events out, and `close` finishes the file. The columns are the event record's, in the same order
everywhere; `details` is a JSON object in CSV and Parquet.
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
from skyfence.text import csv_cell

FORMATS = FILE_FORMATS


class EventSink(Protocol):
    def write(self, events: list[Event]) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8")

    def write(self, events: list[Event]) -> None:
        for event in events:
            self._file.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()


class CsvSink:
    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=EVENT_COLUMNS)
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
    def __init__(self, path: Path) -> None:
        self._writer = pq.ParquetWriter(str(path), PARQUET_SCHEMA)

    def write(self, events: list[Event]) -> None:
        if events:
            self._writer.write_table(events_table(events))

    def close(self) -> None:
        self._writer.close()


def open_sink(path: str | Path) -> EventSink:
    """A writer for the path's extension (`registry.OUTPUTS`); a clear error for any other."""
    path = Path(path)
    sink: type[EventSink] = load(output_for(str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    return sink(path)  # type: ignore[call-arg]
