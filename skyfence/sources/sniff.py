"""Tell a recording's format from its first bytes, not its name.

Names lie: tar1090 writes gzip traces as `.json`, people rename exports, and `data.json` could
be any of three formats. The content says which it is: gzip and Parquet have magic numbers,
a JSON document's first keys identify its producer, and a CSV header names its columns.

`read_head` refuses what no format can be (an empty file, a tar archive...); each format then
has a predicate here, `Head -> bool`, that the registry in `formats.py` tries in its order.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from skyfence.sources.base import RecordingError, is_gzip
from skyfence.sources.base import read_head as read_bytes

_PARQUET_MAGIC = b"PAR1"
_TRACE = re.compile(rb'"trace"\s*:\s*\[')
_COLUMNS_ORIENT = re.compile(rb'^\{\s*"[^"]*"\s*:\s*\{')
_OPENSKY = {"time", "icao24", "lat", "lon"}
_AVR = re.compile(rb"^[*:@%<][0-9A-Fa-f]{4,}\s*;")  # raw frames, one per line
_SBS = re.compile(rb"^(MSG|SEL|ID|AIR|STA|CLK),")  # BaseStation lines
_LINE_END = re.compile(rb"\r\n?|\n")
_TRAFFIC = {"icao24", "latitude", "longitude"}
_BEAST = (b"1", b"2", b"3", b"4")
_BEAST_PARTIAL_MAX = 48  # a long message with every byte escaped: the most a cut can leave
_BEAST_CONFIRM = 3  # whole messages after it


@dataclass(frozen=True, slots=True)
class Head:
    """What the predicates look at: the first bytes, and a Parquet file's column names."""

    raw: bytes  # the first bytes, decompressed
    text: bytes  # the same without a byte order mark and leading blanks
    parquet_columns: frozenset[str] | None  # None: not a Parquet file
    binary: bool  # NUL bytes near the start: no text format

    @property
    def first_line(self) -> Any:
        """The first line as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text.split(b"\n", 1)[0])
        except (ValueError, RecursionError):  # nested past the limit: not a known format either
            return None


def read_head(path: Path) -> Head:
    """The file's head, or a `RecordingError` for a file that no format can be."""
    if not path.is_file():
        raise RecordingError(path, "no such file")
    try:
        head = read_bytes(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise RecordingError(path, f"cannot read: {exc}") from exc
    if not head.strip():
        raise RecordingError(path, "empty file")
    columns = None
    if head.startswith(_PARQUET_MAGIC):
        if is_gzip(path):
            raise RecordingError(path, "gzip-compressed Parquet: decompress it first")
        try:
            columns = frozenset(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises several types for a damaged footer
            raise RecordingError(path, f"damaged Parquet file: {exc}") from exc
    elif len(head) > 262 and head[257:262] == b"ustar":
        raise RecordingError(path, "tar archive: extract the recording inside it first")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return Head(head, text, columns, b"\x00" in text[:4096])


def unknown(path: Path, head: Head) -> RecordingError:
    """Why no format took this file, in the words of the kind of content it is."""
    if head.parquet_columns is not None:
        names = sorted(head.parquet_columns)[:12]
        return RecordingError(path, f"Parquet columns match no known format: {names}")
    if head.binary:
        return RecordingError(path, "binary content of an unknown format")
    if head.text.startswith(b"{"):
        return RecordingError(path, "JSON content matches no known format", line=1)
    return RecordingError(path, "not a known format (no JSON, Parquet or OpenSky CSV header)")


def opensky_parquet(head: Head) -> bool:
    return head.parquet_columns is not None and head.parquet_columns >= _OPENSKY


def traffic_parquet(head: Head) -> bool:
    return head.parquet_columns is not None and head.parquet_columns >= _TRAFFIC


def beast(head: Head) -> bool:
    """A Beast stream starts with an escape and a message type (Mode A/C, short, long, status),
    or, captured from a feed (`nc HOST 30005 > file`), with the end of a message cut by the
    start of the capture: then the rest of the head must frame as Beast, bar that one part."""
    if head.parquet_columns is not None:
        return False
    if head.raw[:1] == b"\x1a" and head.raw[1:2] in _BEAST:
        return True
    if b"\x1a" not in head.raw[:_BEAST_PARTIAL_MAX]:
        return False
    from skyfence.sources.beast import BeastParser

    parser = BeastParser()
    frames = len(parser.feed(head.raw))
    return frames >= _BEAST_CONFIRM and parser.stats.skipped_bytes <= _BEAST_PARTIAL_MAX


def avr(head: Head) -> bool:
    return head.parquet_columns is None and _line_format(_AVR, head.text)


def sbs(head: Head) -> bool:
    return head.parquet_columns is None and _line_format(_SBS, head.text)


def _line_format(pattern: re.Pattern[bytes], text: bytes) -> bool:
    """The first line matches, or the second: a capture of a feed (`nc HOST 30002 > file`)
    starts wherever the stream is, often mid-line (that part line is then counted malformed)."""
    if pattern.match(text):
        return True
    parts = _LINE_END.split(text, maxsplit=1)  # LF, CRLF or CR alone (old Mac files)
    return len(parts) == 2 and bool(pattern.match(parts[1]))


def _json_object(head: Head) -> bool:
    return head.parquet_columns is None and not head.binary and head.text.startswith(b"{")


def readsb_trace(head: Head) -> bool:
    return _json_object(head) and bool(_TRACE.search(head.text)) and b'"icao"' in head.text


def frames_jsonl(head: Head) -> bool:
    if not _json_object(head) or _COLUMNS_ORIENT.match(head.text):
        return False
    first = head.first_line
    return isinstance(first, dict) and "frame" in first and "timestamp" in first


def traffic_json(head: Head) -> bool:
    """A JSON array, pandas' columns orientation, or JSON lines with icao24 and timestamp."""
    if head.parquet_columns is not None or head.binary:
        return False
    if head.text.startswith(b"["):
        return True
    if not _json_object(head):
        return False
    if _COLUMNS_ORIENT.match(head.text):
        return True
    first = head.first_line
    return isinstance(first, dict) and "icao24" in first and "timestamp" in first


def opensky_csv(head: Head) -> bool:
    if head.parquet_columns is not None or head.binary or head.text[:1] in (b"{", b"["):
        return False
    header = head.text.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return {name.strip().strip('"') for name in header.split(",")} >= _OPENSKY
