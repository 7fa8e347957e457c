"""Which positions can be trusted: deduplication, integrity categories and kinematic plausibility.

Near conflict zones GNSS is jammed and spoofed daily, and a spoofed position inside a closed FIR is
exactly what must never become an alert. A position is *trusted* only if it is fresh (a new fix,
not a repeated stale one), its source integrity (NIC/NACp) is adequate where known, it is within
the flight envelope, it is not a frozen position, its receiver could have heard it (where the
receiver is known), and it is reachable from the aircraft's last trusted position at a plausible
speed, allowing for how old a position stamped without its own time may be. Untrusted positions
are quarantined: never used for zone states, and reported as suspect once a second one shows
the anomaly lasts. `Verdicts.reason` keeps why, fix by fix, for whoever aggregates them.

The common case (a clean track) is decided with whole-array operations; only aircraft with a
failing position are walked fix by fix, because after a failure each fix must be judged against
the last *trusted* one, which depends on the verdicts before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyfence.arrays import BOOL, F64, I8, I64, rows_of
from skyfence.schema import StateVectors
from skyfence.settings import (
    ALTITUDE_NOISE_FT as ALTITUDE_NOISE_FT,
)
from skyfence.settings import (
    CONFIRM_FIXES,
    CONFIRM_SUSPECT,
    ENVELOPE_MAX_ALT_FT,
    GROUND_RECENT_S,
    NOISE_M,
    OWN_TIME_ERR_S,
    STALL_FRACTION,
    STALL_MIN_KT,
    STALL_WINDOW_S,
    EngineSettings,
)
from skyfence.settings import (
    GROUND_MAX_FT as GROUND_MAX_FT,
)
from skyfence.settings import (
    MAX_CLIMB_FPM as MAX_CLIMB_FPM,
)
from skyfence.settings import (
    STALE_POSITION_S as STALE_POSITION_S,
)
from skyfence.tracking.altitude import plausible_altitudes as plausible_altitudes
from skyfence.tracking.kinematics import (
    KT_MS,
    Fix,
    distance_m,
    fix_distance_m,
    implied_kt,
    reach_m,
    reachable,
)
from skyfence.tracking.state import TrackIntegrity

__all__ = ["Fix", "TrackIntegrity", "Verdicts", "assess", "assess_batch", "plausible_altitudes"]

TRUSTED, LOW_INTEGRITY, IMPOSSIBLE_JUMP, OUTSIDE_ENVELOPE, NULL_POSITION = 0, 1, 2, 3, 4
FROZEN_POSITION, BEYOND_HORIZON = 5, 6
REASONS = {
    LOW_INTEGRITY: "low_integrity",
    IMPOSSIBLE_JUMP: "impossible_jump",
    OUTSIDE_ENVELOPE: "outside_flight_envelope",
    NULL_POSITION: "null_position",
    FROZEN_POSITION: "frozen_position",
    BEYOND_HORIZON: "beyond_radio_horizon",
}
STRENGTH_CAP = 10 * CONFIRM_FIXES  # strength and runs count no further


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Per input row; only fresh rows are fixes, only trusted fixes drive zone states."""

    fresh: BOOL
    trusted: BOOL
    reason: I8
    suspect_start: BOOL  # the fix that confirms an episode: one event each
    implied_kt: F64  # speed implied from the reference fix


@dataclass(frozen=True, slots=True)
class _Aircraft:
    """The batch's rows grouped by aircraft (sorted by address), with each one's carried state."""

    start: BOOL  # per row: the aircraft's first row
    starts: I64  # per aircraft: its first row
    ends: I64  # per aircraft: its last row
    group: I64  # per row: index of its aircraft
    states: list[TrackIntegrity]

    @classmethod
    def of(cls, icao24: npt.NDArray[np.uint32], states: dict[int, TrackIntegrity]) -> _Aircraft:
        n = len(icao24)
        start = np.ones(n, bool)
        start[1:] = icao24[1:] != icao24[:-1]
        starts = np.flatnonzero(start)
        # one look-up per aircraft, not per row
        carried = [states.get(a) or states.setdefault(a, TrackIntegrity()) for a in
                   icao24[starts].tolist()]  # fmt: skip
        ends = np.append(starts[1:] - 1, n - 1)
        return cls(start, starts, ends, np.cumsum(start) - 1, carried)

    def carried_or(self, here: I64, values: F64, carried: F64, rows: I64 | None = None) -> F64:
        """`values[here]` where `here` is a row of the same aircraft, else the carried value;
        `here` is given for every row, or for `rows` only."""
        group = self.group if rows is None else self.group[rows]
        return np.where(here >= self.starts[group], values[np.maximum(here, 0)], carried[group])


def _of(fixes: list[Fix | None], name: str, missing: float = math.nan) -> F64:
    """One field of each aircraft's carried last fix (`missing` where it has none)."""
    return np.array([missing if f is None else getattr(f, name) for f in fixes], np.float64)


@dataclass(frozen=True, slots=True)
class _Fixes:
    """Which rows are new fixes, and what is known of their timing."""

    fresh: BOOL
    frozen: BOOL  # fresh because the same coordinates came with a time that moved on
    t_err: F64  # how much older than its stamp each position may be (see OWN_TIME_ERR_S)
    last_ground: F64  # time of the aircraft's last on-ground report, up to each row


def assess(
    icao24: npt.NDArray[np.uint32],
    t_fix: F64,
    t_s: F64,
    lat: F64,
    lon: F64,
    alt_ft: F64,
    gs_kt: F64,
    on_ground: BOOL,
    nic: I8,
    nacp: I8,
    states: dict[int, TrackIntegrity],
    settings: EngineSettings,
    own_time: BOOL | None = None,
    beyond_horizon: BOOL | None = None,
) -> Verdicts:
    """Judge rows sorted by (icao24, t_fix); updates `states` in place.

    `own_time` says which positions carry their own fix time (default: none); the others may
    be as old as the interval since the aircraft's previous row, and the speed checks allow for
    it. `beyond_horizon` marks positions their receiver could not have heard directly.

    In four steps: which rows are fixes, what each fix alone says (`_stateless_reasons`), which
    fixes jump from the one before (`_jumps`), and the verdicts, aircraft by aircraft
    (`_settle`), walking fix by fix only after a failure.
    """
    n = len(t_fix)
    aircraft = _Aircraft.of(icao24, states)
    own = np.zeros(n, bool) if own_time is None else own_time
    fixes = _fixes(aircraft, t_fix, t_s, lat, lon, gs_kt, on_ground, own)
    verdicts = Verdicts(
        fixes.fresh, np.zeros(n, bool), np.zeros(n, np.int8), np.zeros(n, bool), np.full(n, np.nan)
    )
    rows = np.flatnonzero(fixes.fresh)
    if len(rows) == 0:
        return verdicts
    every = len(rows) == n  # the fixes' columns are views when every row is a fix, as usual
    group_of_fix = rows_of(aircraft.group, rows, every)  # index into `aircraft.states`
    f_start = np.ones(len(rows), bool)
    f_start[1:] = group_of_fix[1:] != group_of_fix[:-1]
    stateless = _stateless_reasons(
        rows_of(lat, rows, every),
        rows_of(lon, rows, every),
        rows_of(alt_ft, rows, every),
        rows_of(gs_kt, rows, every),
        rows_of(on_ground, rows, every),
        settings,
    )
    recent_ground = rows_of(t_fix - fixes.last_ground <= GROUND_RECENT_S, rows, every)
    stateless[(stateless == OUTSIDE_ENVELOPE) & recent_ground] = TRUSTED
    stateless[rows_of(fixes.frozen, rows, every)] = FROZEN_POSITION
    if beyond_horizon is not None:
        stateless[rows_of(beyond_horizon, rows, every) & (stateless == TRUSTED)] = BEYOND_HORIZON
    low = _integrity_drops(rows_of(nic, rows, every), settings.min_nic, "good_nic", f_start,
                           group_of_fix, aircraft.states)  # fmt: skip
    low |= _integrity_drops(rows_of(nacp, rows, every), settings.min_nacp, "good_nacp", f_start,
                            group_of_fix, aircraft.states)  # fmt: skip
    stateless[low & (stateless == TRUSTED)] = LOW_INTEGRITY
    jump = _jumps(rows, every, f_start, group_of_fix, aircraft.states, t_fix, lat, lon, gs_kt,
                  fixes.t_err, settings, verdicts.implied_kt)  # fmt: skip
    _settle(rows, f_start, group_of_fix, stateless, jump, aircraft.states, t_fix, lat, lon,
            gs_kt, fixes.t_err, settings, verdicts)  # fmt: skip
    return verdicts


def _fixes(
    aircraft: _Aircraft,
    t_fix: F64,
    t_s: F64,
    lat: F64,
    lon: F64,
    gs_kt: F64,
    on_ground: BOOL,
    own: BOOL,
) -> _Fixes:
    """Which rows are new fixes; notes in each aircraft's state what the next batch needs."""
    n = len(t_fix)
    starts, carried = aircraft.starts, aircraft.states
    carried_last_t = np.array(
        [s.last_fix.t_s if s.last_fix else -math.inf for s in carried], dtype=np.float64
    )
    valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    prev_t = np.empty(n)
    prev_t[1:] = t_fix[:-1]
    prev_t[starts] = carried_last_t
    # a second position at the same time is a fix too, if elsewhere: one address, two places
    fresh = valid & (t_s - t_fix <= STALE_POSITION_S) & (t_fix >= prev_t)
    # state vectors without a fix time repeat the last position until a new one arrives; two
    # fixes never carry exactly the same coordinates, so those are repeats, not fixes
    # compared with the last position before (a row without one, between, changes nothing:
    # the carried last fix is what the next batch compares with, so one whole batch and live
    # batches agree; a repeat after a position-less row was a new fix in the whole batch only)
    fixes = [s.last_fix for s in carried]
    carried_lat, carried_lon = _of(fixes, "lat_deg"), _of(fixes, "lon_deg")
    last_valid = np.maximum.accumulate(np.where(valid, np.arange(n), -1))
    before = np.append(-1, last_valid[:-1])
    prev_lat = aircraft.carried_or(before, lat, carried_lat)
    prev_lon = aircraft.carried_or(before, lon, carried_lon)
    # the same coordinates again, with a position time that moved on far enough for the reported
    # ground speed to have carried the aircraft away: a frozen position, not a repeat
    same = ((lat == prev_lat) & (lon == prev_lon)) | ~valid
    run_start = np.maximum.accumulate(np.where(same, -1, np.arange(n)))
    carried_same = np.array([s.same_since_s for s in carried], np.float64)
    # when each run of the same coordinates began: needed only where a position may be
    # frozen (the same again, with its own time), and at each aircraft's last row
    maybe = np.flatnonzero(same & own)
    at = np.concatenate([maybe, aircraft.ends])
    run_t0 = aircraft.carried_or(run_start[at], t_fix, carried_same, at)
    frozen = np.zeros(n, bool)
    t0, t = run_t0[: len(maybe)], t_fix[maybe]
    with np.errstate(invalid="ignore"):
        frozen[maybe] = (
            fresh[maybe]
            & (t > prev_t[maybe])
            & ~on_ground[maybe]
            & (gs_kt[maybe] * KT_MS * (t - t0) > NOISE_M)
        )
    fresh &= ~same
    fresh |= frozen
    # how much older than its stamp each position may be (see OWN_TIME_ERR_S)
    prev_row_t = np.empty(n)
    prev_row_t[1:] = t_fix[:-1]
    prev_row_t[starts] = [s.last_seen_s for s in carried]
    with np.errstate(invalid="ignore"):
        interval = np.clip(np.nan_to_num(t_fix - prev_row_t, posinf=0.0), 0.0, STALE_POSITION_S)
    t_err = np.where(own, OWN_TIME_ERR_S, interval)
    # the time of the last on-ground report, for the envelope test
    ground_at = np.maximum.accumulate(np.where(on_ground, np.arange(n), -1))
    carried_ground = np.array([s.last_ground_s for s in carried], np.float64)
    last_ground = aircraft.carried_or(ground_at, t_s, carried_ground)
    ends = aircraft.ends
    for seen, t_end, same_since, ground in zip(  # once per aircraft
        carried, t_fix[ends].tolist(), run_t0[len(maybe) :].tolist(), last_ground[ends].tolist(),
        strict=True,
    ):  # fmt: skip
        seen.last_seen_s = max(seen.last_seen_s, t_end)
        seen.same_since_s = same_since
        seen.last_ground_s = ground
    return _Fixes(fresh, frozen, t_err, last_ground)


def _jumps(
    rows: I64,
    every: bool,
    f_start: BOOL,
    group_of_fix: I64,
    carried: list[TrackIntegrity],
    t_fix: F64,
    lat: F64,
    lon: F64,
    gs_kt: F64,
    t_err: F64,
    settings: EngineSettings,
    implied: F64,
) -> BOOL:
    """Fixes farther from the fix before them (or the carried last fix) than the speed rule
    allows; fills `implied` with the speed each fix implies."""
    f_lat, f_lon, f_t, f_gs, f_err = (
        rows_of(a, rows, every) for a in (lat, lon, t_fix, gs_kt, t_err)
    )
    ref_lat, ref_lon, ref_t, ref_gs, ref_err = (np.empty(len(rows)) for _ in range(5))
    ref_lat[1:], ref_lon[1:], ref_t[1:], ref_gs[1:] = f_lat[:-1], f_lon[:-1], f_t[:-1], f_gs[:-1]
    ref_err[1:] = f_err[:-1]
    firsts = np.flatnonzero(f_start)
    fixes = [carried[g].last_fix for g in group_of_fix[firsts].tolist()]
    ref_lat[firsts], ref_lon[firsts] = _of(fixes, "lat_deg"), _of(fixes, "lon_deg")
    ref_t[firsts], ref_gs[firsts] = _of(fixes, "t_s"), _of(fixes, "gs_kt")
    ref_err[firsts] = _of(fixes, "t_err_s", 0.0)
    dist = distance_m(ref_lat, ref_lon, f_lat, f_lon)
    dt = f_t - ref_t
    with np.errstate(invalid="ignore", divide="ignore"):
        implied[rows] = dist / np.maximum(dt, 1e-3) / KT_MS
        # the true interval may be longer than the stamps say by the older position's age
        limit_m = reach_m(ref_gs, f_gs, dt + np.maximum(ref_err, f_err), settings)
    return np.isfinite(dist) & (dist > limit_m)


def _settle(
    rows: I64,
    f_start: BOOL,
    group_of_fix: I64,
    stateless: I8,
    jump: BOOL,
    carried: list[TrackIntegrity],
    t_fix: F64,
    lat: F64,
    lon: F64,
    gs_kt: F64,
    t_err: F64,
    settings: EngineSettings,
    verdicts: Verdicts,
) -> None:
    """The verdicts, aircraft by aircraft: every fix before an aircraft's first failure is
    trusted (its predecessor was), and from the first failure each fix is walked against the
    anchor until the track is trusted again after the last failure."""
    bad = (stateless != TRUSTED) | jump
    fix_group = np.cumsum(f_start) - 1
    # a track carried in a suspect episode (or without an anchor) is walked from its first
    # fix, since fixes consistent with each other may all be far from the anchor
    first_bad = np.full(int(fix_group[-1]) + 1, len(rows))
    np.minimum.at(first_bad, fix_group[bad], np.flatnonzero(bad))
    group_bounds = np.append(np.flatnonzero(f_start), len(rows))
    of_first = [carried[g] for g in group_of_fix[group_bounds[:-1]].tolist()]
    walk_all = np.array(
        [s.suspect or (s.last_fix is not None and s.anchor is None) for s in of_first], bool
    )
    first_bad[walk_all] = group_bounds[:-1][walk_all]
    verdicts.trusted[rows[np.arange(len(rows)) < first_bad[fix_group]]] = True

    def fix_at(r: int) -> Fix:
        return Fix(float(t_fix[r]), float(lat[r]), float(lon[r]), float(gs_kt[r]), float(t_err[r]))

    last = rows[group_bounds[1:] - 1]  # each aircraft's last fix, for the clean tracks
    ends = zip(*(a[last].tolist() for a in (t_fix, lat, lon, gs_kt, t_err)), strict=True)
    for lo, hi, bad_from, end in zip(  # once per aircraft
        group_bounds[:-1].tolist(), group_bounds[1:].tolist(), first_bad.tolist(), ends,
        strict=True,
    ):  # fmt: skip
        cut = min(bad_from, hi)
        state = carried[group_of_fix[lo]]
        if cut == hi:  # every fix trusted, as usual: the last one anchors
            fix = Fix(*end)
            _anchor(state, fix, hi - lo, run=True)
            state.last_fix = fix
            continue
        if cut > lo:
            _anchor(state, fix_at(rows[cut - 1]), cut - lo, run=True)
            state.last_fix = state.anchor
        if cut < hi:
            failures = np.flatnonzero(bad[cut:hi])
            walked = _walk(int(failures[-1]) if len(failures) else 0, rows[cut:hi], fix_at,
                           stateless[cut:hi], state, settings, verdicts)  # fmt: skip
            rest = rows[cut + walked : hi]
            if len(rest):  # from there each fix agrees with the one before, as in a clean track
                verdicts.trusted[rest] = True
                _anchor(state, fix_at(rest[-1]), len(rest), run=True)
        state.last_fix = fix_at(rows[hi - 1])


def _anchor(state: TrackIntegrity, fix: Fix, trusted: int, run: bool = False) -> None:
    """`trusted` more consistent fixes end at `fix`, the new anchor; `run`: they also extend
    the run of mutually consistent fixes (the walk counts that run itself)."""
    state.anchor = fix
    state.strength = min(state.strength + trusted, STRENGTH_CAP)
    if run:
        state.run = min(state.run + trusted, STRENGTH_CAP)
    state.suspect = False
    state.calm = min(state.calm + trusted, CONFIRM_FIXES)
    if state.calm >= CONFIRM_FIXES:
        state.quarantined = 0


def assess_batch(
    sv: StateVectors,
    t_fix: F64,
    alt_ft: F64,
    states: dict[int, TrackIntegrity],
    settings: EngineSettings,
    beyond_horizon: BOOL | None = None,
) -> Verdicts:
    """`assess` on a batch sorted by (icao24, fix time)."""
    return assess(sv.icao24, t_fix, sv.t_s, sv.lat_deg, sv.lon_deg, alt_ft, sv.gs_kt,
                  sv.on_ground, sv.nic, sv.nacp, states, settings,
                  np.isfinite(sv.t_pos_s), beyond_horizon)  # fmt: skip


def _stateless_reasons(
    lat: F64,
    lon: F64,
    alt_ft: F64,
    gs_kt: F64,
    on_ground: BOOL,
    settings: EngineSettings,
) -> I8:
    """Reasons that need no history: the fix alone says it cannot be trusted."""
    reason = np.zeros(len(lat), np.int8)
    # an aircraft in the flight levels airliners use cannot hold it below ~100 kt ground speed;
    # a spoofer's frozen or slowly drifting position reports exactly that
    envelope = (
        ~on_ground
        & (alt_ft >= settings.envelope_min_alt_ft)
        & (alt_ft <= ENVELOPE_MAX_ALT_FT)
        & (gs_kt < settings.envelope_min_gs_kt)
    )
    reason[envelope] = OUTSIDE_ENVELOPE
    reason[(lat == 0) & (lon == 0)] = NULL_POSITION
    return reason


def _integrity_drops(
    value: I8,
    minimum: int,
    memory: str,
    group_start: BOOL,
    group: I64,
    carried: list[TrackIntegrity],
) -> BOOL:
    """Fixes whose NIC (or NACp) is below the minimum although the aircraft has reported an
    adequate one before: jamming degrades a good receiver. An aircraft that never reports an
    adequate value (uncertified GNSS in light aircraft, which reports NIC 0 all the time) is
    judged by kinematics alone, or its every incursion would be missed. Remembers in each
    state's `memory` flag (`good_nic`, `good_nacp`) whether an adequate value came."""
    n = len(value)
    good = value >= minimum
    carried_good = np.array([getattr(s, memory) for s in carried], bool)
    seen_good = np.bincount(group[good], minlength=len(carried)) > 0
    for state, now_good in zip(carried, seen_good, strict=True):
        setattr(state, memory, getattr(state, memory) or bool(now_good))
    if not ((value >= 0) & (value < minimum)).any():
        return np.zeros(n, bool)
    last_good = np.full(n, -1)
    last_good[1:] = np.maximum.accumulate(np.where(good, np.arange(n), -1))[:-1]
    first = np.flatnonzero(group_start)
    seen = (last_good >= first[np.cumsum(group_start) - 1]) | carried_good[group]
    return np.asarray((value >= 0) & ~good & seen, dtype=bool)


def _walk(
    last_failure: int,
    rows: I64,
    fix_at: Callable[[int], Fix],
    stateless: I8,
    state: TrackIntegrity,
    settings: EngineSettings,
    verdicts: Verdicts,
) -> int:
    """Judge one aircraft's fixes in order, each against the last trusted fix (the anchor);
    returns how many were walked: it stops at the first trusted fix after `last_failure`.

    A track whose anchor is weak (fewer than CONFIRM_FIXES consistent fixes) re-anchors on a run
    of CONFIRM_FIXES mutually consistent fixes, so one bad first position cannot blind us to an
    aircraft; a strong anchor is only left for a fix reachable from it.
    """
    previous = state.last_fix
    for k, r in enumerate(rows):
        fix = fix_at(int(r))
        consistent_with_previous = previous is None or reachable(previous, fix, settings)
        state.run = state.run + 1 if consistent_with_previous and stateless[k] == TRUSTED else 1
        verdict = int(stateless[k])
        if verdict == TRUSTED and state.anchor is not None:
            verdicts.implied_kt[r] = implied_kt(state.anchor, fix)
            if not reachable(state.anchor, fix, settings):
                weak = state.strength < CONFIRM_FIXES
                verdict = TRUSTED if weak and state.run >= CONFIRM_FIXES else IMPOSSIBLE_JUMP
                if verdict == TRUSTED:
                    state.strength = state.run
        if verdict == TRUSTED and state.episode and _stalled(state.episode, fix):
            verdict = FROZEN_POSITION
        if verdict == TRUSTED:
            verdicts.trusted[r] = True
            state.episode.clear()
            _anchor(state, fix, 1)
            if k >= last_failure:
                return k + 1
        else:
            verdicts.reason[r] = verdict
            state.quarantined += 1
            state.calm = 0
            state.episode.append(fix)
            verdicts.suspect_start[r] = state.quarantined == CONFIRM_SUSPECT
            state.suspect = True
            if state.anchor is None:
                state.strength = 0
        previous = fix
    return len(rows)


def _stalled(episode: list[Fix], fix: Fix) -> bool:
    """Whether `fix` is hardly farther from the episode's fix STALL_WINDOW_S before it than
    the reported ground speed says it must be (a real track in a turn covers more than half
    its path length over a minute). Prunes `episode` to what later fixes still need."""
    back = -1
    for i, f in enumerate(episode):  # the window is the shortest the time uncertainty allows
        if fix.t_s - f.t_s - max(f.t_err_s, fix.t_err_s) < STALL_WINDOW_S:
            break
        back = i
    if back < 0:
        return False
    del episode[:back]
    ref = episode[0]
    gs = min(ref.gs_kt, fix.gs_kt)  # NaN: no claim of motion
    if not gs >= STALL_MIN_KT:
        return False
    span = fix.t_s - ref.t_s - max(ref.t_err_s, fix.t_err_s)
    return fix_distance_m(ref, fix) < STALL_FRACTION * gs * KT_MS * span - NOISE_M
