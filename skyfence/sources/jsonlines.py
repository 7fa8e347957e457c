"""Stream JSON objects (one per line, or a JSON array of flat records) as Arrow tables.

The fast path hands chunks of complete lines to pyarrow's JSON reader with an explicit schema,
so only the wanted fields are converted and memory stays bounded by the chunk size. pyarrow
rejects a whole chunk over one bad line, so such a chunk is re-read line by line with the
standard library, and only the bad lines are counted and skipped, with their line numbers.

A JSON array of records (pandas' `orient="records"`, which traffic writes) is turned into one
record per line on the fly by rewriting the `},{` between records; records are flat, so a
closing brace followed by a comma and an opening brace only occurs between records.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj

from skyfence.sources.base import ReadStats, RecordingError
from skyfence.sources.columns import iso_seconds

_SEPARATOR = re.compile(rb"\}\s*,\s*\{")
_PARSE_BLOCK = 4 << 20
MAX_LINE_BYTES = 64 << 20


def chunk_bytes(batch_rows: int) -> int:
    """Bytes read per chunk: about `batch_rows` short records, within sane bounds."""
    return int(min(64 << 20, max(64 << 10, batch_rows * 200)))


def iter_json_tables(
    stream: io.BufferedIOBase,
    path: Path,
    schema: pa.Schema,
    stats: ReadStats,
    *,
    records_array: bool = False,
    time_fields: frozenset[str] = frozenset(),
    block_bytes: int = 16 << 20,
) -> Iterator[tuple[pa.Table, str]]:
    """Tables of the `schema` fields, each with a "lines a-b" (or "records a-b") label."""
    unit = "record" if records_array else "line"
    number, carry, first, closed = 1, b"", True, False
    while True:
        block = stream.read(block_bytes)
        eof = not block
        buf = carry + block
        if first and records_array:
            buf = buf.lstrip()
            if not buf.startswith(b"["):
                raise RecordingError(path, "expected a JSON array of records")
            buf = buf[1:]
        first = False
        if records_array:
            buf = _SEPARATOR.sub(b"}\n{", buf)
        if eof:
            complete, carry = buf, b""
        else:
            cut = buf.rfind(b"\n")
            if cut < 0:
                if len(buf) > MAX_LINE_BYTES:
                    raise RecordingError(path, f"{unit} longer than {MAX_LINE_BYTES} bytes", number)
                carry = buf
                continue
            complete, carry = buf[: cut + 1], buf[cut + 1 :]
        if records_array and complete.rstrip().endswith(b"]"):  # the array's end, with or
            complete, closed = complete.rstrip()[:-1], True  # without a newline after it
        if eof and records_array and not closed:
            raise RecordingError(path, "truncated JSON array (no closing bracket)")
        if complete.strip():
            lines = complete.count(b"\n") + (0 if complete.endswith(b"\n") else 1)
            label = f"{unit}s {number}-{number + lines - 1}"
            table = _parse(complete, schema, stats, unit, number, time_fields)
            schema = table.schema  # a field retyped for this file stays retyped
            yield table, label
            number += lines
        if eof:
            return


_TYPE_CHANGE = re.compile(r"Column\(/([^)]*)\) changed from \w+ to (number|string|boolean)")
_JSON_TYPES = {"number": pa.float64(), "string": pa.string(), "boolean": pa.bool_()}


def _read(data: bytes, schema: pa.Schema) -> pa.Table:
    """pyarrow's reader, retyping a field the file writes as another JSON type than expected
    (traffic writes squawks as strings or as numbers, depending on the pandas dtype)."""
    for _ in range(len(schema)):
        try:
            return pj.read_json(
                pa.BufferReader(data),
                read_options=pj.ReadOptions(block_size=_PARSE_BLOCK),
                parse_options=pj.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
        except pa.ArrowInvalid as exc:
            change = _TYPE_CHANGE.search(str(exc))
            if change is None or change.group(1) not in schema.names:
                raise
            i = schema.get_field_index(change.group(1))
            schema = schema.set(i, pa.field(change.group(1), _JSON_TYPES[change.group(2)]))
    raise pa.ArrowInvalid("too many type changes")


def _parse(
    data: bytes,
    schema: pa.Schema,
    stats: ReadStats,
    unit: str,
    number: int,
    time_fields: frozenset[str],
) -> pa.Table:
    try:
        return _read(data, schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    objects: list[tuple[int, Any]] = []
    for k, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        try:
            objects.append((number + k, json.loads(line)))
        except (ValueError, RecursionError):  # a line nested 100,000 deep is not a record
            stats.rows_read += 1
            stats.skip(1, f"{unit} {number + k}: not valid JSON")
    return table_from_objects(objects, schema, stats, unit, time_fields)


def table_from_objects(
    objects: list[tuple[int, Any]],
    schema: pa.Schema,
    stats: ReadStats,
    unit: str,
    time_fields: frozenset[str] = frozenset(),
) -> pa.Table:
    """The slow, forgiving path: coerce each (number, object) to the schema, skipping bad ones."""
    rows: list[dict[str, Any]] = []
    for number, obj in objects:
        if not isinstance(obj, dict):
            stats.rows_read += 1
            stats.skip(1, f"{unit} {number}: not a JSON object")
            continue
        row: dict[str, Any] = {}
        for f in schema:
            value = obj.get(f.name)
            ok, row[f.name] = _coerce(value, f.type, f.name in time_fields)
            if not ok:
                stats.rows_read += 1
                stats.skip(1, f"{unit} {number}: unusable {f.name} {str(value)[:40]!r}")
                break
        else:
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def _coerce(value: Any, kind: pa.DataType, is_time: bool) -> tuple[bool, Any]:
    """(usable, value as `kind`); None is a usable missing value."""
    if value is None:
        return True, None
    if pa.types.is_floating(kind):
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int | float):
            return True, float(value)
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                pass
            seconds = iso_seconds(value) if is_time else None
            return seconds is not None, seconds
        return False, None
    if pa.types.is_boolean(kind):
        if isinstance(value, bool):
            return True, value
        if value in (0, 1):
            return True, bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return True, value.strip().lower() == "true"
        return False, None
    if isinstance(value, str):
        return True, value
    if isinstance(value, int) and not isinstance(value, bool):
        return True, str(value)
    if isinstance(value, float) and value.is_integer():
        return True, str(int(value))
    return False, None
