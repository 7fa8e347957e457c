"""`skyfence report` and `skyfence export`: what a store holds, as pages and files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from skyfence.cli.common import (
    StoreOption,
    console,
    fail,
    icao24_or_fail,
    open_store,
    time_or_fail,
    window_or_fail,
)
from skyfence.engine.events import EVENT_KINDS, iso_time
from skyfence.store.rows import EventFilter
from skyfence.wording import counted

if TYPE_CHECKING:
    from skyfence.store.events import EventStore


def report(
    event_id: Annotated[
        str | None, typer.Argument(help="The event to explain; without it, a summary.")
    ] = None,
    store: StoreOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The HTML file.")] = None,
    since: Annotated[str | None, typer.Option(help="Summary from (UTC, ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Summary until (UTC, ISO 8601).")] = None,
    pdf: Annotated[
        bool, typer.Option(metavar="", help="Also print it to PDF (needs chromium).")
    ] = False,
) -> None:
    """Report one event, or summarise a period.

    Without EVENT_ID: a summary of --since/--until (default: the last 24 hours of events in the
    store).
    """
    from skyfence.reporting.daily import summary_report
    from skyfence.reporting.incident import html_to_pdf, incident_report

    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        # `-o events.sqlite` wrote the page over the event store itself
        raise fail(f"-o {out}: a report is an HTML file: give a name ending in .html")
    with open_store(store) as event_store:
        if event_id is not None:
            try:
                page = incident_report(event_store, event_id)
            except LookupError as exc:
                raise fail(str(exc)) from None
            target = out or Path(f"report-{event_id}.html")
        else:
            last = event_store.query(limit=1, newest_first=True)
            end = time_or_fail(until, "--until")
            if end is None:
                end = last[0].t_s + 1 if last else time.time()
            start = time_or_fail(since, "--since")
            came_from = ", the time of the store's last event" if last else ", now"
            window_or_fail(start, end, "" if until is not None else came_from)
            start = end - 86_400 if start is None else start
            page = summary_report(event_store, start, end)
            target = out or Path(f"summary-{iso_time(start)[:10]}.html")
    target.write_text(page, encoding="utf-8")
    console.print(f"report written to {escape(str(target))}")
    if pdf:
        try:
            html_to_pdf(target, target.with_suffix(".pdf"))
        except RuntimeError as exc:
            raise fail(str(exc)) from None
        console.print(f"and to {escape(str(target.with_suffix('.pdf')))}")


def export(
    what: Annotated[str, typer.Argument(help="events, or track (of --icao24).")],
    out: Annotated[Path, typer.Option("--out", "-o", help=".geojson, .kml or .csv")],
    store: StoreOption = None,
    since: Annotated[str | None, typer.Option(help="From (UTC, ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Until (UTC, ISO 8601).")] = None,
    zone: Annotated[str | None, typer.Option(help="Events of this zone only.")] = None,
    kind: Annotated[str | None, typer.Option(help="Events of this kind only.")] = None,
    icao24: Annotated[str | None, typer.Option(help="This aircraft only (hex address).")] = None,
) -> None:
    """Export events or a track as GeoJSON, KML or CSV."""
    from skyfence.reporting import exports

    if what not in ("events", "track"):
        raise fail(f"export what? {what!r}: give events or track")
    try:
        fmt = exports.export_format(out)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if kind is not None and kind not in EVENT_KINDS:
        raise fail(f"--kind must be one of {', '.join(EVENT_KINDS)}")
    start, end = time_or_fail(since, "--since"), time_or_fail(until, "--until")
    window_or_fail(start, end)
    address = icao24_or_fail(icao24)
    with open_store(store) as event_store:
        if what == "events":
            zone = None if zone is None else _zone_id(event_store, zone)
            which = EventFilter(start, end, zone, kind, address)
            total = event_store.count(which)
            events = event_store.query(which, limit=max(total, 1))
            zones = exports.event_zones(event_store, events) if fmt == "kml" else []
            text = exports.render_events(fmt, events, "skyfence events", zones)
            noun = counted(len(events), "event")
        else:
            if address is None:
                raise fail("export track needs --icao24")
            records = event_store.positions(address, start or 0.0, end or 4e9, limit=10**7)
            zones = []
            if fmt == "kml" and records:
                span = EventFilter(
                    records[0]["time_s"], records[-1]["time_s"] + 1e-3, icao24=address
                )
                around = event_store.query(span, limit=1000)
                zones = exports.event_zones(event_store, around)
            text = exports.render_track(fmt, records, f"track of {address}", zones)
            noun = counted(len(records), "fix", "fixes")
    out.write_text(text, encoding="utf-8")
    console.print(f"{noun} written to {out}")


def _zone_id(event_store: EventStore, text: str) -> str:
    """The store's zone id that `text` names, in any case (as `zones show` reads them): an id
    the store does not know is refused, not answered with an empty export."""
    from skyfence.store.zone_ids import no_such_zone, zone_named

    known = event_store.zone_ids()
    zone = zone_named(known, text)
    if zone is None:
        raise fail(f"--zone {text}: {no_such_zone(known)}")
    return zone
