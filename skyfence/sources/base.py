"""What every recording reader shares: its error type, its skip counts, and gz-aware opening.

Readers never crash on a bad row: they count it and move on, because one corrupt line in a
day-long recording must not hide the other million. The counts (and the first few reasons, with
line numbers) are kept in `ReadStats` so a caller can tell a clean file from a damaged one.
A file that cannot be read at all raises `RecordingError`, which always names the file.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from skyfence.errors import SkyfenceError

if TYPE_CHECKING:
    from skyfence.decoding.frames import DecodeStats

GZIP_MAGIC = b"\x1f\x8b"
MAX_PROBLEMS = 20


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
    """The file's content, decompressed when it is gzip.

    Decided by content, not name: tar1090 stores its gzip traces as `.json`.
    """
    if is_gzip(path):
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def read_head(path: Path, size: int = 65536) -> bytes:
    """The first `size` bytes of the (decompressed) content, for format sniffing."""
    with open_binary(path) as f:
        return f.read(size)
