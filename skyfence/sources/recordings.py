"""Read any supported recording file as a stream of `StateVectors` batches.

This module only dispatches: `detect_format` decides the format from the content, and the
format's reader, found in the registry of `formats.py`, does the work. Every
reader yields batches of at most `batch_rows` rows, so a recording larger than memory can be
replayed, and every failure surfaces as a `RecordingError` that names the file, whichever
library (gzip, pyarrow, json) raised it underneath.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from skyfence.errors import InputError
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, RecordingError
from skyfence.sources.formats import FORMATS, detect_format
from skyfence.sources.timefence import fence

__all__ = [
    "FORMATS",
    "ReadStats",
    "RecordingError",
    "RecordingReader",
    "detect_format",
    "read_recording",
]

_FAILURES = (OSError, EOFError, zlib.error, pa.ArrowException, ValueError, RecursionError)


class RecordingReader(Iterator[StateVectors]):
    """Iterator over a recording's batches; `stats` tells how many rows were read and skipped."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        batch_rows: int,
        reference: tuple[float, float] | None = None,
        start_s: float | None = None,
    ) -> None:
        self.path = path
        self.format = fmt
        self.stats = ReadStats()
        self._decoded = 0
        # receiver clocks count ticks, not dates: the first frame is at `start_s`, by default
        # the file's modification time
        start = path.stat().st_mtime if start_s is None else start_s
        self._fenced = FORMATS[fmt].decoded  # the column formats are fenced by their reader
        self._batches = FORMATS[fmt].read(
            path, batch_rows, self.stats, reference=reference, start_s=start
        )

    def __iter__(self) -> RecordingReader:
        return self

    def __next__(self) -> StateVectors:
        try:
            batch = next(self._batches)
        except RecordingError:
            raise
        except _FAILURES as exc:
            raise RecordingError(self.path, f"cannot read as {self.format}: {exc}") from exc
        if self._fenced:
            where = f"decoded fixes {self._decoded + 1}-{self._decoded + len(batch)}"
            self._decoded += len(batch)
            batch = fence(batch, self.stats, where, time.time())
        return batch


def read_recording(
    path: str | Path,
    format: str | None = None,
    batch_rows: int = 1_000_000,
    *,
    reference: tuple[float, float] | None = None,
    start_s: float | None = None,
) -> RecordingReader:
    """Batches of state vectors from a recording file, in file order.

    `format` is one of `FORMATS`, found from the content when None. `reference` (lat, lon) is
    the receiver position, used only to decode raw frames (surface positions need it).
    `start_s` is the UTC time of the first frame of a Beast or AVR recording, whose receiver
    clock counts ticks, not dates (default: the file's modification time).
    """
    path = Path(path)
    if batch_rows < 1:
        raise InputError("batch_rows must be at least 1")
    if format is None:
        format = detect_format(path)
    elif format not in FORMATS:
        raise InputError(f"unknown format {format!r}; expected one of {tuple(FORMATS)}")
    elif not path.is_file():
        raise RecordingError(path, "no such file")
    return RecordingReader(path, format, batch_rows, reference, start_s)
