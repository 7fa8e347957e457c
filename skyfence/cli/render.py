"""How events and summaries read on a terminal: one line per event and one that says why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from skyfence.cli.common import (
    console,
)
from skyfence.engine.events import EVENT_KINDS, Event, iso_time
from skyfence.kinds import KINDS
from skyfence.store.rows import EventFilter
from skyfence.wording import counted

if TYPE_CHECKING:
    from skyfence.auditing import AuditResult
    from skyfence.store.events import EventStore


def print_events(events: list[Event], total: int) -> None:
    """One line per event and one that says why: readable at any terminal width."""
    if not events:
        return
    shown = f" (first {len(events)} of {total:,})" if total > len(events) else ""
    console.print(f"[bold]Events{shown}[/]")
    for e in sorted(events, key=Event.sort_key):
        print_event(e)


def print_each(events: list[Event]) -> None:
    for e in events:
        print_event(e)


def print_event(e: Event) -> None:
    from skyfence.alerts.console import safe
    from skyfence.alerts.message import place

    d = e.to_dict()
    alt = "" if d["altitude_ft"] is None else f" {d['altitude_ft']} ft"
    who = f"{e.icao24} {e.callsign or '?'} ({e.country or '??'})"
    console.print(
        f"{d['time'].replace('T', ' ')[:-1]}  [{KINDS[e.kind].style}]{e.kind:<16}[/] "
        f"[bold]{safe(place(d))}[/]  {safe(who)}",
        highlight=False,
    )
    where = f"at {e.lat:.4f}, {e.lon:.4f}{alt}"
    console.print(f"    {where}: {safe(why(e))}", style="dim", highlight=False)


def why(e: Event) -> str:
    from skyfence.alerts.message import why

    return why(e.to_dict())


def print_summary(result: AuditResult) -> None:
    from rich.table import Table

    s = result.stats
    for path, fmt in result.formats.items():
        console.print(f"read {escape(path)} as {fmt}", highlight=False)
    span = (
        f" from {iso_time(result.first_s)} to {iso_time(result.last_s)}"
        if result.first_s <= result.last_s
        else ""
    )
    console.print(
        f"{counted(s.rows, 'state vector')} of {len(result.aircraft):,} aircraft{span}: "
        f"{counted(s.fixes, 'position fix', 'position fixes')}, {s.trusted:,} trusted, "
        f"[cyan]{s.suspect:,} quarantined[/] as suspect; {counted(result.events, 'event')}.",
        highlight=False,
    )
    for path, (n, problems) in result.skipped.items():
        console.print(f"[yellow]{escape(path)}: {n:,} malformed rows skipped[/]", highlight=False)
        for problem in problems:
            console.print(f"  [yellow]{escape(problem)}[/]", highlight=False)
    if not result.per_zone_kind:
        console.print("No events.")
        return
    table = Table(title="Events per zone and kind")
    table.add_column("zone")
    for kind in EVENT_KINDS:
        table.add_column(kind, justify="right")
    for zone in sorted({z for z, _ in result.per_zone_kind}):
        counts = [str(result.per_zone_kind.get((zone, k), "")) for k in EVENT_KINDS]
        table.add_row(zone or "(no zone: rules)", *counts)
    console.print(table)


def print_next_steps(event_store: EventStore, store_path: Path) -> None:
    """What a newcomer runs next, copied as is: with this store, and a real event of it."""
    import shlex

    store = shlex.quote(str(store_path))
    entries = event_store.query(EventFilter(kind="entry"), limit=1)
    example = entries[0]["id"] if entries else "EVENT_ID"
    console.print(
        "\nnext:\n"
        f"  skyfence report {example} --store {store}    # incident report of an entry\n"
        f"  skyfence report --since 2024-07-06 --store {store}    # summary of a period\n"
        f"  skyfence export events -o events.geojson --store {store}\n"
        f"  skyfence serve --store {store}    # the map and API",
        highlight=False,
        markup=False,
    )
