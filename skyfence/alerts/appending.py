"""`watch -o FILE` across restarts: which file this run writes, after what the file holds.

A JSONL or CSV file is appended to (`files.open_sink(append=True)`). A Parquet file cannot be:
its footer, written when it is closed, indexes its rows. So an existing `events.parquet` is kept
and this run writes the next part beside it, `events.1.parquet`, `events.2.parquet`...; the
parts read together as one table (`pyarrow.dataset.dataset([...])`, docs/usage.md). A file that
is not skyfence's events is refused, never written over: a service restarted by systemd keeps
running, and loses nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from skyfence.alerts.files import PARQUET_SCHEMA, EventSink, open_sink
from skyfence.errors import InputError

PARQUET_MAGIC = b"PAR1"  # the first bytes of every Parquet file, written when it is opened


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def parquet_parts(path: Path) -> list[Path]:
    """`path` and its numbered parts (`events.1.parquet`...) that exist, in the order written."""
    pattern = re.compile(re.escape(path.stem) + r"\.(\d+)" + re.escape(path.suffix))
    numbered = sorted(
        (int(found.group(1)), p)
        for p in path.parent.glob(f"*{path.suffix}")
        if (found := pattern.fullmatch(p.name))
    )
    return ([path] if path.exists() else []) + [p for _, p in numbered]


def holds_events(path: Path) -> bool:
    """Whether a Parquet file can be read as skyfence's events: True, or False for one whose
    footer is missing (a `watch` killed while writing it: its events are in the store). An
    InputError for any other file, which is not to be written beside."""
    with path.open("rb") as f:
        head = f.read(len(PARQUET_MAGIC))
    if head not in (PARQUET_MAGIC, b""):  # empty: killed before its first bytes
        raise InputError(
            f"{path}: not a Parquet file: events are written only beside a Parquet file of "
            "events; give another file"
        )
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError):
        return False
    if names != PARQUET_SCHEMA.names:
        raise InputError(
            f"{path}: its columns are not skyfence's events ({', '.join(names[:12])}): events "
            "are written only beside a Parquet file of events; give another file"
        )
    return True


def next_part(path: Path) -> Path:
    """The Parquet file this run writes: `path` when it does not exist, else the part after
    the last one (each part checked first)."""
    parts = parquet_parts(path)
    for part in parts:
        holds_events(part)
    if not path.exists():
        return path
    last = 0 if len(parts) == 1 else int(parts[-1].stem.rsplit(".", 1)[1])
    return path.with_name(f"{path.stem}.{last + 1}{path.suffix}")


def open_appending(path: Path) -> tuple[EventSink, Path]:
    """The sink `watch -o` writes, and the file it writes: `path` itself (a JSONL or CSV file,
    appended to), or for a Parquet file that exists the next part beside it."""
    written = next_part(path) if is_parquet(path) else path
    return open_sink(written, append=True), written
