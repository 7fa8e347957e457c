"""Beast binary feeds (readsb/dump1090 port 30005, Mode-S Beast, Radarcape): bytes -> frames.

A Beast stream is a sequence of messages `<esc> <type> <6-byte MLAT counter> <1-byte signal>
<payload>`, where <esc> is 0x1a and every 0x1a inside the message is sent twice. Types are
'1' (Mode A/C, 2-byte payload), '2' (Mode S short, 7 bytes), '3' (Mode S long, 14 bytes) and
'4' (Radarcape status, 14 bytes, skipped here).

Framing without a per-byte Python loop rests on one observation: in a well-formed stream, 0x1a
bytes come in runs made of escaped pairs, plus one message start at the very end of the run
when the run is odd (the type byte after it is never 0x1a). So the run-length parity of each
0x1a run tells, locally and with numpy, where messages start and which bytes are escape
doubles; what a run means never depends on how the stream was cut into reads. A start found
inside another message's expected extent means that message was corrupted: it is dropped and
parsing resumes at the new start, which is how the parser resynchronises after garbage.

`BeastParser.feed` keeps an incomplete trailing message (and an unpaired trailing 0x1a, whose
meaning depends on the next byte) for the next call, so a TCP read that ends mid-message loses
nothing, and feeding a stream in any chunks gives exactly the frames of feeding it at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from skyfence.arrays import BOOL, F64, I64, STR, U8, U64
from skyfence.decoding.frames import FrameDecoder
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, open_binary

ESC = 0x1A
MODE_AC, MODE_S_SHORT, MODE_S_LONG, STATUS = 1, 2, 3, 4
MLAT_HZ = 12e6  # the dump1090/readsb MLAT counter runs at 12 MHz

# Unescaped bytes after the type byte: 6 counter + 1 signal + payload; 0 = unknown type.
_BODY = np.zeros(256, np.int64)
_BODY[ord("1")], _BODY[ord("2")], _BODY[ord("3")], _BODY[ord("4")] = 9, 14, 21, 21
_HEAD = 7  # counter + signal


@dataclass(frozen=True, slots=True)
class BeastFrames:
    """Frames found in a Beast stream, in stream order, as columns.

    The frames stay bytes (`payload`), as they came: the decoder reads them as such
    (`FrameDecoder.decode_bytes`), and hex (`frame`) is made only for whoever asks for text.
    """

    payload: U8  # (n, 14): each frame's bytes from the left, zero past its end
    mlat_ticks: U64  # 12 MHz receiver counter at reception; 0 when the receiver has none
    signal: U8  # raw signal level byte
    msg_type: U8  # MODE_AC, MODE_S_SHORT or MODE_S_LONG

    def __len__(self) -> int:
        return int(self.msg_type.shape[0])

    @property
    def frame(self) -> STR:
        """Lower-case hex: 4 digits (Mode A/C), 14 or 28 (Mode S)."""
        digits = _hex_digits(self.payload)
        digits *= _WIDTH[self.msg_type, None] > _DIGITS  # numpy strings are NUL-padded
        return digits.view("U28").ravel()

    @property
    def size(self) -> I64:
        """Bytes of each frame: 2 (Mode A/C), 7 or 14 (Mode S)."""
        return _WIDTH[self.msg_type] // 2

    @staticmethod
    def empty() -> BeastFrames:
        return BeastFrames(
            np.zeros((0, _PAYLOAD), np.uint8),
            np.zeros(0, np.uint64),
            np.zeros(0, np.uint8),
            np.zeros(0, np.uint8),
        )

    @staticmethod
    def concat(parts: list[BeastFrames]) -> BeastFrames:
        if not parts:
            return BeastFrames.empty()
        if len(parts) == 1:
            return parts[0]
        return BeastFrames(
            np.concatenate([p.payload for p in parts]),
            np.concatenate([p.mlat_ticks for p in parts]),
            np.concatenate([p.signal for p in parts]),
            np.concatenate([p.msg_type for p in parts]),
        )

    def take(self, index: npt.NDArray[np.bool_] | I64) -> BeastFrames:
        return BeastFrames(
            self.payload[index], self.mlat_ticks[index], self.signal[index], self.msg_type[index]
        )


@dataclass(slots=True)
class BeastStats:
    """Where every byte fed went: bytes_fed == frame_bytes + status_bytes + skipped_bytes +
    the parser's `pending` bytes, at all times."""

    bytes_fed: int = 0
    frame_bytes: int = 0  # raw (escaped) bytes of the frames returned
    status_bytes: int = 0  # raw bytes of type '4' status messages, skipped by design
    skipped_bytes: int = 0  # bytes outside any complete message: garbage, broken messages
    frames: int = 0
    status_messages: int = 0
    interrupted: int = 0  # messages cut short by the start of another one
    unknown_types: int = 0  # message starts with a type byte other than '1'-'4'
    resyncs: int = 0  # stretches of skipped bytes (each one a loss of synchronisation)


class BeastParser:
    """Streaming Beast framer: `feed` it bytes as they arrive, get the complete frames back."""

    def __init__(self) -> None:
        self.stats = BeastStats()
        self._carry = b""
        self._skipping = False  # the last byte accounted for was skipped

    @property
    def pending(self) -> int:
        """Bytes held back for the next call: an incomplete message, or an unpaired 0x1a."""
        return len(self._carry)

    def feed(self, data: bytes | bytearray | memoryview) -> BeastFrames:
        """The frames completed by `data` (with what earlier calls left pending)."""
        self.stats.bytes_fed += len(data)
        buf = self._carry + bytes(data)
        if not buf:
            return BeastFrames.empty()
        arr = np.frombuffer(buf, np.uint8)
        cut, drops, starts, u_start = _escapes(arr)
        if drops.shape[0]:
            keep = np.ones(cut, bool)
            keep[drops] = False
            u = arr[:cut][keep]  # the stream unescaped
        else:
            u = arr[:cut]
        n_u = u.shape[0]

        body = _BODY[u[u_start + 1]]
        u_end = u_start + 2 + body
        next_start = np.append(u_start[1:], n_u)
        known = body > 0
        clean = u_end <= np.append(u_start[1:], np.iinfo(np.int64).max)  # no start inside
        complete = u_end <= n_u
        ok = known & clean & complete
        waiting = known & clean & ~complete  # only ever the last start: more bytes to come
        carry_from = int(starts[-1]) if waiting.any() else cut

        # Raw extent of each message, for the byte accounting. Messages mostly follow each
        # other, so the raw end is the next start; only those followed by garbage need a search.
        raw_end = np.append(starts[1:], cut)[ok]
        ends = u_end[ok]
        loose = np.flatnonzero(ends != next_start[ok])
        if loose.shape[0]:
            after_drop = drops - np.arange(drops.shape[0])  # unescaped index after each drop
            raw_end[loose] = ends[loose] + np.searchsorted(after_drop, ends[loose], "right")
        kinds = u[u_start[ok] + 1].astype(np.int64) - ord("0")
        self._account(starts[ok], raw_end, kinds == STATUS, carry_from)
        self.stats.interrupted += int((known & ~clean).sum())
        self.stats.unknown_types += int((~known).sum())
        self._carry = buf[carry_from:]
        return _columns(u, u_start[ok], kinds)

    def close(self) -> int:
        """End of stream: whatever is pending (a truncated message) is skipped. Returns its size."""
        lost = len(self._carry)
        if lost:
            self.stats.skipped_bytes += lost
            self.stats.resyncs += 0 if self._skipping else 1
            self._skipping = True
        self._carry = b""
        return lost

    def _account(self, start: I64, end: I64, is_status: BOOL, upto: int) -> None:
        """Count frame, status and skipped bytes of [0, upto), and the stretches of skipped ones."""
        s = self.stats
        size = end - start
        s.frames += int((~is_status).sum())
        s.status_messages += int(is_status.sum())
        s.frame_bytes += int(size[~is_status].sum())
        s.status_bytes += int(size[is_status].sum())
        s.skipped_bytes += upto - int(size.sum())
        gaps = np.diff(np.concatenate(([0], np.column_stack((start, end)).ravel(), [upto])))[::2]
        stretches = int((gaps > 0).sum())
        if stretches and gaps[0] > 0 and self._skipping:
            stretches -= 1  # continues the stretch the previous call ended in
        s.resyncs += stretches
        if start.shape[0] or upto:
            self._skipping = bool(gaps[-1] > 0)


def _escapes(arr: U8) -> tuple[int, I64, I64, I64]:
    """From the 0x1a runs: how many bytes can be read now, the positions of the escape doubles
    to drop, and the message starts (raw, and in the unescaped stream).

    Pairs count from the start of each run and an odd run ends on a message start. A lone 0x1a
    at the very end may be a start or half of a pair: it waits for the next byte.
    """
    n = arr.shape[0]
    esc = np.flatnonzero(arr == ESC)
    new_run = np.ones(esc.shape[0], bool)
    new_run[1:] = np.diff(esc) != 1
    run_first = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_first, esc.shape[0]))
    is_drop = (np.arange(esc.shape[0]) - np.repeat(run_first, run_len)) % 2 == 1
    last_of_odd = (run_first + run_len - 1)[run_len % 2 == 1]
    cut = n - 1 if last_of_odd.shape[0] and esc[last_of_odd[-1]] == n - 1 else n
    last_of_odd = last_of_odd[esc[last_of_odd] < cut]
    starts = esc[last_of_odd]
    u_start = starts - np.cumsum(is_drop)[last_of_odd]  # a start is never itself a drop
    return cut, esc[is_drop], starts, u_start


def _columns(u: U8, start: I64, msg_type: I64) -> BeastFrames:
    """Gather counter, signal and payload of each message from the unescaped bytes.

    All messages are read as if long (rows copied out of a sliding window: one memcpy each, no
    index matrix) and shorter payloads are cut afterwards by zeroing their bytes past the end.
    """
    if msg_type.shape[0] and (msg_type == STATUS).any():
        keep = msg_type != STATUS
        start, msg_type = start[keep], msg_type[keep]
    count = start.shape[0]
    padded = np.concatenate((u, np.zeros(_BODY[ord("3")], np.uint8)))
    rows = np.lib.stride_tricks.sliding_window_view(padded, _BODY[ord("3")])[start + 2]
    counter = np.zeros((count, 8), np.uint8)
    counter[:, 2:] = rows[:, :6]
    return BeastFrames(
        rows[:, _HEAD:] * (_WIDTH[msg_type, None] > 2 * _BYTES),  # cut short payloads
        counter.view(">u8").ravel().astype(np.uint64),
        rows[:, 6].copy(),
        msg_type.astype(np.uint8),
    )


_PAYLOAD = 14  # bytes of the longest payload
_BYTES = np.arange(_PAYLOAD)
_DIGITS = np.arange(2 * _PAYLOAD)
_WIDTH = np.array([0, 4, 14, 28, 0])  # hex digits per message type


def _hex_digits(rows: U8) -> npt.NDArray[np.uint32]:
    """Each row of bytes as lower-case hex digits, one uint32 code point per digit: numpy's
    unicode layout, so the result views as strings without a conversion. One table look-up per
    byte (its two digits as one 64-bit item) is several times faster than bytes.hex() + str."""
    return _HEX_PAIRS[rows].view(np.uint32).reshape(rows.shape[0], 2 * rows.shape[1])


_HEX_PAIRS = (
    np.frombuffer(b"0123456789abcdef", np.uint8)
    .astype(np.uint32)[np.stack((np.arange(256) >> 4, np.arange(256) & 15), axis=1)]
    .view(np.uint64)
    .ravel()
)


def ticks_seconds(ticks: U64, origin: int, start_s: float, timed: BOOL | None = None) -> F64:
    """UNIX seconds of MLAT counter values: `start_s` at counter value `origin`.

    The counter starts at an arbitrary value when the receiver starts, so only differences
    mean something. `timed` says which counters are times; by default a zero counter means the
    receiver had no timestamp (Beast): NaN. AVR says it with the line's prefix instead, so
    there a counter of 0 is a time."""
    rel = ticks.astype(np.int64) - np.int64(origin)
    return np.where(ticks != 0 if timed is None else timed, start_s + rel / MLAT_HZ, np.nan)


def decode_timed(
    decoder: FrameDecoder,
    t: F64,
    frames: STR | BeastFrames,
    stats: ReadStats,
    batch_rows: int,
    where: str,
) -> Iterator[StateVectors]:
    """Decode frames (hex, or a Beast stream's bytes) in batches of at most `batch_rows`,
    counting frames without a usable time or with malformed hex as skipped."""
    for first in range(0, t.shape[0], batch_rows):
        part = slice(first, first + batch_rows)
        before = decoder.stats.malformed
        if isinstance(frames, BeastFrames):
            sv = decoder.decode_bytes(t[part], frames.payload[part], frames.size[part])
        else:
            sv = decoder.decode(t[part], frames[part])
        bad = decoder.stats.malformed - before
        stats.skip(bad, f"{where}: frames without an MLAT timestamp or with malformed hex")
        stats.rows_yielded += len(sv)
        if len(sv):
            yield sv


def block_bytes(batch_rows: int) -> int:
    """Bytes read per block: about `batch_rows` long frames, within sane bounds."""
    return int(min(64 << 20, max(64 << 10, batch_rows * 23)))


def read_beast_file(
    path: Path,
    batch_rows: int,
    stats: ReadStats,
    reference: tuple[float, float] | None = None,
    *,
    start_s: float = 0.0,
) -> Iterator[StateVectors]:
    """State vectors from a Beast recording (raw port 30005 output, optionally gzipped).

    Beast carries no wall-clock time, only the receiver's 12 MHz MLAT counter, whose origin is
    arbitrary. So time is `start_s` at the first timestamped frame plus counter ticks / 12e6
    since then; pass the time the recording started (UNIX seconds) to get real times. Frames
    with a zero counter (receivers without timestamps) have no time and are skipped. A counter
    that jumps back (the receiver restarted mid-recording) is not detected, and the Radarcape
    GPS timestamp format is not supported. Mode A/C frames carry no address and are read but
    not decoded; status messages and garbage are skipped.
    """
    decoder = FrameDecoder(reference)
    stats.decode = decoder.stats
    parser = BeastParser()
    origin: int | None = None
    offset = 0
    size = block_bytes(batch_rows)
    with open_binary(path) as stream:
        for block in iter(lambda: stream.read(size), b""):
            where = f"bytes {offset}-{offset + len(block)}"
            offset += len(block)
            resyncs = parser.stats.resyncs
            found = parser.feed(block)
            stats.skip(parser.stats.resyncs - resyncs, f"{where}: garbage skipped to resync")
            stats.rows_read += len(found)
            mode_s = found.take(found.msg_type != MODE_AC)
            timed = np.flatnonzero(mode_s.mlat_ticks)
            if origin is None and timed.shape[0]:
                origin = int(mode_s.mlat_ticks[timed[0]])
            t = ticks_seconds(mode_s.mlat_ticks, origin or 0, start_s)
            yield from decode_timed(decoder, t, mode_s, stats, batch_rows, where)
    lost = parser.close()
    if lost:
        stats.skip(1, f"byte {offset - lost}: message truncated by the end of the file")


_NIBBLE = np.zeros(128, np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
_TYPE_BY_DIGITS = {4: MODE_AC, 14: MODE_S_SHORT, 28: MODE_S_LONG}


def encode_beast(
    payloads: STR, ticks: U64, signal: U8, msg_type: U8 | None = None
) -> tuple[bytes, I64]:
    """A Beast stream, as a receiver sends it, and the byte offset where each message ends.

    `payloads` are hex (4, 14 or 28 digits); the message type follows from the length unless
    given (`STATUS` for 28-digit status messages). The parser's inverse, for the benchmarks and
    the tests: each message is laid out in a fixed row (esc, type, 6 counter bytes, signal,
    payload), then every 0x1a after the leading escape is doubled with one `np.repeat`.
    """
    text = np.asarray(payloads).astype("U28")
    n = text.shape[0]
    digits = np.strings.str_len(text)
    if not np.isin(digits, list(_TYPE_BY_DIGITS)).all():
        raise ValueError("Beast payloads must be 4, 14 or 28 hex digits")
    if msg_type is None:
        msg_type = np.select([digits == 4, digits == 14], [MODE_AC, MODE_S_SHORT], MODE_S_LONG)
    codes = np.ascontiguousarray(text).view(np.uint32).reshape(n, 28)
    nib = _NIBBLE[np.minimum(codes, 127)]
    size = digits // 2
    rows = np.zeros((n, 23), np.uint8)
    rows[:, 0] = ESC
    rows[:, 1] = np.asarray(msg_type, np.uint8) + ord("0")
    rows[:, 2:8] = np.asarray(ticks, ">u8").view(np.uint8).reshape(n, 8)[:, 2:]
    rows[:, 8] = signal
    rows[:, 9:] = (nib[:, 0::2] << 4) | nib[:, 1::2]
    present = np.arange(23)[None, :] < (9 + size)[:, None]
    doubled = (rows == ESC) & present
    doubled[:, 0] = False
    repeats = present.astype(np.int64) + doubled
    stream = np.repeat(rows.ravel(), repeats.ravel())
    return stream.tobytes(), np.cumsum(repeats.sum(axis=1))
