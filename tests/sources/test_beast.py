"""Beast framing on the real dump1090 capture shipped with `traffic`, checked against two
independent parsers (traffic's own and a byte-by-byte one written here), and fuzzed."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest
import rs1090
from fakes import assert_same
from hypothesis import given, settings
from hypothesis import strategies as st
from pyModeS.util import crc
from traffic.data.adsb.decode import next_beast_msg

from skyfence.decoding.frames import decode_frames
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats
from skyfence.sources.beast import (
    MODE_S_LONG,
    MODE_S_SHORT,
    BeastFrames,
    BeastParser,
    encode_beast,
    read_beast_file,
)

ESC = 0x1A
BODY = {0x31: 9, 0x32: 14, 0x33: 21, 0x34: 21}
START_S = 1_700_000_000.0


@pytest.fixture(scope="module")
def sample_path(samples: Path) -> Path:
    return samples / "dump1090" / "sample_dump1090.bin"


@pytest.fixture(scope="module")
def sample(sample_path: Path) -> bytes:
    return sample_path.read_bytes()


@pytest.fixture(scope="module")
def parsed(sample: bytes) -> BeastFrames:
    return BeastParser().feed(sample)


# -- independent references -------------------------------------------------------------------


class Reference:
    """The obvious sequential parser: scan, unescape, and restart at any start found inside a
    message. Slow, but a different algorithm from the run-parity one under test."""

    def __init__(self, data: bytes) -> None:
        self.frames: list[tuple[int, int, int, str]] = []
        self.skipped = self.status = self.resyncs = self.pending = 0
        self._skipping = False
        i, n = 0, len(data)
        while i < n:
            if data[i] != ESC:
                self._skip(1)
                i += 1
                continue
            if i + 1 >= n:
                self.pending = n - i
                return
            kind = data[i + 1]
            if kind == ESC or kind not in BODY:
                self._skip(2)
                i += 2
                continue
            j, body = i + 2, bytearray()
            while len(body) < BODY[kind]:
                if j >= n or (data[j] == ESC and j + 1 >= n):
                    self.pending = n - i
                    return
                if data[j] == ESC and data[j + 1] != ESC:
                    break  # another message starts here: this one is broken
                body.append(data[j])
                j += 2 if data[j] == ESC else 1
            if len(body) < BODY[kind]:
                self._skip(j - i)
            elif kind == 0x34:
                self.status += j - i
                self._skipping = False
            else:
                ticks = int.from_bytes(body[:6], "big")
                self.frames.append((kind - 0x30, ticks, body[6], body[7:].hex()))
                self._skipping = False
            i = j

    def _skip(self, count: int) -> None:
        self.skipped += count
        if not self._skipping:
            self.resyncs += 1
        self._skipping = True


def as_tuples(frames: BeastFrames) -> list[tuple[int, int, int, str]]:
    return list(
        zip(
            frames.msg_type.tolist(),
            frames.mlat_ticks.tolist(),
            frames.signal.tolist(),
            frames.frame.tolist(),
            strict=True,
        )
    )


def encode(kind: int, ticks: int, signal: int, payload: bytes) -> bytes:
    """One Beast message, escaped as a receiver sends it (the package's encoder)."""
    data, _ = encode_beast(
        np.array([payload.hex()]),
        np.array([ticks], np.uint64),
        np.array([signal], np.uint8),
        np.array([kind - ord("0")], np.uint8),
    )
    return data


def feed_in_chunks(data: bytes, sizes: list[int]) -> tuple[BeastFrames, BeastParser]:
    parser, parts, i, k = BeastParser(), [], 0, 0
    while i < len(data):
        size = sizes[k % len(sizes)]
        parts.append(parser.feed(data[i : i + size]))
        i, k = i + size, k + 1
    return BeastFrames.concat(parts), parser


def assert_accounted(parser: BeastParser) -> None:
    s = parser.stats
    assert s.bytes_fed == s.frame_bytes + s.status_bytes + s.skipped_bytes + parser.pending


# -- the real sample ----------------------------------------------------------------------------


def test_sample_frames(sample: bytes, parsed: BeastFrames) -> None:
    parser = BeastParser()
    frames = parser.feed(sample)
    assert len(frames) == 239
    assert (frames.msg_type == MODE_S_SHORT).sum() == 185
    assert (frames.msg_type == MODE_S_LONG).sum() == 54
    assert parser.stats.frame_bytes == len(sample)  # a clean capture: no byte skipped
    assert parser.stats.skipped_bytes == parser.pending == parser.stats.resyncs == 0
    assert np.char.str_len(frames.frame[frames.msg_type == MODE_S_SHORT]).tolist() == [14] * 185
    assert np.char.str_len(frames.frame[frames.msg_type == MODE_S_LONG]).tolist() == [28] * 54
    assert (np.diff(frames.mlat_ticks.astype(np.int64)) > 0).all()  # a steady 12 MHz clock


def test_sample_matches_traffic_parser(sample: bytes, parsed: BeastFrames) -> None:
    theirs = [m.hex() for m in next_beast_msg([sample])]
    assert as_tuples(parsed) == [
        (int(m[2:4], 16) - 0x30, int(m[4:16], 16), int(m[16:18], 16), m[18:]) for m in theirs
    ]


def test_sample_matches_reference(sample: bytes, parsed: BeastFrames) -> None:
    assert as_tuples(parsed) == Reference(sample).frames


def test_sample_has_escapes(sample: bytes, parsed: BeastFrames) -> None:
    """The capture itself holds escaped 0x1a bytes, in counters and in frames."""
    assert b"\x1a\x1a" in sample
    assert any("1a" in f"{t:012x}" for t in parsed.mlat_ticks.tolist())


def test_crc_valid_adsb_frames_decode(parsed: BeastFrames) -> None:
    df17 = [f for f in parsed.frame.tolist() if len(f) == 28 and int(f[:2], 16) >> 3 == 17]
    valid = [f for f in df17 if crc(f) == 0]
    assert len(valid) >= 20 and len(valid) == len(df17)
    for frame in valid:
        message = rs1090.decode(frame)
        assert message["df"] == "17"
        assert message["icao24"] == frame[2:8]


@pytest.mark.parametrize("seed", range(5))
def test_random_chunks_give_the_same_frames(sample: bytes, parsed: BeastFrames, seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 64) for _ in range(200)]
    frames, parser = feed_in_chunks(sample, sizes)
    assert as_tuples(frames) == as_tuples(parsed)
    assert parser.stats.frame_bytes == len(sample)


def test_one_byte_at_a_time(sample: bytes, parsed: BeastFrames) -> None:
    frames, parser = feed_in_chunks(sample, [1])
    assert as_tuples(frames) == as_tuples(parsed)
    assert parser.pending == 0
    assert_accounted(parser)


# -- escapes, garbage, other message types -------------------------------------------------------


def test_escaped_bytes_everywhere(parsed: BeastFrames) -> None:
    """Real frames re-sent with 0x1a in the counter and as the signal level."""
    real = parsed.take(np.flatnonzero(parsed.msg_type == MODE_S_LONG)[:10])
    stream = b"".join(
        encode(0x33, 0x1A1A001A0000 + i, ESC, bytes.fromhex(f))
        for i, f in enumerate(real.frame.tolist())
    )
    got = BeastParser().feed(stream)
    assert got.frame.tolist() == real.frame.tolist()
    assert got.mlat_ticks.tolist() == [0x1A1A001A0000 + i for i in range(10)]
    assert got.signal.tolist() == [ESC] * 10


def test_escaped_start_in_payload_is_not_a_start(parsed: BeastFrames) -> None:
    """A payload holding 0x1a '3' is sent as 0x1a 0x1a '3': data, not a message start."""
    payload = bytes.fromhex(parsed.frame[parsed.msg_type == MODE_S_LONG][0])
    payload = payload[:5] + b"\x1a\x33" + payload[7:]
    message = encode(0x33, 7, 9, payload)
    assert b"\x1a\x1a\x33" in message
    got = BeastParser().feed(message * 3)
    assert got.frame.tolist() == [payload.hex()] * 3


def test_resynchronises_after_garbage(sample: bytes, parsed: BeastFrames) -> None:
    messages = [
        encode(0x30 + int(k), int(t), int(s), bytes.fromhex(f))
        for k, t, s, f in zip(
            parsed.msg_type, parsed.mlat_ticks, parsed.signal, parsed.frame, strict=True
        )
    ]
    garbage = [b"\x00\xff\x31", b"hello", b"\x1a\x1a\x33\x1a\x1a"]  # no start among them
    stream = b""
    for i, message in enumerate(messages):
        stream += message + (garbage[i % 3] if i % 10 == 0 else b"")
    parser = BeastParser()
    got = parser.feed(stream)
    assert as_tuples(got) == as_tuples(parsed)
    n_garbage = len(range(0, len(messages), 10))
    assert parser.stats.resyncs == n_garbage
    assert parser.stats.skipped_bytes == sum(len(garbage[i % 3]) for i in range(0, 239, 10))


def test_broken_message_is_dropped(parsed: BeastFrames) -> None:
    """A message cut short (bytes lost on the link) is dropped; the next one is kept."""
    frames = parsed.frame[parsed.msg_type == MODE_S_LONG][:3].tolist()
    first, second, third = (encode(0x33, 1 + i, 2, bytes.fromhex(f)) for i, f in enumerate(frames))
    parser = BeastParser()
    got = parser.feed(first + second[:12] + third)
    assert got.frame.tolist() == [frames[0], frames[2]]
    assert parser.stats.interrupted == 1
    assert parser.stats.skipped_bytes == 12
    assert_accounted(parser)


def test_status_and_unknown_messages_are_skipped(parsed: BeastFrames) -> None:
    frame = parsed.frame[parsed.msg_type == MODE_S_SHORT][0]
    ok = encode(0x32, 5, 6, bytes.fromhex(frame))
    status = encode(0x34, 5, 0, bytes(range(14)))
    unknown = b"\x1a\xe3" + bytes(8)  # readsb's receiver id message: not Beast proper
    parser = BeastParser()
    got = parser.feed(ok + status + ok + unknown + ok)
    assert got.frame.tolist() == [frame] * 3
    assert parser.stats.status_messages == 1
    assert parser.stats.status_bytes == len(status)
    assert parser.stats.unknown_types == 1
    assert parser.stats.skipped_bytes == len(unknown)
    assert_accounted(parser)


def test_mode_ac(parsed: BeastFrames) -> None:
    got = BeastParser().feed(encode(0x31, 99, 3, b"\x12\x34"))
    assert got.frame.tolist() == ["1234"]
    assert got.mlat_ticks.tolist() == [99]


def test_truncated_tail_waits_then_is_skipped_on_close(sample: bytes) -> None:
    parser = BeastParser()
    got = parser.feed(sample[:-5])
    assert len(got) == 238
    assert parser.pending > 0
    assert_accounted(parser)
    lost = parser.close()
    assert lost > 0 and parser.pending == 0
    assert parser.stats.skipped_bytes == lost and parser.stats.resyncs == 1
    assert_accounted(parser)


def test_empty_feed() -> None:
    parser = BeastParser()
    assert len(parser.feed(b"")) == 0
    assert len(parser.feed(b"\x1a")) == 0
    assert parser.pending == 1


# -- fuzzing ---------------------------------------------------------------------------------


def check_against_reference(data: bytes, sizes: list[int]) -> None:
    whole = BeastParser()
    got = whole.feed(data)
    ref = Reference(data)
    assert as_tuples(got) == ref.frames
    assert whole.stats.skipped_bytes == ref.skipped
    assert whole.stats.status_bytes == ref.status
    assert whole.stats.resyncs == ref.resyncs
    assert whole.pending == ref.pending
    assert_accounted(whole)
    chunked, parser = feed_in_chunks(data, sizes)
    assert as_tuples(chunked) == ref.frames
    assert parser.stats == whole.stats
    assert parser.pending == whole.pending


@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=600), st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_fuzz_random_bytes(data: bytes, sizes: list[int]) -> None:
    check_against_reference(data, sizes)


# Random bytes rarely look like Beast; these are made of the bytes that matter.
_PIECES = st.one_of(
    st.sampled_from([b"\x1a", b"\x1a\x1a", b"\x1a1", b"\x1a2", b"\x1a3", b"\x1a4", b"\x1a\xe3"]),
    st.binary(min_size=1, max_size=25),
    st.builds(
        encode,
        st.sampled_from([0x31, 0x32, 0x33, 0x34]),
        st.integers(0, 2**48 - 1),
        st.integers(0, 255),
        st.binary(min_size=14, max_size=14),
    ),
)


@settings(max_examples=300, deadline=2000)
@given(st.lists(_PIECES, max_size=40), st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_fuzz_beast_like_streams(pieces: list[bytes], sizes: list[int]) -> None:
    check_against_reference(b"".join(pieces), sizes)


def test_large_garbage_is_fast() -> None:
    """No pathological case: a megabyte of escape bytes and fake starts goes through at once."""
    rng = np.random.default_rng(1)
    data = rng.choice(np.frombuffer(b"\x1a\x1a\x1a123", np.uint8), size=1 << 20).tobytes()
    parser = BeastParser()
    parser.feed(data)
    parser.close()
    assert_accounted(parser)


# -- the file reader ---------------------------------------------------------------------------


def test_read_beast_file(sample_path: Path, parsed: BeastFrames) -> None:
    stats = ReadStats()
    sv = StateVectors.concat(list(read_beast_file(sample_path, 100_000, stats, start_s=START_S)))
    assert stats.rows_read == 239 and stats.rows_skipped == 0
    assert stats.decode is not None and stats.decode.frames == 239
    assert stats.rows_yielded == len(sv) > 0
    # Same as decoding the frames directly, with times from the counter.
    t = START_S + (parsed.mlat_ticks.astype(np.int64) - int(parsed.mlat_ticks[0])) / 12e6
    expected = decode_frames(t, parsed.frame)
    assert_same(sv, expected)
    # A real capture, near Toulouse, 24 s long.
    assert np.all(np.abs(sv.lat_deg - 43.65) < 0.1) and np.all(np.abs(sv.lon_deg - 1.23) < 0.1)
    assert sv.t_s.min() >= START_S and sv.t_s.max() <= START_S + 24.0
    assert {f"{a:06x}" for a in sv.icao24.tolist()} == {"48520a"}


def test_read_beast_file_small_batches_and_gzip(sample_path: Path, tmp_path: Path) -> None:
    """Batches of 3 frames never hold an even/odd CPR pair: with the receiver position as a
    reference, every position is still recovered, and the result does not depend on batching."""
    receiver = (43.6, 1.3)
    whole = StateVectors.concat(list(read_beast_file(sample_path, 100_000, ReadStats(), receiver)))
    packed = tmp_path / "capture.bin.gz"
    packed.write_bytes(gzip.compress(sample_path.read_bytes()))
    stats = ReadStats()
    batches = list(read_beast_file(packed, 3, stats, receiver))
    assert all(len(b) <= 3 for b in batches)
    assert_same(StateVectors.concat(batches), whole)


def test_read_beast_file_counts_damage(sample: bytes, parsed: BeastFrames, tmp_path: Path) -> None:
    """Garbage, a truncated end and frames without a timestamp are counted, not fatal."""
    path = tmp_path / "damaged.bin"
    untimed = encode(0x33, 0, 0, bytes.fromhex(parsed.frame[parsed.msg_type == MODE_S_LONG][0]))
    # Byte 2000 is inside a message: its two halves are lost, on both sides of the insert.
    path.write_bytes(b"junk" + sample[:2000] + untimed + b"\x00" * 7 + sample[2000:-3])
    stats = ReadStats()
    sv = StateVectors.concat(list(read_beast_file(path, 100_000, stats)))
    assert len(sv) > 0
    assert stats.rows_read == 239 - 2 + 1  # the cut and the truncated messages; the untimed one
    # junk, first half, zeros with the second half (3 resyncs), the untimed frame, the end
    assert stats.rows_skipped == 5
    assert any("garbage skipped to resync (3 rows)" in p for p in stats.problems)
    assert any("truncated" in p for p in stats.problems)
    assert any("without an MLAT timestamp" in p for p in stats.problems)


def test_encoder_gives_back_the_real_capture(samples: Path) -> None:
    """The encoder shared by the tests and the benchmarks is the parser's exact inverse on a
    real receiver's bytes (escaped 0x1a in counters, signals and frames included)."""
    data = (samples / "dump1090" / "sample_dump1090.bin").read_bytes()
    found = BeastParser().feed(data)
    encoded, ends = encode_beast(found.frame, found.mlat_ticks, found.signal, found.msg_type)
    assert encoded == data
    assert ends[-1] == len(data)
