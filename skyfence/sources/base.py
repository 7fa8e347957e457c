"""What every recording reader shares: its error type, its skip counts, and gz-aware opening.

Readers never crash on a bad row: they count it and move on, because one corrupt line in a
day-long recording must not hide the other million. The counts (and the first few reasons, with
line numbers) are kept in `ReadStats` so a caller can tell a clean file from a damaged one.
A file that cannot be read at all raises `RecordingError`, which always names the file.

Decompression is streamed and capped: a gzip file may inflate to `MAX_INFLATE_RATIO` times its
own size (or `MIN_INFLATE_BYTES`, whichever is more), then reading stops with a
`RecordingError`. Real recordings compress 3x to 20x (the 70 gzip samples shipped with traffic
and skyfence: 19.5x at most); deflate's limit is about 1,030x, which only degenerate content
(a file of blank lines or zeros, a decompression bomb) comes near.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyfence.arrays import BOOL, F64
from skyfence.errors import SkyfenceError

if TYPE_CHECKING:
    from skyfence.decoding.frames import DecodeStats

GZIP_MAGIC = b"\x1f\x8b"
MAX_PROBLEMS = 20
MAX_INFLATE_RATIO = 100  # decompressed / compressed bytes: 5x the most a real recording shows
MIN_INFLATE_BYTES = 16 << 20  # any gzip file may inflate to this much, whatever its ratio
# the altitudes a transponder can report (Mode S encodes -1,200 to 126,700 ft), with a margin
# for geometric heights and unit rounding
ALTITUDE_MIN_FT, ALTITUDE_MAX_FT = -2_000.0, 130_000.0


def impossible_altitude(*altitudes_ft: F64) -> BOOL:
    """Rows with an altitude (missing is fine) that no aircraft can report: a corrupt or hostile
    row. Kept, one such row made an entry at 1e300 ft that the event store could not hold, and
    the watch stopped."""
    bad = np.zeros(len(altitudes_ft[0]), bool)
    for alt in altitudes_ft:
        bad |= ~np.isnan(alt) & ~((alt >= ALTITUDE_MIN_FT) & (alt <= ALTITUDE_MAX_FT))
    return bad


class RecordingError(SkyfenceError, ValueError):
    """A recording that cannot be read; the message names the file (and line, if known)."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line
        self.reason = message

    def __reduce__(self) -> tuple[type[RecordingError], tuple[Path, str, int | None]]:
        return RecordingError, (self.path, self.reason, self.line)  # picklable across processes


@dataclass(slots=True)
class ReadStats:
    """Rows seen, yielded and skipped while reading one recording."""

    rows_read: int = 0
    rows_yielded: int = 0
    rows_skipped: int = 0
    problems: list[str] = field(default_factory=list)  # first MAX_PROBLEMS reasons
    decode: DecodeStats | None = None  # frame formats only

    def skip(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        self.rows_skipped += count
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(reason if count == 1 else f"{reason} ({count} rows)")


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == GZIP_MAGIC


def open_binary(path: Path) -> io.BufferedIOBase:
    """The file's content, decompressed when it is gzip, within the inflation cap.

    Decided by content, not name: tar1090 stores its gzip traces as `.json`.
    """
    if is_gzip(path):
        limit = max(MIN_INFLATE_BYTES, MAX_INFLATE_RATIO * path.stat().st_size)
        return io.BufferedReader(_CappedGzip(path, limit), buffer_size=1 << 16)
    return path.open("rb")


class _CappedGzip(io.RawIOBase):
    """A gzip file's content that raises `RecordingError` once more than `limit` bytes came out:
    gzip decompresses incrementally, so memory stays bounded by the reads, not by the file."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__()
        self._path = path
        self._gzip = gzip.GzipFile(path, "rb")
        self._limit = limit
        self._out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = self._gzip.readinto(buffer)
        self._out += n
        if self._out > self._limit:
            raise RecordingError(self._path, inflate_message(self._limit))
        return n

    def close(self) -> None:
        self._gzip.close()
        super().close()


def inflate_message(limit: int) -> str:
    return (
        f"gzip content larger than {limit:,} bytes ({MAX_INFLATE_RATIO}x the compressed size, "
        f"at least {MIN_INFLATE_BYTES >> 20} MiB): a decompression bomb, or not a recording"
    )


def inflate_gzip(data: bytes, limit: int) -> bytes:
    """Gzip bytes (every member) decompressed, `ValueError` as soon as that passes `limit`
    bytes: decompressed a MiB at a time, so a bomb costs `limit` bytes of memory at most."""
    out: list[bytes] = []
    size = 0
    while data[:2] == GZIP_MAGIC:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while not inflater.eof:
            try:
                piece = inflater.decompress(data, 1 << 20)
            except zlib.error as exc:
                raise ValueError(f"broken gzip body: {exc}") from None
            size += len(piece)
            if size > limit:
                raise ValueError(f"gzip body inflates to more than {limit:,} bytes")
            if not piece and not inflater.unconsumed_tail:
                raise ValueError("broken gzip body: truncated")
            out.append(piece)
            data = inflater.unconsumed_tail
        data = inflater.unused_data
    return b"".join(out)


def read_head(path: Path, size: int = 65536) -> bytes:
    """The first `size` bytes of the (decompressed) content, for format sniffing."""
    with open_binary(path) as f:
        return f.read(size)
