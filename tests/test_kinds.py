"""The kinds' table is the one place a kind is described: every kind has an entry, and the
terminal views of `audit` and `watch` and the report figures draw a kind in its table colour."""

from __future__ import annotations

import re
from typing import get_args

import pytest
from rich.console import Console
from rich.text import Text

import skyfence.cli.render
from skyfence.alerts.console import render
from skyfence.engine.events import EVENT_KINDS, Event, EventKind
from skyfence.kinds import KINDS, kinds_table
from skyfence.reporting.figures import EVENT_STYLE


def test_every_kind_of_the_literal_has_one_table_entry() -> None:
    assert list(KINDS) == list(get_args(EventKind)) == list(EVENT_KINDS)
    for kind, info in KINDS.items():
        assert re.fullmatch(r"#[0-9a-f]{6}", info.colour), kind
        assert info.severity in ("info", "warning", "critical")
        assert info.label and info.explanation, kind
    assert len({info.colour for info in KINDS.values()}) == len(KINDS)  # told apart on the map
    assert set(kinds_table()) == set(KINDS)


def _ansi_rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"38;2;{r};{g};{b}"


def _terminal() -> Console:
    return Console(force_terminal=True, color_system="truecolor", width=160)


def _colour_code(console: Console, kind: EventKind) -> str:
    """The SGR codes the console gives the kind's table style. rich caches a style's codes
    on the style for the colour system of the first console that printed it, so an earlier
    test's 256-colour console can decide them: ask the same console, never assume truecolor."""
    with console.capture() as sample:
        console.print(Text("x", style=KINDS[kind].style))
    found = re.search(r"\x1b\[([0-9;]+)m", sample.get())
    assert found is not None, sample.get()
    return found.group(1)


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_audit_and_watch_print_a_kind_in_the_same_colour(
    kind: EventKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    details = {  # what the engine puts in each kind's details, as `_why` reads it
        "seconds_to_entry": 40,
        "crossing": "lateral",
        "last_seen": "2023-11-14T22:12:20.000Z",
        "reason": "low_integrity",
    }
    event = Event(kind, "UKBV", "4ca7b4", "RYR1AB", "Ireland", 1.7e9, 50.4, 30.5, 35000.0, details)
    watch = _terminal()
    with watch.capture() as shown:
        watch.print(render([], [], [event]))
    audit = _terminal()
    monkeypatch.setattr(skyfence.cli.render, "console", audit)
    with audit.capture() as printed:
        skyfence.cli.render.print_event(event)
    codes = _colour_code(audit, kind)
    assert f"\x1b[{codes}m" in shown.get()
    assert f"\x1b[{codes}m" in printed.get()
    assert codes.startswith("1;") == (KINDS[kind].severity == "critical")
    if "38;2;" in codes:  # as a truecolor console gives it: exactly the table's colour
        assert codes.endswith(_ansi_rgb(KINDS[kind].colour))


def test_report_figures_draw_kinds_in_the_table_colours() -> None:
    assert {kind: colour for kind, (_, colour) in EVENT_STYLE.items()} == {
        kind: info.colour for kind, info in KINDS.items()
    }
