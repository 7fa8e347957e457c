"""Line handling shared by the AVR and SBS feeds (see test_avr.py and test_sbs.py)."""

from __future__ import annotations

from pathlib import Path

from skyfence.sources.lines import block_label, numbered_blocks


def test_line_blocks(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_bytes(b"a\r\nbb\n" * 1000 + b"last")
    with path.open("rb") as f:
        blocks = [(b, block_label(b, first)) for b, first in numbered_blocks(f, 100)]
    assert b"".join(b for b, _ in blocks) == path.read_bytes()
    assert all(b.endswith(b"\n") for b, _ in blocks[:-1])
    assert blocks[0][1] == "lines 1-33" and blocks[-1][1].endswith("-2001")


def test_cr_ends_lines_as_lf_does_and_a_crlf_cut_between_reads_ends_one(tmp_path: Path) -> None:
    """Old Mac files end lines with CR alone; a CRLF pair cut between two reads is one line end,
    not a line and a blank one (the line numbers after it would be one off)."""
    path = tmp_path / "lines.txt"
    path.write_bytes(b"a\rbb\r\nccc\n" * 1000 + b"last\r")
    for size in (99, 100, 101):  # cuts fall between CR and LF for some of them
        with path.open("rb") as f:
            blocks = list(numbered_blocks(f, size))
        text = b"".join(b for b, _ in blocks)
        assert text.replace(b"\r\n", b"\n").split(b"\n") == [b"a", b"bb", b"ccc"] * 1000 + [
            b"last",
            b"",
        ]
        assert [first for _, first in blocks] == [1] + [
            1 + sum(b.count(b"\n") for b, _ in blocks[:k]) for k in range(1, len(blocks))
        ]
        assert all(b.endswith(b"\n") for b, _ in blocks)
