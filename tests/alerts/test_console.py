"""The live console view, rendered from a real replay's picture."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from skyfence.alerts.console import render
from skyfence.store.events import EventStore


def test_the_view_shows_feeds_aircraft_and_recent_alerts(demo_store_path: Path) -> None:
    from skyfence.engine.events import Event

    with EventStore(demo_store_path) as store:
        aircraft, sources = store.aircraft(), store.sources()
        records = store.query(limit=10)
    recent = [
        Event(r.kind, r.zone_id, r.icao24, r.callsign, r.country, 0.0, 0, 0, None) for r in records
    ]
    console = Console(record=True, width=140)
    console.print(render(aircraft, sources, recent))
    text = console.export_text()
    assert "thy9bp_spoofing_2024-09-17.json.gz" in text and "af_cdg_tls" in text
    assert "1 aircraft: 1 normal" in text and "THY9BP" in text
    assert text.count("AFR34ZG 393322") == 6 and "suspect_position" in text


def test_control_characters_and_markup_from_the_air_are_shown_not_obeyed(
    demo_store_path: Path,
) -> None:
    """Issue 12: an ESC sequence in a callsign reached the terminal (it can clear the screen
    or erase earlier event lines); rich passes ESC through."""
    from skyfence.engine.events import Event

    with EventStore(demo_store_path) as store:
        aircraft = [{**a, "callsign": "\x1b[2J[red]X"} for a in store.aircraft()]
        records = store.query(limit=3)
    recent = [
        Event(r.kind, "Z\x1b[1A", r.icao24, "\x1b[2K\x07", r.country, 0.0, 0, 0, None)
        for r in records
    ]
    console = Console(record=True, width=140, force_terminal=True)
    console.print(render(aircraft, [], recent))
    text = console.export_text(styles=False)
    assert "\\x1b[2J[red]X" in text and "\\x1b[2K\\x07" in text and "Z\\x1b[1A" in text
    assert not {"\x1b", "\x07"} & set(text)
