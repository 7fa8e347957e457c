"""Recordings saved by the `traffic` library: JSON (pandas records or columns) and Parquet.

traffic's columns are already in aviation units (ft, kt, ft/min); times are epoch milliseconds
in JSON and timestamps in Parquet. `last_position` is when the position was last updated: a
receiver that stops hearing positions keeps repeating the old one, and only this column shows
that the repeated position is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from skyfence.decoding.nic import nic_from_nucp
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, RecordingError, open_binary, read_head
from skyfence.sources.columns import (
    as_bool,
    as_float,
    as_seconds,
    as_squawk,
    checked,
    icao24_of,
    open_parquet,
    text_array,
)
from skyfence.sources.jsonlines import chunk_bytes, iter_json_tables, table_from_objects

F = pa.float64()
S = pa.string()
SCHEMA = pa.schema(
    [
        ("timestamp", F),
        ("icao24", S),
        ("callsign", S),
        ("latitude", F),
        ("longitude", F),
        ("altitude", F),
        ("geoaltitude", F),
        ("groundspeed", F),
        ("track", F),
        ("vertical_rate", F),
        ("onground", pa.bool_()),
        ("squawk", S),
        ("last_position", F),
        ("NUCp", F),
        ("NACp", F),
    ]
)
REQUIRED = ("timestamp", "icao24", "latitude", "longitude")
_TIMES = frozenset({"timestamp", "last_position"})
_COLUMNS_ORIENT = re.compile(rb'^\s*\{\s*"[^"]*"\s*:\s*\{')

_FLOATS = {
    "latitude": "lat_deg",
    "longitude": "lon_deg",
    "altitude": "alt_baro_ft",
    "geoaltitude": "alt_geo_ft",
    "groundspeed": "gs_kt",
    "track": "track_deg",
    "vertical_rate": "vrate_fpm",
}


def to_state_vectors(
    table: pa.Table | pa.RecordBatch, stats: ReadStats, where: str
) -> StateVectors:
    """traffic columns -> state vectors; absent columns stay missing, bad rows are skipped."""
    names = set(table.schema.names)
    n = table.num_rows
    bad = np.zeros(n, bool)
    cols: dict[str, Any] = {}

    def flag(result: tuple[Any, Any]) -> Any:
        nonlocal bad
        bad = bad | result[1]
        return result[0]

    cols["t_s"] = flag(as_seconds(table.column("timestamp"))) if "timestamp" in names else None
    cols["icao24"] = icao24_of(table.column("icao24")) if "icao24" in names else None
    for source, target in _FLOATS.items():
        if source in names:
            cols[target] = flag(as_float(table.column(source)))
    if "last_position" in names:
        cols["t_pos_s"] = flag(as_seconds(table.column("last_position")))
    if "onground" in names:
        cols["on_ground"] = flag(as_bool(table.column("onground")))
    if "callsign" in names:
        cols["callsign"] = text_array(table.column("callsign"))
    if "squawk" in names:
        cols["squawk"] = as_squawk(table.column("squawk"))
    if "NUCp" in names:
        cols["nic"] = nic_from_nucp(flag(as_float(table.column("NUCp"))))
    if "NACp" in names:
        cols["nacp"] = flag(as_float(table.column("NACp")))
    present = {k: v for k, v in cols.items() if v is not None}
    if "t_s" not in present:
        present["t_s"] = np.full(n, np.nan)
    return checked(stats, where, bad, **present)


def _slices(sv: StateVectors, batch_rows: int) -> Iterator[StateVectors]:
    for start in range(0, len(sv), batch_rows):
        yield sv.take(np.arange(start, min(start + batch_rows, len(sv))))


def read_json(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    """traffic JSON: pandas records (array or one per line) streamed; columns orient whole."""
    head = read_head(path, 4096)
    if _COLUMNS_ORIENT.match(head):
        yield from _read_columns_orient(path, batch_rows, stats)
        return
    records = head.lstrip().startswith(b"[")
    with open_binary(path) as stream:
        tables = iter_json_tables(
            stream,
            path,
            SCHEMA,
            stats,
            records_array=records,
            time_fields=_TIMES,
            block_bytes=chunk_bytes(batch_rows),
        )
        for table, where in tables:
            yield from _slices(to_state_vectors(table, stats, where), batch_rows)


def _read_columns_orient(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    """pandas' default `to_json` layout, {column: {row: value}}: it cannot be streamed, so the
    file is loaded whole (such files are written from memory by pandas, so they fit in it)."""
    with open_binary(path) as stream:
        doc = json.load(stream)
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise RecordingError(path, "expected a JSON object of columns, each {row: value}")
    missing = [c for c in REQUIRED if c not in doc]
    if missing:
        raise RecordingError(path, f"missing columns {missing}")
    index = list(doc["timestamp"].keys())
    wanted = [f.name for f in SCHEMA if f.name in doc]
    for start in range(0, len(index), batch_rows):
        keys = index[start : start + batch_rows]
        objects = [(start + i, {c: doc[c].get(k) for c in wanted}) for i, k in enumerate(keys)]
        schema = pa.schema([SCHEMA.field(c) for c in wanted])
        table = table_from_objects(objects, schema, stats, "row", _TIMES)
        yield to_state_vectors(table, stats, f"rows {start}-{start + len(keys) - 1}")


def read_parquet(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    """traffic Parquet, read by batches of row groups so memory stays bounded."""
    pf = open_parquet(path, SCHEMA.names, REQUIRED, "traffic")
    names = pf.schema_arrow.names
    wanted = [f.name for f in SCHEMA if f.name in names]
    start = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted):
        where = f"rows {start}-{start + batch.num_rows - 1}"
        yield to_state_vectors(batch, stats, where)
        start += batch.num_rows
