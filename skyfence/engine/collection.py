"""Fewer garbage collections while an audit runs.

An audit allocates millions of short-lived objects (events, their details, the values the
engine carries per aircraft) and keeps hundreds of thousands alive (the imported libraries,
the state of every aircraft). CPython collects its youngest generation every 700 allocations
and, now and then, walks every object it tracks: on the peer benchmark's audit that was a
quarter of the CPU time (bench/RESULTS.md, issue 17 item 2). The engine makes no reference
cycles of its own, so collecting less often frees the same memory, later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000  # allocations between collections of the youngest generation


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Objects alive on entry (the imported modules) are left out of every collection, and
    the youngest generation is collected every YOUNG_THRESHOLD allocations; both undone on
    exit."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
