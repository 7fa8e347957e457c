"""Messages of real events: THY9BP's spoofed positions near Lviv, AFR34ZG's entries in France."""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path

import pytest

from skyfence.alerts.message import event_message, place, summary_message, why
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.kinds import KINDS
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.rows import event_row, stored_event
from skyfence.text import escape_controls, plain_ascii
from skyfence.zones.geojson import load_zones, zone_display_feature

SAMPLES = files("skyfence") / "samples"


def replay(name: str, zones: str) -> list[Event]:
    sv = StateVectors.concat(list(read_recording(Path(str(SAMPLES / name)))))
    engine = Engine(load_zones(zones))
    return engine.process(sv) + engine.finish()


@pytest.fixture(scope="module")
def spoofed() -> list[Event]:
    return replay("thy9bp_spoofing_2024-09-17.json.gz", "ukraine")


@pytest.fixture(scope="module")
def afr() -> list[Event]:
    return replay("af_cdg_tls_2024-07-06.jsonl.gz", "demo")


def test_a_spoofed_position_says_it_is_not_believed(spoofed: list[Event]) -> None:
    suspect = [e for e in spoofed if e.kind == "suspect_position"]
    assert suspect and not [e for e in spoofed if e.kind == "entry"]
    zones = {z.id: zone_display_feature(z)["properties"] for z in load_zones("ukraine")}
    for event in suspect:
        record = stored_event(event_row(event))
        text = event_message(record, zones[event.zone_id])
        reason = event.details["reason"]
        assert text.title == f"Suspect position: THY9BP - {event.zone_id}"
        assert text.severity == KINDS["suspect_position"].severity
        assert f"({zones[event.zone_id]['name']})" in text.body  # named by the zone
        assert f"Integrity: NOT believed: quarantined as {reason}; not an entry" in text.body
        assert f"Why: {why(record.kind, record.details)}" in text.body
        assert f"the position claims {', '.join(event.details['claimed_zones'])}" in text.body
        assert "Map:" not in text.body  # no public URL given


def test_a_hostile_callsign_stays_text(afr: list[Event]) -> None:
    hostile = "\x1b[2J[tap](https://evil.example)\u202e<b>"
    event = dataclasses.replace(afr[1], callsign=hostile)
    text = event_message(stored_event(event_row(event)), public_url="https://skyfence.example")
    shown = plain_ascii(hostile)
    assert shown in text.title and shown in text.body
    assert "\x1b" not in text.body + text.title and "\u202e" not in text.body + text.title
    assert all(escape_controls(line) == line for line in text.body.split("\n"))


def test_a_summary_counts_every_event_by_kind_and_zone(afr: list[Event]) -> None:
    records = [stored_event(event_row(e)) for e in afr]
    text = summary_message(records, "https://skyfence.example")
    head = text.body.split("\n")[0]
    assert head.startswith(f"{len(afr)} more events: ")
    for kind, zone in {(e.kind, e.zone_id) for e in afr}:
        n = sum(1 for e in afr if (e.kind, e.zone_id) == (kind, zone))
        assert f"{n} {KINDS[kind].label} {zone}" in head
    assert text.severity == "critical"  # the most severe of them
    assert all(e.id not in text.body for e in afr)  # listed by time, kind, zone and callsign
    assert text.body.count("AFR34ZG") == len(afr)


def test_a_rules_event_says_what_the_rule_saw_where_a_zone_would_be(
    rule_events: list[Event], afr: list[Event]
) -> None:
    """Rule events (no zone) showed an empty zone (a dash on the map); they say the rule."""
    squawk, watched = (stored_event(event_row(e)) for e in rule_events)
    assert squawk.zone_id == watched.zone_id == ""
    assert place(squawk.kind, squawk.zone_id, squawk.details) == "squawk 7700 (emergency)"
    assert place(watched.kind, watched.zone_id, watched.details) == "watch list (Airlines)"
    first = afr[0]  # a zone's event: its zone, as before
    assert place(first.kind, first.zone_id, first.details) == first.zone_id
    message = event_message(squawk)
    assert message.title.endswith(" - squawk 7700 (emergency)")
    assert message.body.startswith("Emergency squawk (critical): squawk 7700 (emergency)\n")
    summary = summary_message([squawk, watched])
    assert "1 emergency squawk squawk 7700 (emergency)" in summary.body
    assert "watched aircraft watch list (Airlines)" in summary.body


def test_the_console_shows_the_rule_of_a_rules_event(rule_events: list[Event]) -> None:
    from rich.console import Console

    from skyfence.alerts.console import render

    console = Console(record=True, width=140)
    console.print(render([], [], rule_events))
    text = console.export_text()
    assert "squawk 7700 (emergency)" in text and "watch list (Airlines)" in text
