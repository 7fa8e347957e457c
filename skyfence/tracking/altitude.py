"""Which altitude reports are physically reachable: the vertical half of trust.

A position is judged by `integrity.assess`; its altitude separately, here, because a Mode S
altitude has its own errors (bit flips, a wrong on-ground flag) that must not cost a good
position its trust, nor a bad altitude make an exit through a zone's band.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from skyfence.arrays import rows_of
from skyfence.settings import AGREEING_ALTITUDES, ALTITUDE_NOISE_FT, GROUND_MAX_FT, MAX_CLIMB_FPM
from skyfence.tracking.state import TrackIntegrity


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
    plausible report is discarded (after an on-ground report, a climb from GROUND_MAX_FT: a
    taxiing aircraft's FL390 at the taxiway made false exits), and so is an on-ground flag when
    the last airborne altitude could not have come down to an airfield (GROUND_MAX_FT) in time.
    Three consecutive reports that agree with each other replace a reference they all disagree
    with (a high airfield, or a wrong first altitude). A discarded report leaves the fix's
    altitude unknown.
    """
    known = np.isfinite(alt_ft) | on_ground
    ok = known.copy()
    rows = np.flatnonzero(known)
    if len(rows) == 0:
        return ok
    every = len(rows) == len(alt_ft)
    r_icao, r_ground = rows_of(icao24, rows, every), rows_of(on_ground, rows, every)
    r_t, r_alt = rows_of(t_s, rows, every), rows_of(alt_ft, rows, every)
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
    # a ground report after that altitude is the reference instead: an aircraft on the ground
    # climbs from its airfield, not from where it last flew (GROUND: -inf, carried or here)
    last_ground = np.maximum.accumulate(np.where(r_ground, np.arange(m), -1))
    after = np.full(m, -1)
    after[1:] = last_ground[:-1]
    grounded = (after >= first[group_of]) & (after > np.where(own, prev, -1))
    ref_row = np.where(grounded, after, prev)
    prev_t = np.where(grounded, r_t[np.maximum(after, 0)], prev_t)
    prev_alt = np.where(grounded, GROUND, prev_alt)
    rate_ft = MAX_CLIMB_FPM * (r_t - prev_t) / 60.0
    from_ground = prev_alt == GROUND
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, which is no jump, said silently
        jump = np.where(
            airborne,
            np.where(
                from_ground,
                r_alt > GROUND_MAX_FT + ALTITUDE_NOISE_FT + rate_ft,
                np.abs(r_alt - prev_alt) > ALTITUDE_NOISE_FT + rate_ft,
            ),
            ~from_ground & (prev_alt > GROUND_MAX_FT + rate_ft),
        )  # NaN reference: no jump
    bounds = np.append(first, m)
    dirty = np.zeros(len(first), bool)
    dirty[group_of[jump]] = True
    # each aircraft's last report: the reference the next batch starts from
    last_report = np.maximum(last_airborne[bounds[1:] - 1], last_ground[bounds[1:] - 1])
    r_last = rows[np.maximum(last_report, 0)]
    last_alt = np.where(on_ground[r_last], GROUND, alt_ft[r_last])
    for g, (lo, hi, address, state, last, t_last, alt_last) in enumerate(  # once per aircraft
        zip(
            bounds[:-1].tolist(),
            bounds[1:].tolist(),
            r_icao[first].tolist(),
            carried,
            last_report.tolist(),
            t_s[r_last].tolist(),
            last_alt.tolist(),
            strict=True,
        )
    ):  # fix by fix only after a jump
        if state is None:
            state = states.setdefault(address, TrackIntegrity())
        if dirty[g] or state.pending_altitudes:
            # between jumps every report agrees with the one before it; each jump is walked
            # report by report until the walk settles (a spike: two reports); reports left
            # pending by the previous batch make its first report a jump too
            walked_to = lo
            first_walk = [lo] if state.pending_altitudes else []
            for j in [*first_walk, *(lo + np.flatnonzero(jump[lo:hi]))]:
                if j < walked_to:
                    continue
                ref = ref_row[j]
                if ref >= walked_to:  # the reference is a report accepted without a walk
                    ref_alt = GROUND if grounded[j] else float(alt_ft[rows[ref]])
                    state.altitude = (float(t_s[rows[ref]]), ref_alt)
                walked_to = j + _walk_altitudes(rows[j:hi], 0, t_s, alt_ft, on_ground, state, ok)
            lo = walked_to
        if last >= lo:
            state.altitude = (t_last, alt_last)
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
            state.altitude = (t, alt)
            rejected.clear()
            if i >= last_jump:
                return i + 1
            continue
        if rejected and not _vertical_ok(rejected[-1], t, alt):
            rejected.clear()
        rejected.append((t, alt))
        if len(rejected) >= AGREEING_ALTITUDES:  # the reference was the outlier
            state.altitude = (t, alt)
            rejected.clear()
            continue
        ok[r] = False
    return len(rows)


GROUND = -math.inf  # an on-ground report, in the walk


def _vertical_ok(ref: tuple[float, float], t: float, alt: float) -> bool:
    rate_ft = MAX_CLIMB_FPM * (t - ref[0]) / 60.0
    if alt == GROUND:
        return ref[1] == GROUND or ref[1] <= GROUND_MAX_FT + rate_ft
    if ref[1] == GROUND:  # a climb from an airfield
        return alt <= GROUND_MAX_FT + ALTITUDE_NOISE_FT + rate_ft
    return abs(alt - ref[1]) <= ALTITUDE_NOISE_FT + rate_ft
