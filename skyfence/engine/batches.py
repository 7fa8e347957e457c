"""What the engine is fed: each batch in its time window and in the engine's order.

Shared by the audit of files and by a folder's workers, below both."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from skyfence.engine.engine import in_engine_order
from skyfence.schema import StateVectors


def prepared(
    batches: Iterable[StateVectors], since_s: float | None = None, until_s: float | None = None
) -> Iterator[tuple[StateVectors, list[int]]]:
    """Each batch in its time window, in the engine's order, with its aircraft: run in the
    reading thread, this sorting and gathering overlaps the engine instead of preceding it."""
    for batch in batches:
        batch = in_engine_order(time_window(batch, since_s, until_s))
        starts = np.flatnonzero(np.append(True, batch.icao24[1:] != batch.icao24[:-1]))
        yield batch, batch.icao24[starts[starts < len(batch)]].tolist()


def time_window(sv: StateVectors, since_s: float | None, until_s: float | None) -> StateVectors:
    """The rows whose fix falls in [since_s, until_s); None leaves that side open.

    By the fix's own time where the source gives one (OpenSky's `lastposupdate`), as events
    are stamped: a row sampled at 13:00:01 carrying a position fixed at 12:59:56 would
    otherwise report an event at 12:59:56 under `--since 13:00`."""
    if since_s is None and until_s is None:
        return sv
    t_s = sv.fix_time_s()
    keep = np.ones(len(sv), bool)
    if since_s is not None:
        keep &= t_s >= since_s
    if until_s is not None:
        keep &= t_s < until_s
    return sv.take(keep)
