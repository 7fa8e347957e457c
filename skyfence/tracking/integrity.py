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
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings

KT_MS = 1852.0 / 3600.0
EARTH_RADIUS_M = 6_371_008.8
STALE_POSITION_S = 60.0  # a state vector whose position is older than this carries no new fix
NOISE_M = 300.0  # position noise tolerated between two fixes, whatever their spacing
CONFIRM_FIXES = 10  # consistent fixes that make a track's anchor strong
# assumed when no ground speed is known at either end: a cruising airliner that sends no
# velocity (1.5 x 400 + 100 = 700 kt allowed, so sampled fixes of it are never a jump)
FALLBACK_SPEED_KT = 400.0
# a position with its own time (OpenSky's lastposupdate, traffic's last_position, readsb's
# seen_pos) is timed to well under this; one stamped with its row's time may be as old as the
# interval since the aircraft's previous row (a sampled source repeats the newest position)
OWN_TIME_ERR_S = 0.5
# quarantined fixes, with fewer than CONFIRM_FIXES trusted ones between any two, that make a
# suspect episode: one alone is a decoding glitch, two are an anomaly that lasts (a spoofer,
# or a second transmitter whose fixes alternate with the real ones)
CONFIRM_SUSPECT = 2
GROUND_RECENT_S = 600.0  # an on-ground report this recent makes a flight-level altitude a bit error
# inside a suspect episode, claimed positions that have not moved half the way the reported
# ground speed says over this long are a spoofer's fixed point: they never end the episode
STALL_WINDOW_S = 60.0
STALL_MIN_KT = 80.0
STALL_FRACTION = 0.5

MAX_CLIMB_FPM = 20_000.0  # beyond any aircraft's sustained climb or descent
ALTITUDE_NOISE_FT = 300.0
GROUND_MAX_FT = 2_000.0  # an on-ground report needs the last altitude near an airfield

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


@dataclass(slots=True)
class Fix:
    t_s: float
    lat_deg: float
    lon_deg: float
    gs_kt: float
    t_err_s: float = 0.0  # how much older than t_s the position may be


@dataclass(slots=True)
class TrackIntegrity:
    """What integrity remembers of one aircraft between batches."""

    last_seen_s: float = -math.inf  # time of the last row, fix or not
    last_fix: Fix | None = None  # last fresh fix, trusted or not
    anchor: Fix | None = None  # last trusted fix
    strength: int = 0  # consecutive consistent trusted fixes behind the anchor (capped)
    suspect: bool = False  # inside a suspect episode
    quarantined: int = 0  # quarantined fixes since CONFIRM_FIXES trusted ones in a row
    calm: int = 0  # trusted fixes in a row
    same_since_s: float = math.inf  # fix time at which the last fix's coordinates first came
    last_ground_s: float = -math.inf  # time of the last on-ground report
    episode: list[Fix] = field(default_factory=list)  # quarantined fixes of the present episode
    run: int = 0  # consecutive mutually consistent fixes (to re-anchor a weak track)
    altitude: tuple[float, float] | None = None  # (time, ft) of the last plausible altitude
    # reports rejected since, that agree with each other (three replace the reference)
    pending_altitudes: list[tuple[float, float]] = field(default_factory=list)
    good_nic: bool = False  # has reported an adequate NIC: a drop below is jamming's mark
    good_nacp: bool = False


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Per input row; only fresh rows are fixes, only trusted fixes drive zone states."""

    fresh: npt.NDArray[np.bool_]
    trusted: npt.NDArray[np.bool_]
    reason: npt.NDArray[np.int8]
    suspect_start: npt.NDArray[np.bool_]  # the fix that confirms an episode: one event each
    implied_kt: npt.NDArray[np.float64]  # speed implied from the reference fix


def distance_m(
    lat1: npt.NDArray[np.float64],
    lon1: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
    lon2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Equirectangular distance: within 0.1 % of the great circle over the few kilometres
    between consecutive fixes, and one cosine per fix instead of haversine's five functions.
    Far jumps come out a little off, but far beyond any speed limit either way."""
    k = np.pi / 180.0
    # float32's cosine is vectorised (several times float64's speed) and exact to 1e-7
    dx = (lon2 - lon1) * np.cos(((lat1 + lat2) * (k / 2)).astype(np.float32))
    dy = lat2 - lat1
    return np.asarray(EARTH_RADIUS_M * k * np.sqrt(dx * dx + dy * dy), np.float64)


def speed_limit_kt(
    gs_a: npt.ArrayLike, gs_b: npt.ArrayLike, settings: EngineSettings
) -> npt.NDArray[np.float64]:
    """Fastest plausible mean speed between two fixes, from the speeds reported at both ends."""
    both = np.fmax(np.asarray(gs_a, np.float64), np.asarray(gs_b, np.float64))
    both = np.where(np.isfinite(both), both, FALLBACK_SPEED_KT)
    return np.minimum(both * settings.speed_factor + 100.0, settings.max_speed_kt)


def assess(
    icao24: npt.NDArray[np.uint32],
    t_fix: npt.NDArray[np.float64],
    t_s: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    alt_ft: npt.NDArray[np.float64],
    gs_kt: npt.NDArray[np.float64],
    on_ground: npt.NDArray[np.bool_],
    nic: npt.NDArray[np.int8],
    nacp: npt.NDArray[np.int8],
    states: dict[int, TrackIntegrity],
    settings: EngineSettings,
    own_time: npt.NDArray[np.bool_] | None = None,
    beyond_horizon: npt.NDArray[np.bool_] | None = None,
) -> Verdicts:
    """Judge rows sorted by (icao24, t_fix); updates `states` in place.

    `own_time` says which positions carry their own fix time (default: none); the others may
    be as old as the interval since the aircraft's previous row, and the speed checks allow for
    it. `beyond_horizon` marks positions their receiver could not have heard directly."""
    n = len(t_fix)
    group_start = np.ones(n, bool)
    group_start[1:] = icao24[1:] != icao24[:-1]
    starts = np.flatnonzero(group_start)
    aircraft = icao24[starts]
    # one look-up per aircraft, not per row
    carried = [states.setdefault(int(a), TrackIntegrity()) for a in aircraft]
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
    prev_lat, prev_lon = np.empty(n), np.empty(n)
    prev_lat[1:], prev_lon[1:] = lat[:-1], lon[:-1]
    for g, i in enumerate(starts):  # once per aircraft
        fix = carried[g].last_fix
        prev_lat[i], prev_lon[i] = (fix.lat_deg, fix.lon_deg) if fix else (np.nan, np.nan)
    # the same coordinates again, with a position time that moved on far enough for the reported
    # ground speed to have carried the aircraft away: a frozen position, not a repeat
    own = np.zeros(n, bool) if own_time is None else own_time
    same = (lat == prev_lat) & (lon == prev_lon)
    group_of_row = np.cumsum(group_start) - 1
    run_start = np.maximum.accumulate(np.where(same, -1, np.arange(n)))
    carried_same = np.array([s.same_since_s for s in carried], np.float64)
    run_t0 = np.where(
        run_start >= starts[group_of_row],
        t_fix[np.maximum(run_start, 0)],
        carried_same[group_of_row],
    )
    with np.errstate(invalid="ignore"):
        frozen = (
            fresh
            & same
            & (t_fix > prev_t)
            & own
            & ~on_ground
            & (gs_kt * KT_MS * (t_fix - run_t0) > NOISE_M)
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
    last_ground = np.where(
        ground_at >= starts[group_of_row],
        t_s[np.maximum(ground_at, 0)],
        carried_ground[group_of_row],
    )
    rows = np.flatnonzero(fresh)

    reason = np.zeros(n, np.int8)
    trusted = np.zeros(n, bool)
    suspect_start = np.zeros(n, bool)
    implied = np.full(n, np.nan)
    ends = np.append(starts[1:] - 1, n - 1)
    for seen, end in zip(carried, ends, strict=True):  # once per aircraft
        seen.last_seen_s = max(seen.last_seen_s, float(t_fix[end]))
        seen.same_since_s = float(run_t0[end])
        seen.last_ground_s = float(last_ground[end])
    if len(rows) == 0:
        return Verdicts(fresh, trusted, reason, suspect_start, implied)

    # the fixes' columns, gathered once (views when every row is a fix, as in most batches)
    every = len(rows) == n
    f_icao, f_nic, f_nacp = (
        _rows(icao24, rows, every),
        _rows(nic, rows, every),
        _rows(nacp, rows, every),
    )
    f_lat, f_lon, f_t, f_gs = (_rows(a, rows, every) for a in (lat, lon, t_fix, gs_kt))
    f_start = np.ones(len(rows), bool)
    f_start[1:] = f_icao[1:] != f_icao[:-1]
    stateless = _stateless_reasons(
        f_lat,
        f_lon,
        _rows(alt_ft, rows, every),
        f_gs,
        _rows(on_ground, rows, every),
        settings,
    )
    recent_ground = _rows(t_fix - last_ground <= GROUND_RECENT_S, rows, every)
    stateless[(stateless == OUTSIDE_ENVELOPE) & recent_ground] = TRUSTED
    stateless[_rows(frozen, rows, every)] = FROZEN_POSITION
    if beyond_horizon is not None:
        stateless[_rows(beyond_horizon, rows, every) & (stateless == TRUSTED)] = BEYOND_HORIZON
    group_of_fix = np.cumsum(group_start) - 1  # index into `aircraft`
    group_of_fix = group_of_fix if every else group_of_fix[rows]
    low = _integrity_drops(f_nic, settings.min_nic, f_start, group_of_fix,
                           [s.good_nic for s in carried])  # fmt: skip
    low |= _integrity_drops(f_nacp, settings.min_nacp, f_start, group_of_fix,
                            [s.good_nacp for s in carried])  # fmt: skip
    stateless[low & (stateless == TRUSTED)] = LOW_INTEGRITY
    # what the next batch knows: adequate values among this batch's fixes (fixes only, as above)
    n_aircraft = len(aircraft)
    good_nic = np.bincount(group_of_fix[f_nic >= settings.min_nic], minlength=n_aircraft)
    good_nacp = np.bincount(group_of_fix[f_nacp >= settings.min_nacp], minlength=n_aircraft)
    for state, nic_seen, nacp_seen in zip(carried, good_nic > 0, good_nacp > 0, strict=True):
        state.good_nic |= bool(nic_seen)
        state.good_nacp |= bool(nacp_seen)

    # reference for the pairwise test: previous fix, or the carried last fix at a group start
    f_err = _rows(t_err, rows, every)
    ref_lat, ref_lon, ref_t, ref_gs, ref_err = (np.empty(len(rows)) for _ in range(5))
    ref_lat[1:], ref_lon[1:], ref_t[1:], ref_gs[1:] = f_lat[:-1], f_lon[:-1], f_t[:-1], f_gs[:-1]
    ref_err[1:] = f_err[:-1]
    for i in np.flatnonzero(f_start):  # once per aircraft
        last = carried[group_of_fix[i]]
        fix = last.last_fix if last else None
        ref_lat[i], ref_lon[i] = (fix.lat_deg, fix.lon_deg) if fix else (np.nan, np.nan)
        ref_t[i], ref_gs[i] = (fix.t_s, fix.gs_kt) if fix else (np.nan, np.nan)
        ref_err[i] = fix.t_err_s if fix else 0.0
    dist = distance_m(ref_lat, ref_lon, f_lat, f_lon)
    dt = f_t - ref_t
    with np.errstate(invalid="ignore", divide="ignore"):
        implied_f = dist / np.maximum(dt, 1e-3) / KT_MS
        # the true interval may be longer than the stamps say by the older position's age
        span = dt + np.maximum(ref_err, f_err)
        limit_m = speed_limit_kt(ref_gs, f_gs, settings) * KT_MS * span + NOISE_M
    jump = np.isfinite(dist) & (dist > limit_m)
    implied[rows] = implied_f

    # clean aircraft: nothing failed and the carried track was not in a suspect episode
    bad = (stateless != TRUSTED) | jump
    fix_group = np.cumsum(f_start) - 1
    # every fix before an aircraft's first failure is trusted: its predecessor was; but a
    # track carried in a suspect episode (or without an anchor) is walked from its first fix,
    # since fixes consistent with each other may all be far from the anchor
    first_bad = np.full(int(fix_group[-1]) + 1, len(rows))
    np.minimum.at(first_bad, fix_group[bad], np.flatnonzero(bad))
    group_bounds = np.append(np.flatnonzero(f_start), len(rows))
    for g, i in enumerate(np.flatnonzero(f_start)):
        last = carried[group_of_fix[i]]
        if last is not None and (
            last.suspect or (last.last_fix is not None and last.anchor is None)
        ):
            first_bad[g] = group_bounds[g]
    trusted[rows[np.arange(len(rows)) < first_bad[fix_group]]] = True

    for g in range(len(group_bounds) - 1):  # once per aircraft
        lo, hi = group_bounds[g], group_bounds[g + 1]
        cut = min(int(first_bad[g]), hi)
        state = carried[group_of_fix[lo]]
        if cut > lo:
            last = rows[cut - 1]
            state.anchor = _fix(last, t_fix, lat, lon, gs_kt, t_err)
            state.strength = min(state.strength + (cut - lo), 10 * CONFIRM_FIXES)
            state.run = min(state.run + (cut - lo), 10 * CONFIRM_FIXES)
            state.suspect = False
            _calm(state, cut - lo)
            state.last_fix = state.anchor
        if cut < hi:
            # fix by fix from the first failure until the track is trusted again after the
            # last one; from there each fix agrees with the one before, as in a clean track
            failures = np.flatnonzero(bad[cut:hi])
            walked = _walk(
                int(failures[-1]) if len(failures) else 0,
                rows[cut:hi],
                lat,
                lon,
                t_fix,
                gs_kt,
                t_err,
                stateless[cut:hi],
                state,
                settings,
                trusted,
                reason,
                suspect_start,
                implied,
            )
            rest = rows[cut + walked : hi]
            if len(rest):
                trusted[rest] = True
                last = rest[-1]
                state.anchor = _fix(last, t_fix, lat, lon, gs_kt, t_err)
                state.strength = min(state.strength + len(rest), 10 * CONFIRM_FIXES)
                state.run = min(state.run + len(rest), 10 * CONFIRM_FIXES)
                _calm(state, len(rest))
        last = rows[hi - 1]
        state.last_fix = _fix(last, t_fix, lat, lon, gs_kt, t_err)
        states[int(f_icao[lo])] = state
    return Verdicts(fresh, trusted, reason, suspect_start, implied)


Column = TypeVar("Column", bound=npt.NDArray[Any])


def _fix(
    r: int,
    t_fix: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    gs_kt: npt.NDArray[np.float64],
    t_err: npt.NDArray[np.float64],
) -> Fix:
    return Fix(float(t_fix[r]), float(lat[r]), float(lon[r]), float(gs_kt[r]), float(t_err[r]))


def _rows(values: Column, rows: npt.NDArray[np.int64], every: bool) -> Column:
    """The fixes' values: the column itself when every row is a fix, as in most batches."""
    return values if every else cast(Column, values[rows])


def assess_batch(
    sv: StateVectors,
    t_fix: npt.NDArray[np.float64],
    alt_ft: npt.NDArray[np.float64],
    states: dict[int, TrackIntegrity],
    settings: EngineSettings,
    beyond_horizon: npt.NDArray[np.bool_] | None = None,
) -> Verdicts:
    """`assess` on a batch sorted by (icao24, fix time)."""
    return assess(sv.icao24, t_fix, sv.t_s, sv.lat_deg, sv.lon_deg, alt_ft, sv.gs_kt,
                  sv.on_ground, sv.nic, sv.nacp, states, settings,
                  np.isfinite(sv.t_pos_s), beyond_horizon)  # fmt: skip


def _stateless_reasons(
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    alt_ft: npt.NDArray[np.float64],
    gs_kt: npt.NDArray[np.float64],
    on_ground: npt.NDArray[np.bool_],
    settings: EngineSettings,
) -> npt.NDArray[np.int8]:
    """Reasons that need no history: the fix alone says it cannot be trusted."""
    reason = np.zeros(len(lat), np.int8)
    # an aircraft in the flight levels airliners use cannot hold it below ~100 kt ground speed;
    # a spoofer's frozen or slowly drifting position reports exactly that
    envelope = (
        ~on_ground
        & (alt_ft >= settings.envelope_min_alt_ft)
        & (alt_ft <= 45_000.0)
        & (gs_kt < settings.envelope_min_gs_kt)
    )
    reason[envelope] = OUTSIDE_ENVELOPE
    reason[(lat == 0) & (lon == 0)] = NULL_POSITION
    return reason


def _integrity_drops(
    value: npt.NDArray[np.int8],
    minimum: int,
    group_start: npt.NDArray[np.bool_],
    group: npt.NDArray[np.int64],
    carried_good: list[bool],
) -> npt.NDArray[np.bool_]:
    """Fixes whose NIC (or NACp) is below the minimum although the aircraft has reported an
    adequate one before: jamming degrades a good receiver. An aircraft that never reports an
    adequate value (uncertified GNSS in light aircraft, which reports NIC 0 all the time) is
    judged by kinematics alone, or its every incursion would be missed."""
    n = len(value)
    if not ((value >= 0) & (value < minimum)).any():
        return np.zeros(n, bool)
    good = value >= minimum
    last_good = np.full(n, -1)
    last_good[1:] = np.maximum.accumulate(np.where(good, np.arange(n), -1))[:-1]
    first = np.flatnonzero(group_start)
    seen = (last_good >= first[np.cumsum(group_start) - 1]) | np.array(carried_good, bool)[group]
    return np.asarray((value >= 0) & ~good & seen, dtype=bool)


def _walk(
    last_failure: int,
    rows: npt.NDArray[np.int64],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    t_fix: npt.NDArray[np.float64],
    gs_kt: npt.NDArray[np.float64],
    t_err: npt.NDArray[np.float64],
    stateless: npt.NDArray[np.int8],
    state: TrackIntegrity,
    settings: EngineSettings,
    trusted: npt.NDArray[np.bool_],
    reason: npt.NDArray[np.int8],
    suspect_start: npt.NDArray[np.bool_],
    implied: npt.NDArray[np.float64],
) -> int:
    """Judge one aircraft's fixes in order, each against the last trusted fix (the anchor);
    returns how many were walked: it stops at the first trusted fix after `last_failure`.

    A track whose anchor is weak (fewer than CONFIRM_FIXES consistent fixes) re-anchors on a run
    of CONFIRM_FIXES mutually consistent fixes, so one bad first position cannot blind us to an
    aircraft; a strong anchor is only left for a fix reachable from it.
    """
    previous = state.last_fix
    for k, r in enumerate(rows):
        fix = _fix(int(r), t_fix, lat, lon, gs_kt, t_err)
        consistent_with_previous = previous is None or _reachable(previous, fix, settings)
        state.run = state.run + 1 if consistent_with_previous and stateless[k] == TRUSTED else 1
        verdict = int(stateless[k])
        if verdict == TRUSTED and state.anchor is not None:
            implied[r] = _implied_kt(state.anchor, fix)
            if not _reachable(state.anchor, fix, settings):
                weak = state.strength < CONFIRM_FIXES
                verdict = TRUSTED if weak and state.run >= CONFIRM_FIXES else IMPOSSIBLE_JUMP
                if verdict == TRUSTED:
                    state.strength = state.run
        if verdict == TRUSTED and state.episode and _stalled(state.episode, fix):
            verdict = FROZEN_POSITION
        if verdict == TRUSTED:
            trusted[r] = True
            state.episode.clear()
            state.anchor = fix
            state.strength = min(state.strength + 1, 10 * CONFIRM_FIXES)
            state.suspect = False
            _calm(state, 1)
            if k >= last_failure:
                return k + 1
        else:
            reason[r] = verdict
            state.quarantined += 1
            state.calm = 0
            state.episode.append(fix)
            suspect_start[r] = state.quarantined == CONFIRM_SUSPECT
            state.suspect = True
            if state.anchor is None:
                state.strength = 0
        previous = fix
    return len(rows)


def _calm(state: TrackIntegrity, trusted: int) -> None:
    state.calm = min(state.calm + trusted, CONFIRM_FIXES)
    if state.calm >= CONFIRM_FIXES:
        state.quarantined = 0


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
    return _distance_m(ref, fix) < STALL_FRACTION * gs * KT_MS * span - NOISE_M


def _reachable(a: Fix, b: Fix, settings: EngineSettings) -> bool:
    speeds = [v for v in (a.gs_kt, b.gs_kt) if not math.isnan(v)]
    fastest = max(speeds) if speeds else FALLBACK_SPEED_KT
    limit_kt = min(fastest * settings.speed_factor + 100.0, settings.max_speed_kt)
    span = b.t_s - a.t_s + max(a.t_err_s, b.t_err_s)  # as in `assess`
    return _distance_m(a, b) <= limit_kt * KT_MS * span + NOISE_M


def _implied_kt(a: Fix, b: Fix) -> float:
    return _distance_m(a, b) / max(b.t_s - a.t_s, 1e-3) / KT_MS


def _distance_m(a: Fix, b: Fix) -> float:
    """Scalar haversine for the fix-by-fix walk (numpy per scalar costs microseconds)."""
    p1, p2 = math.radians(a.lat_deg), math.radians(b.lat_deg)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b.lon_deg - a.lon_deg) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def plausible_altitudes(
    icao24: npt.NDArray[np.uint32],
    t_s: npt.NDArray[np.float64],
    alt_ft: npt.NDArray[np.float64],
    on_ground: npt.NDArray[np.bool_],
    states: dict[int, TrackIntegrity],
) -> npt.NDArray[np.bool_]:
    """Which vertical reports (of fixes sorted by aircraft and time) are physically reachable.

    Mode S replies carry bit errors: a landing airliner briefly reports FL253, or "on the
    ground" at 4,000 ft. Either would make a false exit and re-entry through a zone's band. So
    an airborne altitude implying a climb or descent faster than MAX_CLIMB_FPM from the last
    plausible airborne altitude is discarded, and so is an on-ground flag when the last airborne
    altitude could not have come down to an airfield (GROUND_MAX_FT) in time. Three consecutive
    reports that agree with each other replace a reference they all disagree with (a high
    airfield, or a wrong first altitude). A discarded report leaves the fix's altitude unknown.
    """
    known = np.isfinite(alt_ft) | on_ground
    ok = known.copy()
    rows = np.flatnonzero(known)
    if len(rows) == 0:
        return ok
    every = len(rows) == len(alt_ft)
    r_icao, r_ground = _rows(icao24, rows, every), _rows(on_ground, rows, every)
    r_t, r_alt = _rows(t_s, rows, every), _rows(alt_ft, rows, every)
    r_start = np.append(True, r_icao[1:] != r_icao[:-1])
    airborne = ~r_ground
    # reference: the previous airborne altitude of the same aircraft, or the carried one
    m = len(rows)
    group_of = np.cumsum(r_start) - 1
    first = np.flatnonzero(r_start)
    carried = [states.get(int(a)) for a in r_icao[first]]  # once per aircraft
    carried_t = np.array([c.altitude[0] if c and c.altitude else np.nan for c in carried])
    carried_alt = np.array([c.altitude[1] if c and c.altitude else np.nan for c in carried])
    last_airborne = np.maximum.accumulate(np.where(airborne, np.arange(m), -1))  # up to each
    prev = np.full(m, -1)
    prev[1:] = last_airborne[:-1]
    own = prev >= first[group_of]
    prev_t = np.where(own, r_t[prev], carried_t[group_of])
    prev_alt = np.where(own, r_alt[prev], carried_alt[group_of])
    rate_ft = MAX_CLIMB_FPM * (r_t - prev_t) / 60.0
    jump = np.where(
        airborne,
        np.abs(r_alt - prev_alt) > ALTITUDE_NOISE_FT + rate_ft,
        prev_alt > GROUND_MAX_FT + rate_ft,
    )  # NaN reference: no jump
    bounds = np.append(first, m)
    dirty = np.zeros(len(first), bool)
    dirty[group_of[jump]] = True
    for g in range(len(bounds) - 1):  # once per aircraft; fix by fix only after a jump
        lo, hi = bounds[g], bounds[g + 1]
        state = states.setdefault(int(r_icao[lo]), TrackIntegrity())
        if dirty[g] or state.pending_altitudes:
            # between jumps every report agrees with the one before it; each jump is walked
            # report by report until the walk settles (a spike: two reports); reports left
            # pending by the previous batch make its first report a jump too
            walked_to = lo
            first_walk = [lo] if state.pending_altitudes else []
            for j in [*first_walk, *(lo + np.flatnonzero(jump[lo:hi]))]:
                if j < walked_to:
                    continue
                if prev[j] >= walked_to:  # the reference is a report accepted without a walk
                    state.altitude = (float(t_s[rows[prev[j]]]), float(alt_ft[rows[prev[j]]]))
                walked_to = j + _walk_altitudes(rows[j:hi], 0, t_s, alt_ft, on_ground, state, ok)
            lo = walked_to
        if last_airborne[hi - 1] >= lo:
            r = rows[last_airborne[hi - 1]]
            state.altitude = (float(t_s[r]), float(alt_ft[r]))
    return ok


def _walk_altitudes(
    rows: npt.NDArray[np.int64],
    last_jump: int,
    t_s: npt.NDArray[np.float64],
    alt_ft: npt.NDArray[np.float64],
    on_ground: npt.NDArray[np.bool_],
    state: TrackIntegrity,
    ok: npt.NDArray[np.bool_],
) -> int:
    """Judge reports one by one; returns how many were walked (the rest need no walk)."""
    rejected = state.pending_altitudes
    for i, r in enumerate(rows):
        t, ground = float(t_s[r]), bool(on_ground[r])
        alt = GROUND if ground else float(alt_ft[r])
        if state.altitude is None or _vertical_ok(state.altitude, t, alt):
            if not ground:
                state.altitude = (t, alt)
            rejected.clear()
            if i >= last_jump:
                return i + 1
            continue
        if rejected and not _vertical_ok(rejected[-1], t, alt):
            rejected.clear()
        rejected.append((t, alt))
        if len(rejected) >= 3:  # the reference was the outlier
            state.altitude = None if ground else (t, alt)
            rejected.clear()
            continue
        ok[r] = False
    return len(rows)


GROUND = -math.inf  # an on-ground report, in the walk


def _vertical_ok(ref: tuple[float, float], t: float, alt: float) -> bool:
    rate_ft = MAX_CLIMB_FPM * (t - ref[0]) / 60.0
    if alt == GROUND:
        return ref[1] == GROUND or ref[1] <= GROUND_MAX_FT + rate_ft
    if ref[1] == GROUND:
        return True
    return abs(alt - ref[1]) <= ALTITUDE_NOISE_FT + rate_ft
