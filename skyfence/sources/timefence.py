"""Refuse recorded fixes stamped far outside the recording's time.

The engine's clock only moves forward: one row stamped in the year 5138 would make it jump,
declare every aircraft in a zone lost, and stretch the audit's span to 5138. Live sources refuse
fixes ahead of this machine's clock (`skyfence.watching.drop_future`); a recording has no such
reference, so two fences stand in for it, each refusing (counting and reporting) a row:

- plausibility: before `EARLIEST_S` (2000-01-01; no ADS-B recording is older, and 1970 is what
  a zero or a missing time becomes) or more than `FUTURE_MARGIN_S` ahead of this machine's clock
  (a recording cannot come from the future; the margin covers a local time taken for UTC);
- the batch's own range: further than `SPREAD_K` interquartile ranges plus `SPREAD_MARGIN_S`
  from its quartiles, in batches of at least `MIN_ROWS` rows. Quartiles ignore any number of
  outliers below a quarter of the rows, and the margin of a week keeps a real trace whose
  legs are days apart whole; an absurd time a few days away from the rest is not caught.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from skyfence.arrays import BOOL
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats

EARLIEST_S = 946_684_800.0  # 2000-01-01T00:00:00Z
FUTURE_MARGIN_S = 86_400.0
SPREAD_K = 3.0
SPREAD_MARGIN_S = 7 * 86_400.0
MIN_ROWS = 20


def outside(times: npt.NDArray[np.float64], now_s: float) -> BOOL:
    """Which finite times are beyond either fence (NaN is left to the readers' own checks)."""
    finite = np.isfinite(times)
    bad = finite & ((times < EARLIEST_S) | (times > now_s + FUTURE_MARGIN_S))
    plausible = times[finite & ~bad]
    if len(plausible) >= MIN_ROWS:
        q1, q3 = np.percentile(plausible, [25.0, 75.0])
        reach = SPREAD_K * (q3 - q1) + SPREAD_MARGIN_S
        bad |= finite & ((times < q1 - reach) | (times > q3 + reach))
    return bad


def fence(
    sv: StateVectors,
    stats: ReadStats,
    where: str,
    now_s: float,
    lines: npt.NDArray[np.int64] | None = None,
) -> StateVectors:
    """`sv` without the rows whose time or position time is beyond the fences, counted in
    `stats` as skipped, with their lines when known, else `where`, and the first time."""
    bad_t = outside(sv.t_s, now_s)
    bad = bad_t | outside(sv.t_pos_s, now_s)
    n_bad = int(bad.sum())
    if not n_bad:
        return sv
    rows = np.flatnonzero(bad)
    first = rows[0]
    t = float(sv.t_s[first] if bad_t[first] else sv.t_pos_s[first])
    if lines is not None:
        numbers = lines[rows].tolist()
        shown = ", ".join(map(str, numbers[:5])) + (", ..." if n_bad > 5 else "")
        where = f"line{'s' if n_bad > 1 else ''} {shown}"
    stats.skip(n_bad, f"{where}: stamped {_iso(t)}, far outside the recording's time (refused)")
    stats.rows_yielded -= n_bad
    return sv.take(~bad)


def _iso(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{t:.0f} s after 1970" if math.isfinite(t) else str(t)
