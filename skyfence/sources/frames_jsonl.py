"""Raw Mode S frames, one JSON object per line with `timestamp` and `frame` (hex).

This is what rs1090/jet1090 and traffic write when they log raw frames; any other field on the
line (a decoder's own interpretation) is ignored so that decoding is ours and consistent.
Lines are streamed in chunks and decoded by one `FrameDecoder`, which carries each aircraft's
state from chunk to chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from skyfence.decoding.frames import FrameDecoder
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, open_binary
from skyfence.sources.columns import as_seconds, as_text
from skyfence.sources.jsonlines import chunk_bytes, iter_json_tables

SCHEMA = pa.schema([("timestamp", pa.float64()), ("frame", pa.string())])


def read_frames(
    path: Path,
    batch_rows: int,
    stats: ReadStats,
    reference: tuple[float, float] | None = None,
) -> Iterator[StateVectors]:
    decoder = FrameDecoder(reference)
    stats.decode = decoder.stats
    with open_binary(path) as stream:
        tables = iter_json_tables(
            stream,
            path,
            SCHEMA,
            stats,
            time_fields=frozenset({"timestamp"}),
            block_bytes=chunk_bytes(batch_rows),
        )
        for table, where in tables:
            for start in range(0, table.num_rows, batch_rows):
                part = table.slice(start, batch_rows)
                t, bad_t = as_seconds(part.column("timestamp"))
                frames = as_text(part.column("frame"))
                stats.rows_read += part.num_rows
                malformed_before = decoder.stats.malformed
                sv = decoder.decode(np.where(bad_t, np.nan, t), frames)
                malformed = decoder.stats.malformed - malformed_before
                stats.skip(malformed, f"{where}: no valid timestamp or 14/28-digit hex frame")
                stats.rows_yielded += len(sv)
                if len(sv):
                    yield sv
