"""The one registry of recording formats: how each is recognised, and which function reads it.

Adding a format is one module (a reader yielding `StateVectors` batches, and a predicate on the
file's `Head`) and one line in FORMATS. Readers are imported only when a file of their format is
read, so a command that reads no recording does not pay for pyarrow's CSV or the frame decoder.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyfence.schema import StateVectors
from skyfence.sources import sniff
from skyfence.sources.base import ReadStats

Reader = Callable[..., Iterator[StateVectors]]  # (path, batch_rows, stats, **options)


@dataclass(frozen=True, slots=True)
class RecordingFormat:
    """One format: its content predicate, its reader, and what the reader needs."""

    sniff: Callable[[sniff.Head], bool]
    reader: str  # "module:function", imported when a file of this format is read
    decoded: bool = False  # fixes decoded from frames or messages: fenced in time by the caller
    options: tuple[str, ...] = ()  # which of `reference`, `start_s` the reader takes

    def read(
        self, path: Path, batch_rows: int, stats: ReadStats, **options: Any
    ) -> Iterator[StateVectors]:
        module, name = self.reader.split(":")
        reader: Reader = getattr(importlib.import_module(module), name)
        return reader(path, batch_rows, stats, **{k: options[k] for k in self.options})


# In detection order: the first format whose predicate holds is the file's format.
_S = "skyfence.sources"
_FRAMES = ("reference", "start_s")  # raw frames: the receiver position, the clock's start
FORMATS: dict[str, RecordingFormat] = {
    "opensky-parquet": RecordingFormat(sniff.opensky_parquet, f"{_S}.opensky:read_parquet"),
    "traffic-parquet": RecordingFormat(sniff.traffic_parquet, f"{_S}.traffic_files:read_parquet"),
    "beast": RecordingFormat(sniff.beast, f"{_S}.beast:read_beast_file", True, _FRAMES),
    "avr": RecordingFormat(sniff.avr, f"{_S}.avr:read_avr_file", True, _FRAMES),
    "sbs": RecordingFormat(sniff.sbs, f"{_S}.sbs:read_sbs_file", True),
    "readsb-trace": RecordingFormat(sniff.readsb_trace, f"{_S}.readsb_trace:read_trace"),
    "frames-jsonl": RecordingFormat(
        sniff.frames_jsonl, f"{_S}.frames_jsonl:read_frames", True, _FRAMES[:1]
    ),
    "traffic-json": RecordingFormat(sniff.traffic_json, f"{_S}.traffic_files:read_json"),
    "opensky-csv": RecordingFormat(sniff.opensky_csv, f"{_S}.opensky:read_csv"),
}


def detect_format(path: str | Path) -> str:
    """The name of the file's format in FORMATS, or a `RecordingError` saying why it has none."""
    path = Path(path)
    head = sniff.read_head(path)
    for name, recording_format in FORMATS.items():
        if recording_format.sniff(head):
            return name
    raise sniff.unknown(path, head)
