"""Vectorised carry-forward of the latest known value per aircraft.

Messages each carry a few fields (a velocity message has no position, a position message no
callsign), so a state vector is assembled from the latest value of each field. Doing that with a
per-row Python loop is the slow part of decoding large recordings; these helpers do it with
`np.maximum.accumulate` over row indices instead, on rows sorted by aircraft then time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from skyfence.arrays import BOOL, I64


def group_bounds(keys: npt.NDArray[Any]) -> tuple[I64, I64]:
    """For rows sorted by `keys`: the index of the first and of the last row of each row's group."""
    n = keys.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    is_start = np.ones(n, bool)
    is_start[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(is_start)
    sizes = np.diff(np.append(starts, n))
    first = np.repeat(starts, sizes).astype(np.int64)
    last = np.repeat(starts + sizes - 1, sizes).astype(np.int64)
    return first, last


def ffill_index(valid: BOOL, first: I64) -> I64:
    """Index of the last valid row at or before each row within its group, -1 if there is none."""
    idx = np.where(valid, np.arange(valid.shape[0], dtype=np.int64), -1)
    np.maximum.accumulate(idx, out=idx)
    idx[idx < first] = -1
    return idx


def bfill_index(valid: BOOL, last: I64) -> I64:
    """Index of the first valid row at or after each row within its group, -1 if there is none."""
    n = valid.shape[0]
    rev = ffill_index(valid[::-1], (n - 1 - last)[::-1])[::-1]
    return np.where(rev >= 0, n - 1 - rev, -1)


def carried(
    values: npt.NDArray[Any],
    idx: I64,
    missing: Any,
    t: npt.NDArray[np.float64] | None = None,
    max_age_s: float = np.inf,
) -> npt.NDArray[Any]:
    """`values[idx]` per row, `missing` where there is no source row or it is too old.

    `idx` and `t` are full-length (one entry per row). The age limit exists because a value
    heard minutes ago (a vertical rate, a ground speed) is not the aircraft's state now, and an
    engine judging incursions must not take it as such.
    """
    src = np.maximum(idx, 0)
    out = values[src].copy()
    gone = idx < 0
    if t is not None and np.isfinite(max_age_s):
        gone |= (t - t[src]) > max_age_s
    out[gone] = missing
    return out
