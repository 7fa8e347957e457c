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
    from skyfence.audit_result import AuditResult
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
        f"[bold]{safe(place(e.kind, e.zone_id, e.details))}[/]  {safe(who)}",
        highlight=False,
    )
    where = f"at {e.lat:.4f}, {e.lon:.4f}{alt}"
    console.print(f"    {where}: {safe(why(e))}", style="dim", highlight=False)


def why(e: Event) -> str:
    from skyfence.alerts.message import why

    return why(e.kind, e.details)


def kinds_text(by_kind: dict[str, int]) -> str:
    """Events per kind, as the summaries of audit and watch say them."""
    return ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items())) or "none"


def print_summary(result: AuditResult) -> None:
    """What an audit read and found, the same lines whichever path ran it (files, a folder's
    workers, Spark)."""
    from rich.table import Table

    for path, fmt in result.formats.items():
        console.print(f"read {escape(path)} as {fmt}", highlight=False)
    span = (
        f" from {iso_time(result.first_s)} to {iso_time(result.last_s)}"
        if result.first_s <= result.last_s
        else ""
    )
    console.print(
        f"{counted(result.rows, 'state vector')} of {len(result.aircraft):,} aircraft{span} "
        f"in {counted(result.inputs, 'file')}: "
        f"{counted(result.fixes, 'position fix', 'position fixes')}, {result.trusted:,} trusted, "
        f"[cyan]{result.suspect:,} quarantined[/] as suspect; "
        f"{counted(result.events, 'event')} ({kinds_text(result.counts.by_kind)}).",
        highlight=False,
    )
    memory = "" if result.peak_rss_mb is None else f"; peak memory {result.peak_rss_mb:,.0f} MB"
    each = " per worker" if memory and result.path == "folder" else ""
    console.print(f"{result.seconds:,.1f} s, {escape(result.ran_on)}{memory}{each}.")
    for path, (n, problems) in result.skipped.items():
        console.print(f"[yellow]{escape(path)}: {n:,} malformed rows skipped[/]", highlight=False)
        for problem in problems:
            console.print(f"  [yellow]{escape(problem)}[/]", highlight=False)
    per_zone_kind = result.counts.per_zone_kind
    if not per_zone_kind:
        console.print("No events.")
        return
    table = Table(title="Events per zone and kind")
    table.add_column("zone")
    for kind in EVENT_KINDS:
        table.add_column(kind, justify="right")
    for zone in sorted({z for z, _ in per_zone_kind}):
        counts = [str(per_zone_kind.get((zone, k), "")) for k in EVENT_KINDS]
        table.add_row(zone or "(no zone: rules)", *counts)
    console.print(table)


def print_next_steps(event_store: EventStore, store_path: Path) -> None:
    """What a newcomer runs next, copied as is: with this store, and a real event of it."""
    import shlex

    store = shlex.quote(str(store_path))
    entries = event_store.query(EventFilter(kind="entry"), limit=1)
    example = entries[0].id if entries else "EVENT_ID"
    console.print(
        "\nnext:\n"
        f"  skyfence report {example} --store {store}    # incident report of an entry\n"
        f"  skyfence report --since 2024-07-06 --store {store}    # summary of a period\n"
        f"  skyfence export events -o events.geojson --store {store}\n"
        f"  skyfence serve --store {store}    # the map and API",
        highlight=False,
        markup=False,
    )
