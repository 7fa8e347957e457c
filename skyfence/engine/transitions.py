"""The per (aircraft, zone) state machine: entry, exit and lost contact, for a whole batch at once.

The state is a Schmitt trigger: it becomes *inside* on any fix inside the zone and becomes
*outside* only on a fix clearly outside (beyond the exit hysteresis). Fixes in between hold the
state, so a track jittering along a boundary cannot produce an event storm. Holding is a forward
fill, computed for every group with one `maximum.accumulate`; no Python loop per fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyfence.arrays import I64
from skyfence.engine.containment import Fixes, PairTable
from skyfence.engine.crossing import Point4


@dataclass(slots=True)
class TrustedFix:
    """The last trusted fix of an aircraft: the start of its next batch's segments."""

    t_s: float
    lat: float
    lon: float
    alt_ft: float
    gs_kt: float
    track_deg: float
    vrate_fpm: float
    callsign: str


@dataclass(slots=True)
class ZoneTrack:
    """What the engine remembers of one aircraft in one zone between batches."""

    inside: bool = False
    entered_s: float = math.nan
    last_in: Point4 | None = None  # last fix inside the zone...
    after_in: Point4 | None = None  # ...and the fix after it, to place an exit
    lost: bool = False  # lost_contact already reported for the current last fix
    last_warning_s: float = -math.inf
    last_change_s: float = -math.inf


def track_of(tracks: dict[tuple[int, int], ZoneTrack], key: tuple[int, int]) -> ZoneTrack:
    """`tracks.setdefault(key, ZoneTrack())` without building a ZoneTrack for a key that has
    one (most have: tens of thousands of objects a dense audit made to throw away)."""
    track = tracks.get(key)
    if track is None:
        track = tracks[key] = ZoneTrack()
    return track


@dataclass(frozen=True, slots=True)
class Walk:
    """The pair table in group order (zone, aircraft, time) with the state at every row."""

    pairs: PairTable
    group_start: npt.NDArray[np.bool_]
    group_id: I64
    state: npt.NDArray[np.int8]
    prev_state: npt.NDArray[np.int8]
    last_in_row: I64  # last row of the group at or before this one whose fix was inside, or -1


def with_exit_rows(pt: PairTable, fx: Fixes) -> PairTable:
    """Group the pairs by (zone, fix), adding a clearly-outside row for the fix after a
    candidate when that fix left the grid area.

    A fix far from a zone is not a candidate for it, yet it is what ends an inside state. The
    pairs arrive in fix order, so a stable sort by zone groups them (radix sort on small ids),
    and each added row belongs right after the row it follows.
    """
    zone_key = pt.zone.astype(np.int16) if len(pt.zone) and pt.zone.max() < 2**15 else pt.zone
    pt = pt.take(np.argsort(zone_key, kind="stable"))
    n_fix = len(fx)
    nxt = pt.fix + 1
    has_next_fix = nxt < n_fix
    has_next_fix[has_next_fix] = fx.icao24[nxt[has_next_fix]] == fx.icao24[pt.fix[has_next_fix]]
    next_is_row = np.zeros(len(pt.fix), bool)
    next_is_row[:-1] = (pt.zone[1:] == pt.zone[:-1]) & (pt.fix[1:] == nxt[:-1])
    need = np.flatnonzero(has_next_fix & ~next_is_row)
    if len(need) == 0:
        return pt
    at = need + 1
    return PairTable(
        np.insert(pt.fix, at, nxt[need]),
        np.insert(pt.zone, at, pt.zone[need]),
        np.insert(pt.inside, at, False),
        np.insert(pt.clear, at, True),
        np.insert(pt.applies, at, pt.applies[need]),
    )


def walk(pt: PairTable, fx: Fixes, carried: dict[tuple[int, int], ZoneTrack]) -> Walk:
    """States at every row, starting each group from the carried state at its virtual row."""
    m = len(pt.fix)
    icao = fx.icao24[pt.fix]
    group_start = np.ones(m, bool)
    group_start[1:] = (pt.zone[1:] != pt.zone[:-1]) | (icao[1:] != icao[:-1])
    value = np.where(pt.inside, 1, np.where(pt.clear, 0, -1)).astype(np.int8)
    virtual = fx.virtual[pt.fix]
    for r in np.flatnonzero(virtual):  # once per (aircraft, nearby zone), not per fix
        track = carried.get((int(icao[r]), int(pt.zone[r])))
        value[r] = 1 if track is not None and track.inside else 0
    value[group_start & (value < 0)] = 0  # a group without history starts outside
    rows = np.arange(m)
    state = value[np.maximum.accumulate(np.where(value >= 0, rows, 0))]
    prev_state = np.empty(m, np.int8)
    prev_state[1:] = state[:-1]
    prev_state[group_start] = np.where(virtual[group_start], state[group_start], 0)
    group_id = np.cumsum(group_start) - 1
    starts = np.flatnonzero(group_start)
    last_in = np.maximum.accumulate(np.where(pt.inside, rows, -1))
    last_in = np.where(last_in >= starts[group_id], last_in, -1)
    return Walk(pt, group_start, group_id, state, prev_state, last_in)


def point_of(fx: Fixes, i: int) -> Point4:
    return Point4(float(fx.t_s[i]), float(fx.lat[i]), float(fx.lon[i]), float(fx.alt_ft[i]))
