"""OpenSky Network state vectors (historical CSV dumps, or Parquet) -> state vectors.

OpenSky uses SI units (m, m/s) and names of its own; `time` is when the state was sampled and
`lastposupdate` when its position was last updated, which tells a fresh position from a stale
one repeated every 10 s. CSV is streamed in blocks of whole lines, each parsed by pyarrow; every
column is read as text and converted here, so one bad value costs one row rather than the whole
block, and rows with a bad value, the wrong number of fields or bytes that are not UTF-8 are
counted and reported with their line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

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
    open_parquet,
    text_array,
)
from skyfence.sources.lines import numbered_blocks

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
    table: pa.Table | pa.RecordBatch,
    stats: ReadStats,
    where: str,
    lines: npt.NDArray[np.int64] | None = None,
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
    return checked(stats, where, bad, lines=lines, **cols)


def _header(path: Path) -> list[str]:
    first = read_head(path).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return [name.strip().strip('"') for name in first.strip().split(",")]


def read_csv(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    names = _header(path)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise RecordingError(path, f"missing columns {missing}", line=1)
    wanted = [c for c in COLUMNS if c in names]
    size = int(min(64 << 20, max(1 << 16, batch_rows * 150)))
    with open_binary(path) as stream:
        for block, first in numbered_blocks(stream, size):
            if first == 1:  # the header
                cut = block.find(b"\n") + 1 or len(block)
                block, first = block[cut:], 2
            table, lines = _parse_block(block, first, names, wanted, stats)
            for start in range(0, table.num_rows, batch_rows):
                part, numbers = table.slice(start, batch_rows), lines[start : start + batch_rows]
                where = f"lines {numbers[0]}-{numbers[-1]}"
                yield to_state_vectors(part, stats, where, numbers)


def _parse_block(
    block: bytes, first: int, names: list[str], wanted: list[str], stats: ReadStats
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """The rows of a block of complete lines whose first is line `first`, and each row's line.

    Arrow parses the block in this thread, from memory: no reader thread is left behind if the
    read stops half-way (one, reading the Python file, crashed the interpreter at exit). Lines
    that are not UTF-8 are dropped first, since Arrow cannot even report them; quotes are not
    interpreted (OpenSky quotes only strings that contain no commas), so an unclosed quote costs
    its line and not the rest of the block.
    """
    block, not_utf8 = _drop_non_utf8(block.replace(b"\r", b""))
    for k in not_utf8:
        stats.rows_read += 1
        stats.skip(1, f"line {first + k}: text that is not UTF-8")
    # Arrow's rows are the non-empty lines, and its invalid rows are numbered among them
    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    ends = np.append(ends, len(block))
    lines = np.flatnonzero(ends > starts).astype(np.int64) + first
    if not len(lines):
        return pa.table({c: pa.array([], pa.string()) for c in wanted}), lines
    invalid: list[int] = []

    def invalid_row(row: Any) -> str:
        line = int(lines[row.number - 1])
        invalid.append(row.number - 1)
        stats.rows_read += 1
        stats.skip(1, f"line {line}: {row.actual_columns} fields, {row.expected_columns} expected")
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(block),
        read_options=pacsv.ReadOptions(
            column_names=names, use_threads=False, block_size=len(block) + 1
        ),
        parse_options=pacsv.ParseOptions(quote_char=False, invalid_row_handler=invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in wanted},
            include_columns=wanted,
            strings_can_be_null=True,
        ),
    )
    unquoted = [pc.utf8_trim(table.column(c), '"') for c in wanted]
    return pa.table(unquoted, names=wanted), np.delete(lines, invalid)


def _drop_non_utf8(block: bytes) -> tuple[bytes, list[int]]:
    """The block with lines that are not UTF-8 emptied, and their indices (from 0). Validated
    whole at C speed; only a block that fails is looked at line by line."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return block, []
    lines = block.split(b"\n")
    bad: list[int] = []
    for k, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(k)
            lines[k] = b""
    return b"\n".join(lines), bad


def read_parquet(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    pf = open_parquet(path, COLUMNS, REQUIRED, "OpenSky")
    names = pf.schema_arrow.names
    start = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=[c for c in COLUMNS if c in names]):
        yield to_state_vectors(batch, stats, f"rows {start}-{start + batch.num_rows - 1}")
        start += batch.num_rows
