"""Raw AVR frames (port 30002): one Mode S frame in hex per line.

AVR lines carry one Mode S frame in hex, with an optional 12 MHz MLAT counter and signal level,
as dump1090 and readsb write them:

    *8D4840D6202CC371C32CE0576098;                  the frame alone (also ":")
    @000015A8877E8D4840D6202CC371C32CE0576098;      12 hex digits of counter first (also "%")
    <000015A8877E0D8D4840D6202CC371C32CE0576098;    counter, 2 digits of signal level, frame

Lines are parsed a block at once, as described in `skyfence.sources.lines`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from skyfence.arrays import BOOL, I16, I64, STR, U64
from skyfence.buffers import booleans
from skyfence.decoding.frames import FrameDecoder
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, open_binary
from skyfence.sources.beast import block_bytes, decode_timed, ticks_seconds
from skyfence.sources.lines import (
    Lines,
    LineStats,
    block_label,
    count_malformed,
    lines_array,
    numbered_blocks,
)


def _buffers(text: pa.StringArray) -> tuple[I64, npt.NDArray[np.uint8]]:
    """The line offsets and the bytes of a string array, as numpy arrays without a copy."""
    _, offsets, data = text.buffers()
    offs = np.frombuffer(offsets, np.int32)[text.offset : text.offset + len(text) + 1]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offs.astype(np.int64), raw


def _hex_value(digits: npt.NDArray[np.uint8]) -> U64:
    """Rows of ASCII hex digits (validated beforehand) as integers."""
    nibbles = _NIBBLE[digits].astype(np.uint64)
    shifts = np.arange(4 * (digits.shape[1] - 1), -1, -4, dtype=np.uint64)
    values: U64 = np.bitwise_or.reduce(nibbles << shifts, axis=1)
    return values


_NIBBLE = np.zeros(256, np.uint8)
_NIBBLE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_NIBBLE[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[np.frombuffer(b"ABCDEF", np.uint8)] = np.frombuffer(b"abcdef", np.uint8)


@dataclass(frozen=True, slots=True)
class AvrFrames:
    """Frames of the usable AVR lines, in line order."""

    frame: STR  # lower-case hex: 4 digits (Mode A/C), 14 or 28 (Mode S)
    mlat_ticks: U64  # 12 MHz receiver counter; 0 for lines without one ("*" and ":")
    signal: I16  # signal level byte of "<" lines, -1 for the others
    timed: BOOL  # the line has a counter ("@", "%", "<"): a counter of 0 is a time too

    def __len__(self) -> int:
        return int(self.frame.shape[0])


_AVR = r"^[*:@%<][0-9A-Fa-f]*;$"
_FRAME_DIGITS = (4, 14, 28)
_PAD = 64  # zero bytes after the data, so a fixed-width window never runs off the end


def parse_avr(lines: Lines) -> tuple[AvrFrames, LineStats]:
    """Frames from AVR lines; unusable lines are counted in the stats by reason.

    Arrow checks each line against the format; the fields are then cut out of the lines'
    bytes with fixed-width numpy windows (a line's prefix says where its frame starts).
    """
    text = lines_array(lines)
    offs, data = _buffers(text)
    start, length = offs[:-1], np.diff(offs)
    data = np.concatenate((data, np.zeros(_PAD, np.uint8)))
    first, last = data[start], data[np.maximum(offs[1:] - 1, 0)]
    blank = length == 0
    matched = booleans(pc.match_substring_regex(text, _AVR))
    head = np.select([first == ord("<"), (first == ord("@")) | (first == ord("%"))], [14, 12], 0)
    digits = length - 2 - head
    good = matched & np.isin(digits, _FRAME_DIGITS)

    stats = LineStats(lines=int((~blank).sum()), used=int(good.sum()))
    no_end = ~blank & (last != ord(";"))
    bad_prefix = ~blank & ~no_end & ~np.isin(first, np.frombuffer(b"*:@%<", np.uint8))
    for reason, rows in (
        ("AVR line without the closing ';'", no_end),
        ("AVR line with an unknown prefix (expected * : @ % <)", bad_prefix),
        ("AVR line with non-hexadecimal characters", ~blank & ~matched & ~no_end & ~bad_prefix),
        ("AVR frame not 4, 14 or 28 hex digits long", matched & ~good),
    ):
        count_malformed(stats, rows, reason, np.arange(len(rows)))  # one row per line

    rows = np.flatnonzero(good)
    start, head, digits = start[rows], head[rows], digits[rows]
    window = np.lib.stride_tricks.sliding_window_view
    chars = _LOWER[window(data, 28)[start + 1 + head]]
    chars *= np.arange(28) < digits[:, None]  # NUL past the end: a shorter numpy string
    ticks = np.zeros(rows.shape[0], np.uint64)
    timed = np.flatnonzero(head > 0)
    ticks[timed] = _hex_value(window(data, 12)[start[timed] + 1])
    signal = np.full(rows.shape[0], -1, np.int16)
    loud = np.flatnonzero(head == 14)
    signal[loud] = _hex_value(window(data, 2)[start[loud] + 13])
    frame = chars.astype(np.uint32).view("U28").reshape(rows.shape[0])
    return AvrFrames(frame, ticks, signal, head > 0), stats


def read_avr_file(
    path: Path,
    batch_rows: int,
    stats: ReadStats,
    reference: tuple[float, float] | None = None,
    *,
    start_s: float = 0.0,
) -> Iterator[StateVectors]:
    """State vectors from a file of AVR lines (optionally gzipped).

    Time comes from the 12 MHz MLAT counter of "@", "%" and "<" lines, as for Beast files:
    `start_s` at the first timestamped frame, plus ticks / 12e6 since. Plain "*" and ":" lines
    carry no time at all (dump1090 writes them unless run with --mlat); their frames are
    counted as skipped rather than given an invented time. Mode A/C frames are read but not
    decoded (they carry no address).
    """
    decoder = FrameDecoder(reference)
    stats.decode = decoder.stats
    origin: int | None = None
    with open_binary(path) as stream:
        for block, first_line in numbered_blocks(stream, block_bytes(batch_rows)):
            frames, line_stats = parse_avr(block)
            where = block_label(block, first_line)
            line_stats.report(stats, where, first_line)
            timed = frames.timed
            mode_s = np.char.str_len(frames.frame) != 4
            stats.skip(
                int((mode_s & ~timed).sum()),
                f"{where}: frames without a timestamp (plain '*' AVR lines carry none)",
            )
            use = np.flatnonzero(mode_s & timed)
            if origin is None and use.shape[0]:
                origin = int(frames.mlat_ticks[use[0]])
            t = ticks_seconds(frames.mlat_ticks[use], origin or 0, start_s, timed[use])
            yield from decode_timed(decoder, t, frames.frame[use], stats, batch_rows, where)
