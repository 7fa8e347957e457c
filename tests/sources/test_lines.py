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
