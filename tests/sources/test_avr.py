"""AVR lines, built from real data: the frames of the dump1090 Beast capture."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from fakes import assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.schema import StateVectors
from skyfence.sources.avr import parse_avr, read_avr_file
from skyfence.sources.base import ReadStats
from skyfence.sources.beast import BeastFrames, BeastParser, read_beast_file

START_S = 1_700_000_000.0
RECEIVER = (43.6, 1.3)


@pytest.fixture(scope="module")
def beast_path(samples: Path) -> Path:
    return samples / "dump1090" / "sample_dump1090.bin"


@pytest.fixture(scope="module")
def beast(beast_path: Path) -> BeastFrames:
    return BeastParser().feed(beast_path.read_bytes())


def avr_lines(frames: BeastFrames, prefix: str) -> list[str]:
    """The frames as dump1090 writes them on its raw port (upper-case hex)."""
    out = []
    for hexa, ticks, signal in zip(
        frames.frame.tolist(), frames.mlat_ticks.tolist(), frames.signal.tolist(), strict=True
    ):
        head = {"*": "", ":": "", "@": f"{ticks:012X}", "%": f"{ticks:012X}"}.get(
            prefix, f"{ticks:012X}{signal:02X}"
        )
        out.append(f"{prefix}{head}{hexa.upper()};")
    return out


# -- AVR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["*", ":", "@", "%", "<"])
def test_avr_round_trip(beast: BeastFrames, prefix: str) -> None:
    lines = avr_lines(beast, prefix)
    frames, stats = parse_avr(lines)
    assert stats.lines == stats.used == 239 and not stats.malformed
    assert frames.frame.tolist() == beast.frame.tolist()
    timed = prefix in "@%<"
    assert frames.mlat_ticks.tolist() == (beast.mlat_ticks.tolist() if timed else [0] * 239)
    assert frames.signal.tolist() == (beast.signal.tolist() if prefix == "<" else [-1] * 239)
    # The same lines as bytes, with CRLF ends and stray blanks, as read from a socket.
    raw = "".join(f"  {line}\r\n" for line in lines).encode()
    from_bytes, byte_stats = parse_avr(raw)
    assert from_bytes.frame.tolist() == frames.frame.tolist()
    assert from_bytes.mlat_ticks.tolist() == frames.mlat_ticks.tolist()
    assert byte_stats.used == 239


def test_avr_malformed_lines_are_counted(beast: BeastFrames) -> None:
    good = avr_lines(beast, "@")[:3]
    lines = [
        *good,
        "",
        "*1234;",  # Mode A/C: valid
        good[0][:-1],  # no ';'
        "#" + good[0][1:],  # unknown prefix
        good[0][:-5] + "XY;",  # not hex
        good[0][:20] + ";",  # cut short
        "*" + "0" * 30 + ";",  # 30 digits
        "\x00\xff garbage",
    ]
    frames, stats = parse_avr(lines)
    assert frames.frame.tolist() == [*beast.frame[:3].tolist(), "1234"]
    assert stats.lines == len(lines) - 1 and stats.used == 4
    assert stats.malformed == {
        "AVR line without the closing ';'": 2,
        "AVR line with an unknown prefix (expected * : @ % <)": 1,
        "AVR line with non-hexadecimal characters": 1,
        "AVR frame not 4, 14 or 28 hex digits long": 2,
    }


def test_avr_invalid_utf8_is_malformed_not_fatal(beast: BeastFrames) -> None:
    data = b"\xff\xfe\x1a3\x00\n" + "\n".join(avr_lines(beast, "*")).encode()
    frames, stats = parse_avr(data)
    assert len(frames) == 239 and sum(stats.malformed.values()) == 1


@settings(max_examples=200, deadline=2000)
@given(st.lists(st.text(alphabet="*:@%<;0123456789abcdefABCDEFxyz \t\r", max_size=50)))
def test_avr_fuzz_every_line_accounted(lines: list[str]) -> None:
    frames, stats = parse_avr([line.replace("\r", "") for line in lines])
    assert stats.used == len(frames)
    assert stats.used + sum(stats.malformed.values()) == stats.lines


def test_read_avr_file_matches_beast(beast_path: Path, beast: BeastFrames, tmp_path: Path) -> None:
    """The same capture as '@' lines decodes to the same state vectors as the Beast file."""
    path = tmp_path / "capture.avr"
    path.write_text("\n".join(avr_lines(beast, "@")) + "\n")
    stats = ReadStats()
    got = StateVectors.concat(list(read_avr_file(path, 100_000, stats, RECEIVER, start_s=START_S)))
    expected = StateVectors.concat(
        list(read_beast_file(beast_path, 100_000, ReadStats(), RECEIVER, start_s=START_S))
    )
    assert len(got) == len(expected) > 0
    assert_same(got, expected)
    assert stats.rows_read == 239 and stats.rows_skipped == 0
    assert stats.rows_yielded == len(got)


def test_a_counter_of_zero_is_a_time_not_its_absence(beast: BeastFrames, tmp_path: Path) -> None:
    """The real capture as '@' lines, its counters shifted so that the first frame's reads
    exactly 0 (a receiver just started): that frame is read and timed like the others, and the
    state vectors are those of the unshifted capture. Only a line without a counter (`*`, `:`)
    has no time."""
    ticks = beast.mlat_ticks.astype(np.int64)
    assert ticks.min() == ticks[0] and len(beast.frame[0]) != 4  # a Mode S frame
    zeroed = BeastFrames(
        beast.payload, (ticks - ticks[0]).astype(np.uint64), beast.signal, beast.msg_type
    )
    runs = []
    for name, frames in (("capture.avr", beast), ("zeroed.avr", zeroed)):
        path = tmp_path / name
        path.write_text("\n".join(avr_lines(frames, "@")) + "\n")
        stats = ReadStats()
        runs.append(list(read_avr_file(path, 100_000, stats, RECEIVER, start_s=START_S)))
        assert stats.rows_skipped == 0, stats.problems
    assert_same(StateVectors.concat(runs[1]), StateVectors.concat(runs[0]))


def test_a_bad_avr_line_is_named_by_its_line(beast: BeastFrames, tmp_path: Path) -> None:
    """The real capture as '@' lines (CRLF, a blank line), two of them damaged: each problem
    names its line, as SBS and OpenSky CSV do, not the block's range."""
    lines = avr_lines(beast, "@")
    lines[9] = lines[9][:-1]  # line 10: its ';' lost
    lines.insert(99, "")  # line 100: blank, read as nothing
    lines[200] = "#" + lines[200][1:]  # line 201
    path = tmp_path / "capture.avr"
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    stats = ReadStats()
    list(read_avr_file(path, 100_000, stats, RECEIVER, start_s=START_S))
    assert stats.problems == [
        "line 10: AVR line without the closing ';'",
        "line 201: AVR line with an unknown prefix (expected * : @ % <)",
    ]


def test_a_capture_with_cr_line_ends_reads_as_with_lf(beast: BeastFrames, tmp_path: Path) -> None:
    """The real capture as '@' lines ended by CR alone (an old Mac's text file): the same state
    vectors as with LF, not one bad line."""
    runs = []
    for name, end in (("lf.avr", "\n"), ("cr.avr", "\r")):
        path = tmp_path / name
        path.write_bytes((end.join(avr_lines(beast, "@")) + end).encode())
        stats = ReadStats()
        runs.append(StateVectors.concat(list(read_avr_file(path, 100_000, stats, RECEIVER))))
        assert stats.rows_read == 239 and stats.rows_skipped == 0, stats.problems
    assert len(runs[0]) > 0
    assert_same(runs[1], runs[0])


def test_read_avr_file_without_timestamps(beast: BeastFrames, tmp_path: Path) -> None:
    """Plain '*' lines carry no time: counted as skipped, not given an invented one."""
    path = tmp_path / "plain.avr.gz"
    path.write_bytes(gzip.compress("\n".join(avr_lines(beast, "*")).encode()))
    stats = ReadStats()
    assert list(read_avr_file(path, 100_000, stats)) == []
    assert stats.rows_read == stats.rows_skipped == 239
    assert "without a timestamp" in stats.problems[0]


def test_receiver_files_are_found_from_content(
    beast_path: Path, beast: BeastFrames, tmp_path: Path
) -> None:
    """Beast, AVR and SBS files, whatever their names, are read by read_recording."""
    from skyfence.sources.recordings import detect_format, read_recording

    renamed = tmp_path / "capture.dat"
    renamed.write_bytes(beast_path.read_bytes())
    avr = tmp_path / "capture.txt"
    avr.write_text("\n".join(avr_lines(beast, "@")) + "\n")
    sbs = tmp_path / "feed.log"
    sbs.write_text(
        "MSG,3,1,1,4CA2D6,1,2024/07/06,08:00:00.000,2024/07/06,08:00:00.000,,35000,,,43.6,1.4,,,"
        "0,0,0,0\n"
    )
    assert [detect_format(p) for p in (renamed, avr, sbs)] == ["beast", "avr", "sbs"]
    start = 1_720_252_800.0  # 2024-07-06T08:00Z
    from_beast = StateVectors.concat(
        list(read_recording(renamed, reference=(43.63, 1.37), start_s=start))
    )
    from_avr = StateVectors.concat(
        list(read_recording(avr, reference=(43.63, 1.37), start_s=start))
    )
    assert len(from_beast) > 0 and from_beast.t_s.min() >= start
    assert_same(from_beast, from_avr)
    assert len(StateVectors.concat(list(read_recording(sbs)))) == 1
