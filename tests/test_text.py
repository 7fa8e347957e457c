"""Text from the air: escaped where it enters, and again for each output."""

from __future__ import annotations

import codecs

import numpy as np
import pytest

from skyfence.schema import StateVectors
from skyfence.text import csv_cell, escape_controls, html_text, plain_ascii

HOSTILE = ["\x1b[2J", "\x00", "\u202eEVIL", "A\\B", "DLH\u00e9", "\ud800", "\x9b2J", "\t\r\n"]


@pytest.mark.parametrize("text", HOSTILE)
def test_escapes_are_printable_and_undone_exactly(text: str) -> None:
    for escaped in (plain_ascii(text), escape_controls(text)):
        assert escaped.isprintable()
    assert plain_ascii(text).isascii()
    assert codecs.decode(plain_ascii(text), "unicode_escape") == text


def test_csv_cells_that_a_spreadsheet_would_run_are_prefixed() -> None:
    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tX", "AFR34ZG", "", 3.5, None]
    assert [csv_cell(c) for c in cells] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "\\tX", "AFR34ZG", "", 3.5, None,
    ]  # fmt: skip
    assert html_text("<b>\x1b") == "&lt;b&gt;\\x1b"


def test_identifiers_from_the_air_are_escaped_where_they_enter() -> None:
    sv = StateVectors.build(
        callsign=["AFR34ZG ", "=\x1b[2J\x00\x07", None, "\u202eEVIL12345"],
        squawk=["7700", "\x00\x01", "", "1"],
    )
    assert sv.callsign.tolist() == ["AFR34ZG", "=\\x1b[2J\\x00\\x07", "", "\\u202eEVIL123"]
    assert sv.squawk.tolist() == ["7700", "\\x00\\x01", "", "1"]
    assert StateVectors.build(callsign=["AFR34ZG"]).callsign.dtype == "U8"  # the common case


def test_identifiers_as_numpy_text_are_escaped_alike() -> None:
    """A decoder's fixed-width text takes a shortcut when it is plain: the same result as the
    same values given as Python strings, hostile ones (a NUL inside, blanks, controls) too."""
    values = ["AFR34ZG ", "=\x1b[2J\x00\x07", "", "AB\x00CD", "\u202eEVIL12345", "EZY12", "A\\B"]
    for name in ("callsign", "squawk"):
        for value in [*values, "7700"]:
            want = StateVectors.build(**{name: [value, "7700"]})
            got = StateVectors.build(**{name: np.array([value, "7700"])})
            assert getattr(got, name).tolist() == getattr(want, name).tolist(), value
    assert StateVectors.build(callsign=np.zeros(0, "U8")).callsign.dtype == "U8"
