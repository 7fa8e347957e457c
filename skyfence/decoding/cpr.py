"""rs1090's position decoding (`decode_positions` of its batch call), vectorised.

rs1090 decodes the positions of a time-ordered batch with one state per aircraft: the last even
and odd airborne messages and the last position it accepted. An airborne message is paired
with the last message of the other parity heard less than 30 s before (global decoding); if
that fails, it is decoded locally against the last accepted position when that is less than
180 s old. A result is refused if it implies more than 1,200 km/h from the last accepted
position (within 30 min), or a jump of more than 500 km within 30 s. A surface message is
decoded locally against the last accepted position (kept if within 1 km), else against the
receiver; for an aircraft with no position yet, rs1090 keeps that only near an airport of its
own database, so those few messages are asked of rs1090 itself, one frame each.

The arithmetic is the library's, operation for operation (its CPR formulas, its NL table, its
haversine), so the numbers are the same to the last bit. The only sequential part is "the last
accepted position": it is solved here by fixed-point iteration, each round re-deciding every
message against the last position accepted before it in the previous round. The sequential
answer is the only fixed point, and each round settles at least one more message of every
chain, so the rounds stop at it; rejections are rare, so two or three rounds are the rule (a
chain of refused first surface messages takes more). A round recomputes only the messages whose
last accepted position changed in the round before, so the later rounds cost little.
`tests/decoding/test_fast.py` checks every position against rs1090 on the real recordings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from skyfence.arrays import BOOL, F64, I64
from skyfence.decoding.carry import ffill_index

CPR_MAX = 131_072.0
D_LAT_EVEN = 360.0 / 60.0
D_LAT_ODD = 360.0 / 59.0
PAIR_MAX_S = 30.0
LOCAL_MAX_S = 180.0
MAX_ROUNDS = 64

# rs1090's NL(lat) thresholds: NL is 59 below the first, one less past each.
_NL_EDGES = np.array(
    [
        10.470_471_30, 14.828_174_37, 18.186_263_57, 21.029_394_93, 23.545_044_87,
        25.829_247_07, 27.938_987_10, 29.911_356_86, 31.772_097_08, 33.539_934_36,
        35.228_995_98, 36.850_251_08, 38.412_418_92, 39.922_566_84, 41.386_518_32,
        42.809_140_12, 44.194_549_51, 45.546_267_23, 46.867_332_52, 48.160_391_28,
        49.427_764_39, 50.671_501_66, 51.893_424_69, 53.095_161_53, 54.278_174_72,
        55.443_784_44, 56.593_187_56, 57.727_473_54, 58.847_637_76, 59.954_592_77,
        61.049_177_74, 62.132_166_59, 63.204_274_79, 64.266_165_23, 65.318_453_10,
        66.361_710_08, 67.396_467_74, 68.423_220_22, 69.442_426_31, 70.454_510_75,
        71.459_864_73, 72.458_845_45, 73.451_774_42, 74.438_934_16, 75.420_562_57,
        76.396_843_91, 77.367_894_61, 78.333_740_83, 79.294_282_25, 80.249_232_13,
        81.198_013_49, 82.139_569_81, 83.071_994_45, 83.991_735_63, 84.891_661_91,
        85.755_416_21, 86.535_369_98, 87.000_000_00,
    ]
)  # fmt: skip


def nl(lat: F64) -> I64:
    """Number of longitude zones at each latitude (rs1090's `nl`); NaN counts as 59."""
    return 59 - np.searchsorted(_NL_EDGES, np.abs(lat), side="right").astype(np.int64)


def _mod(a: F64, b: F64 | float) -> F64:
    return a - b * np.floor(a / b)


def global_airborne(
    lat_even: F64, lon_even: F64, lat_odd: F64, lon_odd: F64, latest_odd: BOOL
) -> tuple[F64, F64]:
    """rs1090's `airborne_position` of even/odd pairs (raw 17-bit CPR values as floats); the
    position is the later message's (`latest_odd`). NaN where rs1090 returns None."""
    cle, clo = lat_even / CPR_MAX, lat_odd / CPR_MAX
    cne, cno = lon_even / CPR_MAX, lon_odd / CPR_MAX
    j = np.floor(59.0 * cle - 60.0 * clo + 0.5)
    le = D_LAT_EVEN * (_mod(j, 60.0) + cle)
    lo = D_LAT_ODD * (_mod(j, 59.0) + clo)
    le = np.where(le >= 270.0, le - 360.0, le)
    lo = np.where(lo >= 270.0, lo - 360.0, lo)
    bad = (np.abs(le) > 90.0) | (np.abs(lo) > 90.0) | (nl(le) != nl(lo))
    lat = np.where(latest_odd, lo, le)
    n = nl(lat)
    ni = np.maximum(n - latest_odd, 1).astype(np.float64)
    m = np.floor(cne * (n - 1).astype(np.float64) - cno * n.astype(np.float64) + 0.5)
    lon = (360.0 / ni) * (_mod(m, ni) + np.where(latest_odd, cno, cne))
    lon = np.where(lon >= 180.0, lon - 360.0, lon)
    return np.where(bad, np.nan, lat), np.where(bad, np.nan, lon)


def local(
    lat_cpr: F64, lon_cpr: F64, odd: BOOL, ref_lat: F64, ref_lon: F64, surface: BOOL
) -> tuple[F64, F64]:
    """rs1090's `airborne_position_with_reference` / `surface_position_with_reference`; NaN
    where it returns None (or the reference is NaN)."""
    span = np.where(surface, 90.0, 360.0)
    cl, cn = lat_cpr / CPR_MAX, lon_cpr / CPR_MAX
    d_lat = span / np.where(odd, 59.0, 60.0)
    j = np.floor(0.5 + ref_lat / d_lat - cl)
    lat = d_lat * (j + cl)
    ni = nl(lat) - odd
    d_lon = np.where(ni > 0, span / np.maximum(ni, 1).astype(np.float64), span)
    m = np.floor(0.5 + ref_lon / d_lon - cn)
    lon = d_lon * (m + cn)
    ok = (np.abs(lat) <= 90.0) & (np.abs(lat - ref_lat) <= d_lat / 2.0)
    ok &= np.abs(lon - ref_lon) <= d_lon / 2.0
    return np.where(ok, lat, np.nan), np.where(ok, lon, np.nan)


def haversine_km(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """rs1090's `haversine`, term for term."""
    d_lat = np.radians(lat2 - lat1)
    d_lon = np.radians(lon2 - lon1)
    a = np.sin(d_lat / 2.0) * np.sin(d_lat / 2.0) + np.cos(np.radians(lat1)) * np.cos(
        np.radians(lat2)
    ) * np.sin(d_lon / 2.0) * np.sin(d_lon / 2.0)
    return np.asarray(6371.0 * (2.0 * np.arctan2(np.sqrt(a), np.sqrt(1.0 - a))), np.float64)


FirstSurface = Callable[[I64], tuple[F64, F64]]


def _same(a: F64, b: F64) -> BOOL:
    """Equal, NaN equal to NaN."""
    return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)), bool)


def decode_positions(
    group_first: I64,
    t: F64,
    surface: BOOL,
    odd: BOOL,
    lat_cpr: F64,
    lon_cpr: F64,
    reference: tuple[float, float] | None,
    first_surface: FirstSurface,
) -> tuple[F64, F64] | None:
    """Latitude and longitude (NaN: none) of position messages sorted by aircraft, then in
    the order rs1090 receives them; `group_first` is each row's first row of its aircraft.
    `first_surface(rows)` gives rs1090's own answer for surface messages of aircraft with no
    accepted position yet. None if the rounds did not settle (the caller then asks rs1090)."""
    n = t.shape[0]
    rows = np.arange(n)
    air = ~surface

    def before(valid: BOOL) -> I64:
        """Last row strictly before each row, of its aircraft, where `valid`; -1 if none."""
        idx = ffill_index(valid, group_first)
        prev = np.full(n, -1, np.int64)
        prev[1:] = idx[:-1]
        prev[prev < group_first] = -1
        return prev

    # Global decoding depends on the messages alone: the other parity's last airborne one.
    other = np.where(odd, before(air & ~odd), before(air & odd))
    paired = air & (other >= 0)
    paired[paired] = t[paired] - t[other[paired]] < PAIR_MAX_S
    g_lat = np.full(n, np.nan)
    g_lon = np.full(n, np.nan)
    if paired.any():
        i, k = rows[paired], other[paired]
        even_i = np.where(odd[i], k, i)
        odd_i = np.where(odd[i], i, k)
        g_lat[i], g_lon[i] = global_airborne(
            lat_cpr[even_i], lon_cpr[even_i], lat_cpr[odd_i], lon_cpr[odd_i], odd[i]
        )

    ref_lat = np.full(n, np.nan if reference is None else reference[0])
    ref_lon = np.full(n, np.nan if reference is None else reference[1])
    s_ref_lat, s_ref_lon = np.full(n, np.nan), np.full(n, np.nan)
    if reference is not None and surface.any():
        s_ref_lat[surface], s_ref_lon[surface] = local(
            lat_cpr[surface],
            lon_cpr[surface],
            odd[surface],
            ref_lat[surface],
            ref_lon[surface],
            surface[surface],
        )
    first_cache: dict[int, tuple[float, float]] = {}

    # The first guess: global positions, and every other message decoded locally against the
    # last global position before it (or the receiver). Local decoding gives the same answer
    # for any reference near the aircraft, so this is the answer almost everywhere, and the
    # rounds only have to confirm it (a chain of surface messages would otherwise settle one
    # message a round).
    lat, lon = g_lat.copy(), g_lon.copy()
    guess = np.flatnonzero(~np.isfinite(g_lat))
    if guess.shape[0]:
        last = before(np.isfinite(g_lat))[guess]
        found = last >= 0
        r_lat = np.where(found, g_lat[np.maximum(last, 0)], ref_lat[guess])
        r_lon = np.where(found, g_lon[np.maximum(last, 0)], ref_lon[guess])
        lat[guess], lon[guess] = local(
            lat_cpr[guess], lon_cpr[guess], odd[guess], r_lat, r_lon, surface[guess]
        )
    accepted = np.isfinite(lat)
    # What a round decides for a row depends only on the last accepted row before it and that
    # row's position; the costly steps (local decoding, distances) are redone only for the rows
    # where either changed in the last round, and kept for the others.
    l_lat, l_lon, dist = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    near = np.zeros(n, bool)
    old_prev = np.full(n, -2, np.int64)
    moved = np.ones(n, bool)  # rows whose accepted position changed in the last round
    with np.errstate(all="ignore"):
        for _ in range(MAX_ROUNDS):
            prev = before(accepted)
            has = prev >= 0
            p = np.maximum(prev, 0)
            dirty = (prev != old_prev) | (has & moved[p])
            old_prev = prev
            p_lat = np.where(has, lat[p], np.nan)
            p_lon = np.where(has, lon[p], np.nan)
            dt = np.where(has, t - t[p], np.nan)
            l_lat[dirty], l_lon[dirty] = np.nan, np.nan
            need = dirty & has & (surface | ~np.isfinite(g_lat))
            if need.any():
                l_lat[need], l_lon[need] = local(
                    lat_cpr[need], lon_cpr[need], odd[need], p_lat[need], p_lon[need], surface[need]
                )
            # airborne: global, else local against the last accepted position if recent
            use_local = air & ~np.isfinite(g_lat) & has & (dt < LOCAL_MAX_S)
            n_lat = np.where(use_local, l_lat, g_lat)
            n_lon = np.where(use_local, l_lon, g_lon)
            dist[dirty] = np.nan
            near_ok = dirty & has & np.isfinite(n_lat)
            dist[near_ok] = haversine_km(
                n_lat[near_ok], n_lon[near_ok], p_lat[near_ok], p_lon[near_ok]
            )
            speed = dist / (dt / 3600.0)
            too_fast = has & (dt < 1800.0) & (dt > 0.0) & (speed > 1200.0)
            too_far = has & (dist > 500.0) & (dt < 30.0)
            keep = air & np.isfinite(n_lat) & ~too_fast & ~too_far
            # surface: local against the last accepted position if within 1 km, else the receiver
            near[dirty] = False
            close = dirty & surface & has & np.isfinite(l_lat)
            near[close] = haversine_km(p_lat[close], p_lon[close], l_lat[close], l_lon[close]) < 1.0
            s_lat = np.where(near, l_lat, np.where(has, s_ref_lat, np.nan))
            s_lon = np.where(near, l_lon, np.where(has, s_ref_lon, np.nan))
            # Only the first of an aircraft's surface messages with no position before it is
            # asked about (rs1090 compares it with every airport it knows); if it is refused,
            # the next one is asked about in the next round.
            waiting = np.flatnonzero(surface & ~has & np.isfinite(s_ref_lat))
            alone = waiting[np.unique(group_first[waiting], return_index=True)[1]]
            todo = [int(r) for r in alone.tolist() if int(r) not in first_cache]
            if todo:
                got_lat, got_lon = first_surface(np.asarray(todo, np.int64))
                for r, a, b in zip(todo, got_lat.tolist(), got_lon.tolist(), strict=True):
                    first_cache[r] = (a, b)
            s_lat[surface & ~has] = np.nan
            s_lon[surface & ~has] = np.nan
            for r in alone.tolist():
                s_lat[r], s_lon[r] = first_cache[r]
            new_lat = np.where(surface, s_lat, np.where(keep, n_lat, np.nan))
            new_lon = np.where(surface, s_lon, np.where(keep, n_lon, np.nan))
            moved = ~_same(new_lat, lat) | ~_same(new_lon, lon)
            lat, lon, accepted = new_lat, new_lon, np.isfinite(new_lat)
            if not moved.any() and all(int(r) in first_cache for r in waiting.tolist()):
                return lat, lon
    return None
