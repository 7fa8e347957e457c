"""A period at a glance: how many events, where, of which kind, and which aircraft."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version

from skyfence.engine.events import EVENT_KINDS, iso_time
from skyfence.reporting.figures import events_per_hour, time_bin
from skyfence.reporting.incident import PAGE_STYLE, embed_png
from skyfence.store.events import EventStore
from skyfence.store.rows import EventFilter
from skyfence.text import html_text
from skyfence.wording import counted

MAX_LISTED = 2000


def summary_report(store: EventStore, since: float, until: float) -> str:
    total = store.count(EventFilter(since, until))
    records = store.query(EventFilter(since, until), limit=max(total, 1))
    per_zone: Counter[tuple[str, str]] = Counter((r.zone_id, r.kind) for r in records)
    zones = sorted({z for z, _ in per_zone})
    head = "<tr><th>zone</th>" + "".join(f"<th>{k}</th>" for k in EVENT_KINDS) + "</tr>"
    body = "".join(
        f"<tr><th>{html_text(z)}</th>"
        + "".join(f"<td>{per_zone[(z, k)] or ''}</td>" for k in EVENT_KINDS)
        + "</tr>"
        for z in zones
    )
    aircraft = Counter((r.icao24, r.callsign, r.country) for r in records)
    planes = "".join(
        f"<tr><td>{a}</td><td>{html_text(c or '-')}</td><td>{country or '?'}</td><td>{n}</td></tr>"
        for (a, c, country), n in aircraft.most_common()
    )
    listed = "".join(
        f"<tr><td>{r.time_iso}</td><td>{r.kind}</td><td>{html_text(r.zone_id)}</td>"
        f"<td>{html_text(r.callsign or '-')} {r.icao24}</td><td>{r.id}</td></tr>"
        for r in records[:MAX_LISTED]
    )
    period = f"{iso_time(since)} to {iso_time(until)}"
    per = f"events per {time_bin(since, until)[0]}"
    chart = embed_png(events_per_hour(records, since, until), per) if records else ""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>skyfence summary {period}</title>
{PAGE_STYLE}</head><body>
<h1>skyfence: {counted(total, "event")}, {period}</h1>
<h2>Per zone and kind</h2><table class=summary>{head}{body}</table>
<h2>{per.capitalize()}</h2>{chart}
<h2>Aircraft involved ({len(aircraft)})</h2>
<table class=evidence><tr><th>icao24</th><th>callsign</th><th>registry</th><th>events</th></tr>
{planes}</table>
<h2>Events</h2>
<table class=evidence><tr><th>time</th><th>kind</th><th>zone</th><th>aircraft</th><th>id</th></tr>
{listed}</table>
<footer>skyfence {version("skyfence")}, generated {generated} UTC from
{html_text(str(store.path))}; `skyfence report ID` explains one event.</footer>
</body></html>
"""
