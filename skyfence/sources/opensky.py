"""OpenSky Network state vectors (historical CSV dumps, or Parquet) -> state vectors.

OpenSky uses SI units (m, m/s) and names of its own; `time` is when the state was sampled and
`lastposupdate` when its position was last updated, which tells a fresh position from a stale
one repeated every 10 s. CSV is streamed with pyarrow's incremental reader; every column is read
as text and converted here, so one bad value costs one row rather than the whole block, and
rows with the wrong number of fields or with bytes that are not UTF-8 are counted with their
line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, RecordingError, open_binary, read_head
from skyfence.sources.columns import (
    FPM_PER_MS,
    FT_PER_M,
    KT_PER_MS,
    as_bool,
    as_float,
    as_seconds,
    as_squawk,
    checked,
    icao24_of,
    text_array,
)

REQUIRED = ("time", "icao24", "lat", "lon")
# OpenSky column -> (state vector column, factor to our units)
_FLOATS = {
    "lat": ("lat_deg", 1.0),
    "lon": ("lon_deg", 1.0),
    "velocity": ("gs_kt", KT_PER_MS),
    "heading": ("track_deg", 1.0),
    "vertrate": ("vrate_fpm", FPM_PER_MS),
    "baroaltitude": ("alt_baro_ft", FT_PER_M),
    "geoaltitude": ("alt_geo_ft", FT_PER_M),
}
COLUMNS = tuple(
    dict.fromkeys([*REQUIRED, *_FLOATS, "callsign", "onground", "squawk", "lastposupdate"])
)


def to_state_vectors(
    table: pa.Table | pa.RecordBatch, stats: ReadStats, where: str
) -> StateVectors:
    names = set(table.schema.names)
    bad = np.zeros(table.num_rows, bool)
    cols: dict[str, Any] = {"icao24": icao24_of(table.column("icao24"))}

    def flag(result: tuple[Any, Any]) -> Any:
        nonlocal bad
        bad = bad | result[1]
        return result[0]

    cols["t_s"] = flag(as_seconds(table.column("time")))
    for source, (target, factor) in _FLOATS.items():
        if source in names:
            cols[target] = flag(as_float(table.column(source))) * factor
    if "lastposupdate" in names:
        cols["t_pos_s"] = flag(as_seconds(table.column("lastposupdate")))
    if "onground" in names:
        cols["on_ground"] = flag(as_bool(table.column("onground")))
    if "callsign" in names:
        cols["callsign"] = text_array(table.column("callsign"))
    if "squawk" in names:
        cols["squawk"] = as_squawk(table.column("squawk"))
    return checked(stats, where, bad, **cols)


def _header(path: Path) -> list[str]:
    first = read_head(path).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return [name.strip().strip('"') for name in first.strip().split(",")]


def read_csv(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    names = _header(path)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise RecordingError(path, f"missing columns {missing}", line=1)
    wanted = [c for c in COLUMNS if c in names]

    def invalid_row(row: Any) -> str:
        stats.rows_read += 1
        line = "?" if row.number is None else row.number
        stats.skip(1, f"line {line}: {row.actual_columns} fields, {row.expected_columns} expected")
        return "skip"

    block = int(min(64 << 20, max(1 << 16, batch_rows * 150)))
    with open_binary(path) as stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=block, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in wanted},
                include_columns=wanted,
                strings_can_be_null=True,
                check_utf8=False,  # checked per row below: one bad byte must not cost the block
            ),
        )
        line = 1  # data row number (the header is not counted)
        for batch in reader:
            for start in range(0, batch.num_rows, batch_rows):
                part = batch.slice(start, batch_rows)
                where = f"data rows {line}-{line + part.num_rows - 1}"
                clean = _utf8_rows(part, stats, line)
                line += part.num_rows
                yield to_state_vectors(clean, stats, where)


def _utf8_rows(batch: pa.RecordBatch, stats: ReadStats, line: int) -> pa.RecordBatch:
    """The rows whose text is valid UTF-8; the others are counted by line. Arrow validates a
    whole column at C speed, so the Python search runs only on the rare broken column."""
    bad = np.zeros(batch.num_rows, bool)
    for column in batch.columns:
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            for i, raw in enumerate(column.cast(pa.binary()).to_pylist()):
                try:
                    if raw is not None:
                        raw.decode("utf-8")
                except UnicodeDecodeError:
                    bad[i] = True
    if not bad.any():
        return batch
    rows = (np.flatnonzero(bad) + line).tolist()
    stats.rows_read += len(rows)
    shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
    plural = "s" if len(rows) > 1 else ""
    stats.skip(len(rows), f"data row{plural} {shown}: text that is not UTF-8")
    return batch.filter(pa.array(~bad))


def read_parquet(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise RecordingError(path, f"missing columns {missing}")
    start = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=[c for c in COLUMNS if c in names]):
        yield to_state_vectors(batch, stats, f"rows {start}-{start + batch.num_rows - 1}")
        start += batch.num_rows
