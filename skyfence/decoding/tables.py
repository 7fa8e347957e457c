"""rs1090's answers for every value of the small Mode S fields, asked once, kept as arrays.

The frequent messages (surveillance replies, airborne positions, velocities) spend their time
in rs1090 on fields of 7 to 13 bits: an altitude code, an identity code, a movement code. A
field that small has few enough values to ask the library about every one of them, once per
process, in one batch call on frames built for the purpose; after that, decoding a column of
such fields is one array look-up. The numbers are therefore rs1090's, not a re-implementation:
a code rs1090 gives no value for is NaN (or "") here too, and `tests/decoding/test_fast.py`
checks the whole pipeline against rs1090 on every real recording we have.

The parity of a Mode S frame is a CRC-24 (generator 0x1FFF409): the 24-bit remainder of the
whole frame is 0 for a valid ADS-B message and the sender's address for the surveillance
replies, whose parity is overlaid with it. `crc24` computes it over rows of bytes with the
classic 256-entry table, one numpy step per byte column.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import rs1090

from skyfence.arrays import BOOL, F64, OBJ, U8, U32

GENERATOR = 0xFFF409  # x^24 + ... : the Mode S CRC-24 polynomial without its top bit


def _crc_table() -> U32:
    table = np.zeros(256, np.uint32)
    for byte in range(256):
        c = byte << 16
        for _ in range(8):
            c = ((c << 1) ^ GENERATOR if c & 0x800000 else c << 1) & 0xFFFFFF
        table[byte] = c
    return table


CRC_TABLE = _crc_table()


def crc24(rows: U8, size: int) -> U32:
    """Remainder of each row's first `size` bytes (7 or 14) divided by the generator, parity
    included: 0 for an intact DF17, the address for DF4/5/20/21."""
    crc = np.zeros(rows.shape[0], np.uint32)
    for k in range(size - 3):
        crc = ((crc << 8) & 0xFFFFFF) ^ CRC_TABLE[(crc >> 16) ^ rows[:, k]]
    parity = (
        (rows[:, size - 3].astype(np.uint32) << 16)
        | (rows[:, size - 2].astype(np.uint32) << 8)
        | rows[:, size - 1]
    )
    return np.asarray(crc ^ parity, np.uint32)


def with_parity(rows: U8, size: int) -> U8:
    """The rows with their parity set so that the CRC remainder is 0 (frames built here)."""
    out = rows.copy()
    out[:, size - 3 : size] = 0
    crc = crc24(out, size)
    out[:, size - 3] = crc >> 16
    out[:, size - 2] = (crc >> 8) & 0xFF
    out[:, size - 1] = crc & 0xFF
    return out


def _ask(rows: U8, *keys: str) -> tuple[BOOL, list[OBJ]]:
    """Whether rs1090 accepts each frame (it drops a frame with an invalid field, such as an
    altitude code no altimeter sends), and its value of each key (None where it gives none),
    from one batch call. Timestamps are the row numbers, to align its output."""
    frames = [row.tobytes().hex() for row in rows]
    out = rs1090.decode(frames, [float(i) for i in range(len(frames))])
    accepted = np.zeros(len(frames), bool)
    columns: list[OBJ] = [np.full(len(frames), None, dtype=object) for _ in keys]
    for m in out:
        at = int(m["timestamp"])
        accepted[at] = True
        for col, key in zip(columns, keys, strict=True):
            col[at] = m.get(key)
    return accepted, columns


def _floats(values: OBJ) -> F64:
    return np.array([np.nan if v is None else float(v) for v in values], np.float64)


def _short_replies(df: int) -> U8:
    """DF4/5 frames carrying every 13-bit code in their last data bits, FS/DR/UM zero."""
    code = np.arange(8192, dtype=np.uint32)
    rows = np.zeros((code.shape[0], 7), np.uint8)
    rows[:, 0] = df << 3
    rows[:, 2] = code >> 8
    rows[:, 3] = code & 0xFF
    return rows


@cache
def ac13_altitude() -> tuple[F64, BOOL]:
    """Altitude (ft) of each 13-bit AC code of DF4/20, and whether rs1090 accepts the code."""
    accepted, (altitude,) = _ask(_short_replies(4), "altitude")
    return _floats(altitude), accepted


@cache
def id13_squawk() -> tuple[OBJ, BOOL]:
    """Squawk ("7700") of each 13-bit identity code of DF5/21 (None where rs1090 gives none),
    and whether rs1090 accepts the code."""
    accepted, (squawk,) = _ask(_short_replies(5), "squawk")
    return squawk, accepted


def _extended(me: list[int]) -> U8:
    """DF17 frames (address 0x000001) with the given 56-bit ME fields, parity valid."""
    rows = np.zeros((len(me), 14), np.uint8)
    rows[:, 0] = 17 << 3
    rows[:, 3] = 1
    rows[:, 4:11] = np.frombuffer(b"".join(v.to_bytes(7, "big") for v in me), np.uint8).reshape(
        -1, 7
    )
    return with_parity(rows, 14)


@cache
def ac12_altitude(tc: int) -> tuple[F64, BOOL]:
    """Altitude (ft) of each 12-bit altitude code (ME bits 9-20) of an airborne position of
    type code `tc` (9-18: barometric; 20-22: GNSS height), and whether rs1090 accepts it."""
    accepted, (altitude,) = _ask(
        _extended([tc << 51 | code << 36 for code in range(4096)]), "altitude"
    )
    return _floats(altitude), accepted


@cache
def surface_movement() -> tuple[F64, BOOL, F64, BOOL]:
    """Ground speed (kt) of each 7-bit movement code (ME bits 6-12) and track (deg) of each
    8-bit track status + track field (ME bits 13-20) of a surface position, each with whether
    rs1090 accepts the value."""
    speed_ok, (speed,) = _ask(
        _extended([7 << 51 | code << 44 for code in range(128)]), "groundspeed"
    )
    track_ok, (track,) = _ask(_extended([7 << 51 | field << 36 for field in range(256)]), "track")
    return _floats(speed), speed_ok, _floats(track), track_ok


@cache
def callsign_characters() -> U32:
    """The code point of each 6-bit character code of an identification message (TC 1-4), as
    rs1090 writes it ("#" for codes outside the charset), 0 for the codes it leaves out of the
    callsign (the space, wherever it stands). Asked with one frame per code, all eight
    characters that code."""
    me = [4 << 51 | sum(code << (42 - 6 * k) for k in range(8)) for code in range(64)]
    accepted, (callsign,) = _ask(_extended(me), "callsign")
    out = np.zeros(64, np.uint32)
    for code, (ok, text) in enumerate(zip(accepted.tolist(), callsign.tolist(), strict=True)):
        if not ok or not isinstance(text, str) or text not in ("", text[:1] * 8):
            raise RuntimeError(f"rs1090 gives {text!r} for eight characters of code {code}")
        out[code] = ord(text[0]) if text else 0
    return out


class GroundVelocities:
    """rs1090's ground speed and track for the east-west and north-south fields of velocity
    messages (subtype 1), asked for each new pair of fields and kept.

    rs1090 computes them with the `libm` crate's `hypot` and `atan2`, which differ from
    numpy's in the last bit for a few percent of the values; the fields are 22 bits, too many to
    ask about all at once, but an aircraft's velocity changes slowly, so most messages repeat a
    pair already asked about. At most `max_pairs` are kept (about 24 bytes each).
    """

    def __init__(self, max_pairs: int = 1 << 20) -> None:
        self.max_pairs = max_pairs
        self._keys = np.zeros(0, np.uint32)  # sorted
        self._gs = np.zeros(0, np.float64)
        self._track = np.zeros(0, np.float64)

    def lookup(self, key: U32) -> tuple[F64, F64]:
        """`key`: ME bits 14-35 (sign, value, sign, value) of each message."""
        at = np.searchsorted(self._keys, key)
        known = at < self._keys.shape[0]
        known[known] = self._keys[at[known]] == key[known]
        if not known.all():
            new = np.unique(key[~known])
            if self._keys.shape[0] + new.shape[0] > self.max_pairs:  # rare: start afresh
                self._keys = np.zeros(0, np.uint32)
                self._gs, self._track = np.zeros(0), np.zeros(0)
                new = np.unique(key)
            self._learn(new)
            at = np.searchsorted(self._keys, key)
        return self._gs[at], self._track[at]

    def _learn(self, new: U32) -> None:
        me = [19 << 51 | 1 << 48 | int(k) << 21 for k in new.tolist()]
        accepted, columns = _ask(_extended(me), "groundspeed", "track")
        gs, track = (np.where(accepted, _floats(c), np.nan) for c in columns)
        keys = np.concatenate([self._keys, new])
        order = np.argsort(keys, kind="stable")
        self._gs = np.concatenate([self._gs, gs])[order]
        self._track = np.concatenate([self._track, track])[order]
        self._keys = keys[order]
