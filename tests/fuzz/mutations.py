"""Hypothesis strategies that damage real inputs the way wires, disks and people do."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

from hypothesis import strategies as st

NASTY = [
    b"\x1a", b"\x1a\x1a", b"\x1a1", b"\x1a3", b"\x00", b"\xff", b"\n", b"\r\n", b",", b";",
    b"*", b"@", b"{", b"}", b"[", b'"', b"NaN", b"1e999", b"-0", b"\xc3", b"9" * 40,
    b"\x1b[2J", b"=1+1", b"\xe2\x80\xae", b"\\", b"\x07",
    b"99999999999", b"4102444800", b"0,", b"5138/11/16", b"\xff\xfe",  # absurd times, not UTF-8
]  # fmt: skip


def _edges() -> list[int]:
    """Integers at the limits of the machine types that parsers and SQLite convert into."""
    bounds = [2**b for b in (7, 8, 15, 16, 31, 32, 53, 63, 64, 128)]
    return sorted({s * (b + d) for b in bounds for d in (-1, 0, 1) for s in (1, -1)})


EXTREME_NUMBERS = (
    st.sampled_from(_edges()).map(str)
    | st.integers().map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.sampled_from(["inf", "-inf", "nan", "NaN", "Infinity", "1e309", "-1e309", "1e-400",
                       "9" * 400, "-" + "9" * 400, "0x10", "1_000", "+1", " 1", "1.0", "-0"])
)  # fmt: skip
"""Numbers a field may be given that its type cannot hold: integer extremes, huge and negative
values, NaN and infinities, spellings some parsers accept."""

OVERLONG = st.integers(1_000, 8_000).map(lambda n: "9" * n) | st.text(min_size=1000, max_size=5000)
"""Strings far longer than any field needs (under the 64 KiB a URL may have)."""


@st.composite
def damaged(draw: st.DrawFn, seed: bytes, max_edits: int = 8) -> bytes:
    """The seed with a few edits: bit flips, cuts, duplicated or deleted stretches, and
    insertions of bytes that mean something to some parser."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, max_edits))):
        if not data:
            data += draw(st.binary(max_size=64))
            continue
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["flip", "cut", "dup", "drop", "nasty", "random"]))
        if edit == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "cut":
            del data[at:]
        elif edit == "dup":
            stretch = data[at : at + draw(st.integers(1, 200))]
            data[at:at] = stretch * draw(st.integers(1, 3))
        elif edit == "drop":
            del data[at : at + draw(st.integers(1, 50))]
        elif edit == "nasty":
            data[at:at] = draw(st.sampled_from(NASTY))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
    return bytes(data)


def chunks(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """The same bytes cut anywhere, as reads from a socket arrive."""
    return st.lists(st.integers(0, len(data)), max_size=12).map(
        lambda cuts: [data[a:b] for a, b in _pairs(sorted({0, len(data), *cuts}))]
    )


def _pairs(points: list[int]) -> list[tuple[int, int]]:
    return list(itertools.pairwise(points))


def traffic_samples() -> Path:
    """The real recordings of the `traffic` package (a test dependency), found without
    importing it."""
    spec = importlib.util.find_spec("traffic")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "samples"
