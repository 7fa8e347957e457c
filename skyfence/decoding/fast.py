"""Decode the frequent Mode S messages from their bytes, and hand rs1090 only the rare ones.

rs1090 costs about 8 us a message, most of it building, pickling and unpickling a dict per
message, and a live feed is mostly surveillance replies (DF4/5/20/21), airborne and surface
positions and velocities. Those are fixed bit fields: this module reads them for a whole batch
at once from rows of bytes, with rs1090's own answers for every value of the small fields
(`tables`), its position algorithm replayed operation for operation (`cpr`), and the CRC-24
remainder for the address. It is not a decoder of our own: every table comes from rs1090, and
`tests/decoding/test_fast.py` checks that positions, altitudes, velocities, squawks, callsigns
and addresses equal rs1090's, frame for frame, on every real recording we have.

Identification (callsigns) is read the same way, with rs1090's character for each 6-bit code.
What stays with rs1090 (one batch call, as before): operational status, emergency status,
DF18 (TIS-B / ADS-R, whose position state rs1090 shares with DF17 of the same address: such an
aircraft's positions all go to rs1090), velocity subtypes other than 1 (airspeed, supersonic),
and anything the vectorised path cannot settle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import rs1090

from skyfence.arrays import BOOL, F64, I8, I64, U8, U32
from skyfence.decoding.carry import group_bounds
from skyfence.decoding.classify import (
    AIR_POSITION,
    ALTITUDE,
    IDENTIFICATION,
    SQUAWK,
    SURFACE_POSITION,
    VELOCITY,
    hex_rows,
)
from skyfence.decoding.cpr import decode_positions
from skyfence.decoding.messages import Messages, decode_batch, is_rust_panic
from skyfence.decoding.tables import (
    GroundVelocities,
    ac12_altitude,
    ac13_altitude,
    callsign_characters,
    crc24,
    id13_squawk,
    surface_movement,
    with_parity,
)

_GROUND = GroundVelocities()
_REPLY_DF = np.zeros(32, bool)
_REPLY_DF[[4, 5, 20, 21]] = True


def _u32(col: npt.NDArray[np.uint8]) -> U32:
    return col.astype(np.uint32)


def decode_rows(
    rows: U8,
    t: F64,
    kind: I8,
    reference: tuple[float, float] | None = None,
) -> Messages:
    """`decode_batch`'s result for frames given as byte rows ((n, 14), short ones zero past
    byte 7), sorted by time, with their `classify` kind."""
    n = t.shape[0]
    b = rows
    df = b[:, 0] >> 3
    tc = b[:, 4] >> 3
    es = df == 17
    reply = _REPLY_DF[df] & ((kind == ALTITUDE) | (kind == SQUAWK))
    position = es & ((kind == AIR_POSITION) | (kind == SURFACE_POSITION))
    velocity = es & (kind == VELOCITY) & ((b[:, 4] & 7) == 1)
    identification = es & (kind == IDENTIFICATION)
    fast = reply | position | velocity | identification

    icao = np.zeros(n, np.uint32)
    long_rows = np.flatnonzero(df >= 16)
    short_rows = np.flatnonzero(df < 16)
    crc = np.zeros(n, np.uint32)
    if long_rows.shape[0]:
        crc[long_rows] = crc24(b[long_rows], 14)
    if short_rows.shape[0]:
        crc[short_rows] = crc24(b[short_rows], 7)
    icao[reply] = crc[reply]
    adsb_icao = (_u32(b[:, 1]) << 16) | (_u32(b[:, 2]) << 8) | _u32(b[:, 3])
    icao[es] = adsb_icao[es]
    ok = np.zeros(n, bool)
    ok[reply] = True
    ok[es & fast] = crc[es & fast] == 0

    # An aircraft whose positions rs1090 must decode (DF18) has all of them decoded there, so
    # that rs1090 sees the same sequence as before.
    slow_pos = (df == 18) & ((kind == AIR_POSITION) | (kind == SURFACE_POSITION))
    if slow_pos.any():
        moved = position & np.isin(adsb_icao, adsb_icao[slow_pos])
        fast &= ~moved
        position &= ~moved
        ok[moved] = False

    nan = np.full(n, np.nan)
    out = Messages(
        ok=ok,
        icao24=icao,
        lat=nan.copy(),
        lon=nan.copy(),
        altitude=nan.copy(),
        gs=nan.copy(),
        track=nan.copy(),
        vrate=nan.copy(),
        gmb=nan.copy(),
        nic_b=nan.copy(),
        nacp=nan.copy(),
        nic_supp=nan.copy(),
        version2=nan.copy(),
        callsign=np.full(n, None, dtype=object),
        squawk=np.full(n, None, dtype=object),
    )
    _replies(b, df, kind, reply, out)
    _velocities(b, velocity & ok, out)
    _identifications(b, identification & ok, out)
    settled = _positions(b, t, tc, position & ok, reference, out)
    if not settled:
        fast &= ~position
        ok[position] = False
    # what rs1090 would have dropped carries nothing, as in `decode_batch`
    dropped = fast & ~out.ok
    for name in Messages.__slots__:
        column = getattr(out, name)
        if column.dtype.kind == "f":
            column[dropped] = np.nan
        elif column.dtype == object:
            column[dropped] = None
    out.icao24[dropped] = 0
    _slow(rows, t, kind, ~fast, reference, out)
    return out


def _replies(b: U8, df: npt.NDArray[Any], kind: I8, reply: BOOL, out: Messages) -> None:
    code = ((b[:, 2].astype(np.int64) & 0x1F) << 8) | b[:, 3]
    alt = reply & (kind == ALTITUDE) & ((df == 4) | (df == 20))
    altitude, alt_ok = ac13_altitude()
    out.altitude[alt] = altitude[code[alt]]
    out.ok[alt] &= alt_ok[code[alt]]
    sq = reply & (kind == SQUAWK) & ((df == 5) | (df == 21))
    squawk, sq_ok = id13_squawk()
    out.squawk[sq] = squawk[code[sq]]
    out.ok[sq] &= sq_ok[code[sq]]


def _velocities(b: U8, rows: BOOL, out: Messages) -> None:
    """BDS 0,9 subtype 1, as rs1090's `GroundSpeedDecoding` and `AirborneVelocity` read it."""
    v = b[rows].astype(np.int64)
    if v.shape[0] == 0:
        return
    key = ((v[:, 5] & 7) << 19) | (v[:, 6] << 11) | (v[:, 7] << 3) | (v[:, 8] >> 5)
    out.gs[rows], out.track[rows] = _GROUND.lookup(key.astype(np.uint32))
    vr_sign = np.where((v[:, 8] >> 3) & 1, -1, 1)
    vr = ((v[:, 8] & 7) << 6) | (v[:, 9] >> 2)
    out.vrate[rows] = np.where(vr == 0, np.nan, vr_sign * (vr - 1) * 64)
    gnss_sign = np.where(v[:, 10] >> 7, -25, 25)
    diff = v[:, 10] & 0x7F
    out.gmb[rows] = np.where(diff > 1, gnss_sign * (diff - 1), np.nan)


def _identifications(b: U8, rows: BOOL, out: Messages) -> None:
    """Callsigns (BDS 0,8): eight 6-bit codes in ME bits 9-56, each a character of rs1090's
    own table; the codes it leaves out (spaces) are moved to the end, where NULs end a numpy
    string, so the callsign reads as rs1090 writes it."""
    v = b[rows].astype(np.uint64)
    if v.shape[0] == 0:
        return
    bits = np.zeros(v.shape[0], np.uint64)
    for k in range(5, 11):
        bits = (bits << np.uint64(8)) | v[:, k]
    codes = (bits[:, None] >> _CALLSIGN_SHIFTS) & np.uint64(63)
    chars = callsign_characters()[codes.astype(np.intp)]
    packed = np.take_along_axis(chars, np.argsort(chars == 0, axis=1, kind="stable"), axis=1)
    out.callsign[rows] = np.ascontiguousarray(packed).view("U8").ravel().astype(object)


_CALLSIGN_SHIFTS = np.arange(42, -1, -6, dtype=np.uint64)


def _positions(
    b: U8,
    t: F64,
    tc: npt.NDArray[Any],
    rows: BOOL,
    reference: tuple[float, float] | None,
    out: Messages,
) -> bool:
    """Fields of the position messages, and their latitude and longitude as rs1090's batch
    call gives them; False if the positions must be left to rs1090."""
    at = np.flatnonzero(rows)
    if at.shape[0] == 0:
        return True
    p = b[at].astype(np.int64)
    ptc = tc[at]
    surface = (ptc >= 5) & (ptc <= 8)
    air = ~surface
    code12 = (p[:, 5] << 4) | (p[:, 6] >> 4)
    baro = air & (ptc <= 18)
    alt = np.full(at.shape[0], np.nan)
    accepted = np.ones(at.shape[0], bool)
    gnss = air & (ptc >= 20)
    for which, table in ((baro, ac12_altitude(11)), (gnss, ac12_altitude(20))):
        alt[which] = table[0][code12[which]]
        accepted[which] = table[1][code12[which]]
    speed, speed_ok, track, track_ok = surface_movement()
    movement = ((p[:, 4] & 7) << 4) | (p[:, 5] >> 4)
    heading = ((p[:, 5] & 15) << 4) | (p[:, 6] >> 4)
    accepted[surface] = speed_ok[movement[surface]] & track_ok[heading[surface]]
    # a frame rs1090 refuses is not a position message at all: it takes no part in the pairing
    out.ok[at[~accepted]] = False
    at, p, ptc, alt = at[accepted], p[accepted], ptc[accepted], alt[accepted]
    surface, air, baro = surface[accepted], air[accepted], baro[accepted]
    if at.shape[0] == 0:
        return True
    out.altitude[at] = alt
    out.nic_b[at] = np.where(baro, (p[:, 4] & 1).astype(np.float64), np.nan)
    out.gs[at[surface]] = speed[movement[accepted][surface]]
    out.track[at[surface]] = track[heading[accepted][surface]]

    odd = ((p[:, 6] >> 2) & 1).astype(bool)
    lat_cpr = (((p[:, 6] & 3) << 15) | (p[:, 7] << 7) | (p[:, 8] >> 1)).astype(np.float64)
    lon_cpr = (((p[:, 8] & 1) << 16) | (p[:, 9] << 8) | p[:, 10]).astype(np.float64)
    order = np.lexsort((at, out.icao24[at]))
    first, _ = group_bounds(out.icao24[at][order])

    def first_surface(where: I64) -> tuple[F64, F64]:
        """rs1090's own answer for surface messages of aircraft with no position yet (it
        keeps those only near an airport of its database): one batch call, each frame under
        its own address (parity recomputed) so that rs1090 decodes each with a fresh state."""
        lat = np.full(where.shape[0], np.nan)
        lon = np.full(where.shape[0], np.nan)
        if reference is None:
            return lat, lon
        src = at[order][where]
        alone = b[src].copy()
        k = np.arange(where.shape[0], dtype=np.uint32)
        alone[:, 1], alone[:, 2], alone[:, 3] = k >> 16, (k >> 8) & 0xFF, k & 0xFF
        frames = hex_rows(with_parity(alone, 14)).tolist()
        try:
            got: Any = rs1090.decode(frames, t[src].tolist(), reference=reference)
        except BaseException as exc:  # a Rust panic is a BaseException
            if not is_rust_panic(exc):
                raise
            got = []
        for m in got:
            if m.get("latitude") is not None:
                i = int(m["icao24"], 16)
                lat[i], lon[i] = m["latitude"], m["longitude"]
        return lat, lon

    got = decode_positions(
        first,
        t[at][order],
        surface[order],
        odd[order],
        lat_cpr[order],
        lon_cpr[order],
        reference,
        first_surface,
    )
    if got is None:
        return False
    out.lat[at[order]], out.lon[at[order]] = got
    return True


def _slow(
    rows: U8, t: F64, kind: I8, slow: BOOL, reference: tuple[float, float] | None, out: Messages
) -> None:
    """The rare messages, through rs1090's batch call."""
    at = np.flatnonzero(slow)
    if at.shape[0] == 0:
        return
    m = decode_batch(hex_rows(rows[at]).tolist(), t[at].tolist(), kind[at], reference)
    for name in Messages.__slots__:
        getattr(out, name)[at] = getattr(m, name)
