"""Arrow columns of whatever type a file had -> the numpy columns of `StateVectors`.

Recordings disagree on types: a squawk is a string in one file and an integer in the next, a
time is epoch milliseconds, seconds or a timestamp, and CSV gives everything as text. These
converters accept all of them, and report, per row, a value that is present but unusable
("12:3O" for a number), so that the row can be counted and skipped instead of crashing the read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skyfence.arrays import BOOL, F64, OBJ
from skyfence.buffers import booleans, floats, integers, numbers, present
from skyfence.schema import StateVectors, parse_icao24
from skyfence.sources.base import ReadStats, RecordingError, impossible_altitude
from skyfence.sources.timefence import fence

Column: TypeAlias = "pa.Array | pa.ChunkedArray"

FT_PER_M = 1 / 0.3048
KT_PER_MS = 3600 / 1852
FPM_PER_MS = 60 / 0.3048

_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


# text that repeats over millions of rows (a few thousand aircraft, callsigns, squawks): a
# Parquet reader asks for these as Arrow dictionaries, and each distinct value is cleaned once
REPEATED_TEXT = ("icao24", "callsign", "squawk")


def open_parquet(
    path: Path, columns: Iterable[str] = (), required: Iterable[str] = (), layout: str = ""
) -> pq.ParquetFile:
    """A Parquet file whose repeated text columns read as dictionaries. A damaged file, one
    that names a column of `columns` (those read) twice, which leaves ambiguous which to read,
    or one without a column of `required`, is a RecordingError that names it (pyarrow's own
    errors do not); `layout` ("OpenSky", "traffic") says whose columns are missing."""
    try:
        schema = pq.read_schema(path)
        for name in columns:
            if (count := schema.names.count(name)) > 1:
                raise RecordingError(path, f"column {name!r} appears {count} times")
        missing = [name for name in required if name not in schema.names]
        if missing:
            whose = f"{layout} columns" if layout else "columns"
            raise RecordingError(path, f"missing {whose} {missing}")
        repeated = [
            n
            for n in REPEATED_TEXT
            if schema.names.count(n) == 1 and _is_text(schema.field(n).type)
        ]
        return pq.ParquetFile(path, read_dictionary=repeated)
    except pa.ArrowException as exc:
        raise RecordingError(path, f"damaged Parquet file: {exc}") from exc


def _array(col: Column, keep_dictionary: bool = False) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type) and not (
        keep_dictionary and _is_text(arr.type.value_type)
    ):  # pandas categoricals saved to Parquet, or dictionaries of numbers
        arr = arr.dictionary_decode()
    return arr


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def as_float(col: Column) -> tuple[F64, BOOL]:
    """Values as float64 (NaN where missing) and a mask of present but non-numeric values."""
    arr = _array(col)
    n = len(arr)
    t = arr.type
    if pa.types.is_null(t):
        return np.full(n, np.nan), np.zeros(n, bool)
    if (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
    ):
        return floats(arr), np.zeros(n, bool)
    if _is_text(t):
        text = pc.utf8_trim_whitespace(arr)
        ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
        empty = pc.fill_null(pc.equal(text, ""), True)
        values = pc.if_else(ok, text, pa.scalar(None, text.type)).cast(pa.float64())
        bad = ~np.asarray(ok) & ~np.asarray(empty)
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64), bad
    return np.full(n, np.nan), np.asarray(arr.is_valid())


def _epoch_seconds(values: F64) -> F64:
    """Numeric times in s, ms, us or ns since 1970, told apart by magnitude: 1e11 s is the year
    5138 but 1e11 ms is 1973, so a value above it can only be a finer unit."""
    mag = np.abs(values)
    scale = np.select([mag >= 1e17, mag >= 1e14, mag >= 1e11], [1e-9, 1e-6, 1e-3], 1.0)
    return np.asarray(values * scale, dtype=np.float64)


def iso_seconds(text: str) -> float | None:
    """UNIX seconds of an ISO 8601 time (UTC unless it says otherwise), None if it is not one."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if dt.tzinfo is None:
        return (dt - datetime(1970, 1, 1)).total_seconds()  # noqa: DTZ001
    return dt.timestamp()


def _parse_iso(text: pa.Array) -> tuple[F64, BOOL]:
    out = np.full(len(text), np.nan)
    bad = np.zeros(len(text), bool)
    for i, s in enumerate(text.to_pylist()):  # only for text times that are not numbers
        seconds = iso_seconds(s)
        if seconds is None:
            bad[i] = True
        else:
            out[i] = seconds
    return out, bad


def as_seconds(col: Column) -> tuple[F64, BOOL]:
    """Times as UNIX seconds (UTC) from timestamps, epoch numbers of any unit or ISO text."""
    arr = _array(col)
    t = arr.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        ts = arr.cast(pa.timestamp("us", getattr(t, "tz", None))) if pa.types.is_date(t) else arr
        unit = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[ts.type.unit]
        # nanoseconds since 1970 exceed float64's exact integers: convert without the check
        ints = ts.cast(pa.int64())
        raw = numbers(ints, np.int64).astype(np.float64)
        if ints.null_count:
            raw[~present(ints)] = np.nan
        return raw * unit, np.zeros(len(arr), bool)
    values, bad = as_float(arr)
    values = _epoch_seconds(values)
    if _is_text(t) and bad.any():
        values[bad], bad[bad] = _parse_iso(arr.filter(pa.array(bad)))
    return values, bad


def as_text(col: Column) -> OBJ:
    """Strings, blanks trimmed, "" where missing; integral numbers without a trailing ".0"."""
    return np.array(text_array(_array(col)).to_pylist(), dtype=object)


def text_array(col: Column) -> pa.Array:
    """`as_text`, left in Arrow: a state vector column takes it without a detour through Python
    objects (callsigns of a large history cost twice as much that way). A dictionary stays one,
    its values cleaned (`StateVectors.build` spreads them by index); missing values stay null
    in its indices."""
    arr = _array(col, keep_dictionary=True)
    if pa.types.is_dictionary(arr.type):
        return pa.DictionaryArray.from_arrays(arr.indices, text_array(arr.dictionary))
    if pa.types.is_floating(arr.type):
        values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
        out = np.full(len(arr), "", dtype=object)
        ok = np.isfinite(values)
        out[ok] = [f"{v:.0f}" if v == int(v) else repr(v) for v in values[ok].tolist()]
        return pa.array(out, pa.string())
    if not _is_text(arr.type):
        arr = arr.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.fill_null(trimmed, "") if trimmed.null_count else trimmed


def as_squawk(col: Column) -> OBJ | pa.DictionaryArray:
    """Squawks as four digits: files that store them as numbers lose the leading zeros. A
    dictionary's values are mended once each, and it stays a dictionary."""
    arr = _array(col, keep_dictionary=True)
    if pa.types.is_dictionary(arr.type):
        return pa.DictionaryArray.from_arrays(arr.indices, _four_digits(text_array(arr.dictionary)))
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        values, _ = as_float(arr)
        out = np.full(len(arr), "", dtype=object)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(values) & (values >= 0) & (values < 10000) & (values % 1 == 0)
        out[ok] = [f"{int(v):04d}" for v in values[ok].tolist()]
        return out
    return np.array(_four_digits(text_array(arr)).to_pylist(), dtype=object)


def _four_digits(text: pa.Array) -> pa.Array:
    """ "700" -> "0700": a squawk stored as a number somewhere upstream lost its leading zeros
    ("700.0": and went through a float column). A value longer than four characters is no
    squawk and reads as none: cut to four, "77000" or "7700" and a control character would
    raise an emergency (regular expressions, not scalars: see `skyfence.buffers`). Only the
    rare value that is neither four digits nor none is looked at twice."""
    odd = pc.invert(pc.match_substring_regex(text, r"^([0-9]{4})?$"))
    if not booleans(odd).any():
        return text
    mended = pc.replace_substring_regex(pc.filter(text, odd), r"^([0-9]{1,4})\.0*$", r"\1")
    short = pc.match_substring_regex(mended, r"^[0-9]{1,3}$")
    mended = pc.if_else(short, pc.utf8_lpad(mended, width=4, padding="0"), mended)
    mended = pc.replace_substring_regex(mended, r"(?s)^.{5,}$", "")
    return pc.replace_with_mask(text, odd, mended)


def as_bool(col: Column) -> tuple[BOOL, BOOL]:
    """Booleans (False where missing) and a mask of present values that are not booleans."""
    arr = _array(col)
    n = len(arr)
    if pa.types.is_boolean(arr.type):
        return booleans(arr), np.zeros(n, bool)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        values, _ = as_float(arr)
        return values == 1, np.isfinite(values) & (values != 0) & (values != 1)
    text = as_text(arr)
    lower = np.char.lower(text.astype(str))
    truthy = np.isin(lower, list(_TRUE))
    return truthy, ~truthy & ~np.isin(lower, [*_FALSE, ""])


def checked(
    stats: ReadStats,
    where: str,
    bad: BOOL,
    *,
    lines: npt.NDArray[np.int64] | None = None,
    **columns: Any,
) -> StateVectors:
    """Build the batch and drop (counting them) rows with a bad value, no usable time or address,
    or an impossible position: those are corrupt, and a monitor must not act on them; then rows
    stamped far outside the recording's time (`skyfence.sources.timefence`). `lines`, when the
    reader knows them, are the rows' line numbers: the report names the lines."""
    sv = StateVectors.build(len(bad), **columns)
    bad = bad | ~np.isfinite(sv.t_s) | (sv.icao24 == 0)
    bad |= np.abs(sv.lat_deg) > 90
    bad |= np.abs(sv.lon_deg) > 180
    bad |= impossible_altitude(sv.alt_baro_ft, sv.alt_geo_ft)
    stats.rows_read += len(bad)
    n_bad = int(bad.sum())
    if n_bad:
        label = where
        if lines is not None:
            numbers = lines[bad].tolist()
            shown = ", ".join(map(str, numbers[:5])) + (", ..." if n_bad > 5 else "")
            label = f"line{'s' if n_bad > 1 else ''} {shown}"
        stats.skip(n_bad, f"{label}: row without a valid time, address, position or value")
        sv = sv.take(~bad)
        lines = None if lines is None else lines[~bad]
    stats.rows_yielded += len(sv)
    return fence(sv, stats, where, time.time(), lines)


def icao24_of(col: Column) -> npt.NDArray[np.uint32]:
    """Addresses from hex text or integers; "~" marks a non-ICAO (TIS-B) address in readsb."""
    arr = _array(col, keep_dictionary=True)
    if pa.types.is_integer(arr.type):
        return parse_icao24(integers(arr, missing=0))
    # an hour of history has millions of rows but a few thousand aircraft: parse each distinct
    # address once, through Arrow's dictionary encoding (or the file's), spread by index
    if pa.types.is_dictionary(arr.type):
        encoded = arr
    else:
        encoded = pc.dictionary_encode(arr if _is_text(arr.type) else arr.cast(pa.string()))
    text = as_text(encoded.dictionary)
    parsed = np.append(parse_icao24(np.char.lstrip(text.astype(str), "~")), np.uint32(0))
    indices = integers(encoded.indices, missing=-1)
    return np.asarray(parsed[indices], np.uint32)  # a missing address (-1) takes the 0
