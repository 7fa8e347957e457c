"""Sort raw Mode S frames into the few message kinds a state vector needs, without decoding them.

A receiver records every reply it hears, and most of them (all-call, ACAS, Comm-B, ...) say
nothing about where an aircraft is. Reading only the downlink format and ADS-B type code bits
(vectorised over the whole batch) lets the decoder hand rs1090 just the frames that matter, and
reject malformed hex before it reaches rs1090, whose batch call aborts on the first bad frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from skyfence.arrays import BOOL, I8, STR, U8
from skyfence.errors import InputError

Replies = Literal["all", "short", "none"]


# Message kinds, in the order a state vector is assembled from them.
AIR_POSITION = 1  # DF17/18 TC 9-18 (barometric altitude) and 20-22 (GNSS height)
SURFACE_POSITION = 2  # DF17/18 TC 5-8
VELOCITY = 3  # DF17/18 TC 19
IDENTIFICATION = 4  # DF17/18 TC 1-4
STATUS = 5  # DF17/18 TC 29 (NACp) and 31 (NACp, NIC supplement, version)
SQUAWK = 6  # DF5/21 identity replies, DF17/18 TC 28 emergency status
ALTITUDE = 7  # DF4/20 altitude replies
POSITION_UNDECODED = 8  # a position message no reference could resolve

_KIND_BY_TC = np.zeros(32, np.int8)
_KIND_BY_TC[1:5] = IDENTIFICATION
_KIND_BY_TC[5:9] = SURFACE_POSITION
_KIND_BY_TC[9:19] = AIR_POSITION
_KIND_BY_TC[19] = VELOCITY
_KIND_BY_TC[20:23] = AIR_POSITION
_KIND_BY_TC[28] = SQUAWK
_KIND_BY_TC[29] = STATUS
_KIND_BY_TC[31] = STATUS

# DF18 control field values that carry ADS-B-format messages: ADS-B from non-transponder
# devices (0, 1), fine TIS-B (2) and ADS-R rebroadcasts (6). Coarse TIS-B and management
# messages use other layouts.
_DF18_CF = np.zeros(8, bool)
_DF18_CF[[0, 1, 2, 6]] = True
_IS_POSITION = np.zeros(256, bool)  # by kind (int8, read as uint8)

_HEX = np.full(128, -1, np.int16)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


@dataclass(frozen=True, slots=True)
class Classified:
    """Per input frame: whether it is well formed, its message kind (0 = not needed), TC, and
    its bytes (short frames, and padded short replies, zero past byte 7)."""

    rows: U8
    valid: BOOL
    kind: I8
    tc: I8

    @property
    def frames(self) -> STR:
        """Lower-case hex of the valid frames (14 or 28 digits), "" where malformed."""
        out = hex_rows(self.rows)
        out[~self.valid] = ""
        return out


def _text(frames: npt.ArrayLike) -> STR:
    """The frames as a fixed-width string array, cut at 29 characters so that one huge
    garbage value cannot blow up the array (29 is too long, so it stays invalid)."""
    if isinstance(frames, np.ndarray) and frames.dtype.kind == "U" and frames.dtype.itemsize <= 116:
        return frames
    text = np.asarray(frames, dtype=object)
    return np.array([f[:29] if isinstance(f, str) else "" for f in text.tolist()], dtype="U29")


def classify(frames: npt.ArrayLike, *, replies: Replies = "all") -> Classified:
    """Validate hex frames (14 or 28 digits, as the DF requires) and find the kind of each from
    its DF and TC bits.

    `replies` selects the surveillance replies kept to update altitude and squawk: "all"
    (DF4/5/20/21), "short" (DF4/5 only: DF20/21 carry a Comm-B payload that makes them several
    times slower to decode) or "none".
    """
    check_replies(replies)
    as_str = _text(frames)
    n = as_str.shape[0]
    length = np.strings.str_len(as_str)
    sized = (length == 14) | (length == 28)
    if as_str.dtype.itemsize == 28 * 4 and sized.all():
        codes = as_str.view(np.uint32).reshape(n, 28)
    else:
        codes = np.zeros((n, 28), np.uint32)
        if sized.any():
            fixed = as_str[sized].astype("U28")
            codes[sized] = fixed.view(np.uint32).reshape(-1, 28)
    nibbles = _HEX[np.minimum(codes, 127)]
    nibbles[codes > 127] = -1
    within = np.arange(28)[None, :] < length[:, None]
    valid = sized & ~((nibbles < 0) & within).any(axis=1)

    nib = np.where(within & valid[:, None], nibbles, 0).astype(np.uint8)
    byte = np.asarray((nib[:, 0::2] << 4) | nib[:, 1::2], np.uint8)
    return _sort(byte, np.where(valid, length // 2, 0), replies)


def classify_rows(rows: U8, size: npt.NDArray[Any], *, replies: Replies = "all") -> Classified:
    """`classify` for frames already in bytes (a Beast feed's): `rows` (n, 14), the frames'
    bytes from the left, `size` the bytes each frame has (7 or 14; anything else is malformed).

    A binary feed needs no hex at all: its frames reach the decoder as the bytes they came as.
    """
    check_replies(replies)
    byte = np.array(rows, np.uint8, copy=True)
    byte[np.asarray(size) < 14, 7:] = 0
    return _sort(byte, np.asarray(size), replies)


def check_replies(replies: str) -> None:
    if replies not in ("all", "short", "none"):
        raise InputError(f"replies must be 'all', 'short' or 'none', not {replies!r}")


def _sort(byte: U8, size: npt.NDArray[Any], replies: Replies) -> Classified:
    """Kinds from the DF and TC bits of byte rows (owned: modified in place) of `size` bytes."""
    valid = (size == 7) | (size == 14)
    df = byte[:, 0] >> 3
    tc = (byte[:, 4] >> 3).astype(np.int8)
    # DF 0-15 are 56-bit replies, DF 16-24 112-bit. Some receivers pad short replies to 28
    # digits: the padding is cut so the parity (which carries the address) is read correctly.
    long_df = df >= 16
    valid &= ~(long_df & (size == 7))
    byte[~long_df, 7:] = 0
    adsb = valid & ((df == 17) | ((df == 18) & _DF18_CF[byte[:, 0] & 7]))
    kind = np.where(adsb, _KIND_BY_TC[tc], 0).astype(np.int8)
    if replies != "none":
        kind[df == 4] = ALTITUDE
        kind[df == 5] = SQUAWK
    if replies == "all":
        kind[df == 20] = ALTITUDE
        kind[df == 21] = SQUAWK
    kind[~valid] = 0
    byte[~valid] = 0
    return Classified(
        np.asarray(byte, np.uint8), valid, kind, np.where(adsb, tc, -1).astype(np.int8)
    )


def hex_rows(rows: U8) -> STR:
    """Lower-case hex of byte rows ((n, 14)): 28 digits, or 14 for a short DF (< 16)."""
    digits = _HEX_PAIRS[rows].view(np.uint32).reshape(rows.shape[0], 28)
    digits[rows[:, 0] < 16 << 3, 14:] = 0  # numpy strings are NUL-padded: a 14-digit string
    return digits.view("U28").ravel()


_HEX_PAIRS = (
    np.frombuffer(b"0123456789abcdef", np.uint8)
    .astype(np.uint32)[np.stack((np.arange(256) >> 4, np.arange(256) & 15), axis=1)]
    .view(np.uint64)
    .ravel()
)


_IS_POSITION[[AIR_POSITION, SURFACE_POSITION]] = True


def is_position(kind: npt.NDArray[Any]) -> BOOL:
    return np.asarray(_IS_POSITION[np.asarray(kind).astype(np.uint8)], bool)
