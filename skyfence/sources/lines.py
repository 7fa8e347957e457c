"""What the text receiver feeds share: AVR frames (`skyfence.sources.avr`, port 30002) and SBS
BaseStation messages (`skyfence.sources.sbs`, port 30003) both come as lines of text.

Both parsers work on a block of lines at once (Arrow's CSV reader and regex kernels, numpy
windows over the bytes), not with a Python loop per line: only SBS lines that are not 22-field
CSV (AIR, ID, STA, CLK bookkeeping, garbage) are looked at one by one. A line that is not usable
is counted with its reason.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from skyfence.arrays import BOOL
from skyfence.sources.base import ReadStats

Lines: TypeAlias = "bytes | bytearray | memoryview | Sequence[str]"  # a block, or lines

MAX_LINE_BYTES = 1 << 16  # a "line" longer than this is garbage (say, a binary file)


@dataclass(slots=True)
class LineStats:
    """What became of the lines of one block."""

    lines: int = 0  # lines that are not blank
    used: int = 0
    ignored: int = 0  # well formed but not wanted (SBS SEL, ID, AIR, STA, CLK lines)
    malformed: Counter[str] = field(default_factory=Counter)  # reason -> lines
    # reason -> its lines, by index in the block (from 0), when the parser knows them
    numbers: dict[str, list[int]] = field(default_factory=dict)

    def report(self, stats: ReadStats, where: str, first_line: int | None = None) -> None:
        """Add to a reader's counts: lines read, and malformed ones skipped with the reason.
        Given the block's `first_line` in its file, a reason whose lines are known names them
        (as OpenSky CSV rows are named): a user finds the bad line, not a block of thousands."""
        stats.rows_read += self.lines
        for reason, count in self.malformed.items():
            known = sorted(self.numbers.get(reason, ()))
            if first_line is None or len(known) != count:
                stats.skip(count, f"{where}: {reason}")
                continue
            shown = ", ".join(str(first_line + k) for k in known[:5]) + (
                ", ..." if count > 5 else ""
            )
            stats.skip(count, f"line{'s' if count > 1 else ''} {shown}: {reason}")


def lines_array(lines: Lines) -> pa.StringArray:
    """Lines as an Arrow string array, trimmed of surrounding whitespace and line ends.

    The bytes are wrapped without copying: the array's offsets are the line starts.
    """
    data = as_utf8(lines)
    nl = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n"))
    ends = nl + 1 if data.endswith(b"\n") else np.append(nl + 1, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int32)
    raw = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
    return pc.utf8_trim_whitespace(raw)


def as_utf8(lines: Lines) -> bytes:
    """Lines as UTF-8 bytes. Invalid bytes (noise on a serial line) are replaced, since Arrow's
    text kernels require UTF-8."""
    if not isinstance(lines, bytes | bytearray | memoryview):
        return "\n".join(lines).encode("utf-8", "replace")
    data = bytes(lines)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = data.decode("utf-8", "replace").encode("utf-8")
    return data


def count_malformed(
    stats: LineStats, rows: BOOL, reason: str, lines: npt.NDArray[np.int64] | None = None
) -> None:
    """Count the lines where `rows` is true as malformed, for `reason`; `lines`, when known,
    are the rows' indices in the block."""
    if rows.any():
        stats.malformed[reason] += int(rows.sum())
        if lines is not None:
            stats.numbers.setdefault(reason, []).extend(lines[rows].tolist())


def block_label(block: bytes, first_line: int) -> str:
    """ "lines a-b" for a block of complete lines whose first is `first_line`."""
    lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    return f"lines {first_line}-{first_line + lines - 1}"


_LONE_CR = re.compile(rb"\r(?!\n)")


def lf_line_ends(data: bytes) -> bytes:
    """`data` with each CR that ends a line alone (old Mac files) made an LF, as Python's
    universal newlines read it; CRLF is left as it is (the parsers drop its CR)."""
    if b"\r" not in data or _LONE_CR.search(data) is None:
        return data  # LF or CRLF: one scan, no copy (60 ms per 100 MB of CRLF, 5 of LF)
    return _LONE_CR.sub(b"\n", data)


def numbered_blocks(stream: io.BufferedIOBase, size: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of complete lines, each with the number of its first line (from 1). A line ends
    with LF, CRLF or CR alone: an SBS log with CR ends was one bad line per block."""
    carry, number = b"", 1
    while True:
        block = stream.read(size)
        buf = carry + block
        held = b""
        if block and buf.endswith(b"\r"):  # maybe a CRLF pair cut by the read: decided next
            buf, held = buf[:-1], b"\r"
        buf = lf_line_ends(buf)
        if not block:
            cut = len(buf)
        else:
            cut = buf.rfind(b"\n") + 1
            if cut == 0 and len(buf) > MAX_LINE_BYTES:
                cut = len(buf)  # no line end in sight: let the parser reject it
        if cut:
            yield buf[:cut], number
            number += buf.count(b"\n", 0, cut) + (0 if buf[:cut].endswith(b"\n") else 1)
        carry = buf[cut:] + held
        if not block:
            return
