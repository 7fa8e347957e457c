"""Tell a recording's format from its first bytes, not its name.

Names lie: tar1090 writes gzip traces as `.json`, people rename exports, and `data.json` could
be any of three formats. The content says which it is: gzip and Parquet have magic numbers,
a JSON document's first keys identify its producer, and a CSV header names its columns.
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pyarrow.parquet as pq

from skyfence.sources.base import RecordingError, is_gzip, read_head

FORMATS = (
    "traffic-json",
    "traffic-parquet",
    "opensky-csv",
    "opensky-parquet",
    "readsb-trace",
    "frames-jsonl",
    "beast",
    "avr",
    "sbs",
)

_PARQUET_MAGIC = b"PAR1"
_TRACE = re.compile(rb'"trace"\s*:\s*\[')
_COLUMNS_ORIENT = re.compile(rb'^\{\s*"[^"]*"\s*:\s*\{')
_OPENSKY = {"time", "icao24", "lat", "lon"}
_AVR = re.compile(rb"^[*:@%<][0-9A-Fa-f]{4,}\s*;")  # raw frames, one per line
_SBS = re.compile(rb"^(MSG|SEL|ID|AIR|STA|CLK),")  # BaseStation lines
_TRAFFIC = {"icao24", "latitude", "longitude"}


def detect_format(path: str | Path) -> str:
    """One of `FORMATS`, or `RecordingError` saying why the file is none of them."""
    path = Path(path)
    if not path.is_file():
        raise RecordingError(path, "no such file")
    try:
        head = read_head(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise RecordingError(path, f"cannot read: {exc}") from exc
    if not head.strip():
        raise RecordingError(path, "empty file")
    if head.startswith(_PARQUET_MAGIC):
        if is_gzip(path):
            raise RecordingError(path, "gzip-compressed Parquet: decompress it first")
        return _parquet_kind(path)
    if len(head) > 262 and head[257:262] == b"ustar":
        raise RecordingError(path, "tar archive: extract the recording inside it first")
    if head[:1] == b"\x1a" and head[1:2] in (b"1", b"2", b"3", b"4"):
        return "beast"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _AVR.match(text):
        return "avr"
    if _SBS.match(text):
        return "sbs"
    if b"\x00" in text[:4096]:
        raise RecordingError(path, "binary content of an unknown format")
    if text.startswith(b"["):
        return "traffic-json"
    if text.startswith(b"{"):
        return _json_kind(path, text)
    return _csv_kind(path, text)


def _parquet_kind(path: Path) -> str:
    try:
        names = set(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several types for a damaged footer
        raise RecordingError(path, f"damaged Parquet file: {exc}") from exc
    if names >= _OPENSKY:
        return "opensky-parquet"
    if names >= _TRAFFIC:
        return "traffic-parquet"
    raise RecordingError(path, f"Parquet columns match no known format: {sorted(names)[:12]}")


def _json_kind(path: Path, text: bytes) -> str:
    if _TRACE.search(text) and b'"icao"' in text:
        return "readsb-trace"
    if _COLUMNS_ORIENT.match(text):
        return "traffic-json"
    line = text.split(b"\n", 1)[0]
    try:
        first = json.loads(line)
    except ValueError:
        first = None
    if isinstance(first, dict):
        if "frame" in first and "timestamp" in first:
            return "frames-jsonl"
        if "icao24" in first and "timestamp" in first:
            return "traffic-json"
    raise RecordingError(path, "JSON content matches no known format", line=1)


def _csv_kind(path: Path, text: bytes) -> str:
    header = text.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    names = {name.strip().strip('"') for name in header.split(",")}
    if names >= _OPENSKY:
        return "opensky-csv"
    raise RecordingError(path, "not a known format (no JSON, Parquet or OpenSky CSV header)")
