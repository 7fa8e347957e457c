"""One event explained on one self-contained HTML page, for someone who was not there.

The page holds everything: summary, a map of the track against the zone, the altitude profile
against the zone's band, and the evidence (every logged fix in the window, trusted or not,
with the reason a fix was not believed). Images are embedded, so the file can be mailed.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

from skyfence.errors import ToolError
from skyfence.reporting.figures import altitude_profile, track_map
from skyfence.reporting.windows import window_s
from skyfence.store.errors import EventNotFoundError
from skyfence.store.events import EventStore
from skyfence.store.records import StoredEvent
from skyfence.store.rows import EventFilter
from skyfence.text import html_text
from skyfence.wording import counted
from skyfence.zones.countries import country_name

MAX_ROWS = 400  # evidence rows; beyond this, trusted fixes are thinned (never quarantined ones)
NEAREST_ROWS = 25  # rows always kept around the event and each crossing
_ENDS = ("exit", "lost_contact", "zone_withdrawn")

Record = dict[str, Any]


def incident_report(store: EventStore, event_id: str) -> str:
    event = store.get(event_id)
    if event is None:
        raise EventNotFoundError(event_id, store.path)
    t = event.t_s
    around = window_s(event.kind)
    track = store.positions(event.icao24, t - around, t + around)
    zone = store.event_zone(event_id)  # as it was at the event, not as watched now
    related = _related(store, event)
    shown = [e for e in related if abs(e.t_s - t) <= around] or [event]
    visit = next((v for v in visits(related) if event_id in v.ids), None)
    crossings = [e for e in (visit.entry, visit.end) if e] if visit else []
    figures = ""
    if track:
        figures = embed_png(track_map(track, zone, shown), "track against the zone") + embed_png(
            altitude_profile(track, zone, shown), "altitude against the zone's band"
        )
    else:
        figures = "<p class=note>No logged fixes for this aircraft around the event (the store \
was written by an audit, or its track log was pruned): no map or profile.</p>"
    callsign = event.callsign or "(no callsign)"
    title = f"{event.kind.replace('_', ' ')}: {callsign}"
    title += f" in {event.zone_id}" if event.zone_id else ""  # the rules name no zone
    return _PAGE.format(
        style=PAGE_STYLE,
        title=html_text(title),
        summary=_summary(event, zone, visit, track, around),
        figures=figures,
        evidence=_evidence(track, [t, *(e.t_s for e in crossings)]),
        details=_table([(k, _text(v)) for k, v in sorted(event.details.items())]),
        footer=html_text(
            f"skyfence {version('skyfence')}, report generated "
            f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC from {store.path}. "
            "skyfence watches, explains and records; it never guides an interception."
        ),
    )


def html_to_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the page to PDF with Chromium or wkhtmltopdf, whichever is installed."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]  # fmt: skip
    elif shutil.which("wkhtmltopdf"):
        command = ["wkhtmltopdf", "--quiet", str(html_path), str(pdf_path)]
    else:
        raise ToolError("--pdf needs chromium or wkhtmltopdf (apt-get install chromium)")
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if run.returncode != 0 or not pdf_path.exists():
        raise ToolError(f"{command[0]} could not print {html_path}: {run.stderr.strip()[-300:]}")


def _related(store: EventStore, event: StoredEvent) -> list[StoredEvent]:
    """The events of the same aircraft in the same zone, a day either side, in time order."""
    t = event.t_s
    day = EventFilter(t - 86_400, t + 86_400, event.zone_id, icao24=event.icao24)
    return store.query(day, limit=1000)


class Visit(NamedTuple):
    """One stay of an aircraft in a zone, with the first warning of it: whichever of its events
    a report is asked about (the warning, the entry, the exit), it tells the same story."""

    warning: StoredEvent | None
    entry: StoredEvent | None
    end: StoredEvent | None  # the exit, or the contact lost inside
    ids: frozenset[str]


def visits(related: list[StoredEvent]) -> list[Visit]:
    """The events of one aircraft in one zone (time order), cut into visits at each end."""
    found: list[Visit] = []
    warning = entry = None
    ids: set[str] = set()
    for e in related:
        ids.add(e.id)
        if e.kind == "predicted_entry" and warning is None and entry is None:
            warning = e
        elif e.kind == "entry" and entry is None:
            entry = e
        elif e.kind in _ENDS:
            found.append(Visit(warning, entry, e if entry else None, frozenset(ids)))
            warning = entry = None
            ids = set()
    if ids:
        found.append(Visit(warning, entry, None, frozenset(ids)))
    return found


def _summary(
    event: StoredEvent,
    zone: Record | None,
    visit: Visit | None,
    track: list[Record],
    around: float,
) -> str:
    country = event.country
    rows = [
        ("aircraft", f"{event.callsign or '-'} · ICAO 24-bit address {event.icao24}"),
        ("state of registry", f"{country_name(country)} ({country})" if country else "unknown"),
        ("event", f"{event.kind} at {event.time_iso}"),
        ("position", f"{event.lat:.4f}, {event.lon:.4f}, " + _altitude(event.altitude_ft)),
    ]
    if zone is not None:
        props = zone["properties"]
        version = props.get("zone_version")
        label = props["id"] if version is None else f"{props['id']} (version {version})"
        rows.append(("zone", f"{label}: {props['name']}, {props['band']}"))
    else:
        rows.append(("zone", event.zone_id or "none: a rule beyond areas"))
    if visit is not None and visit.entry is not None:
        entry, end, warning = visit.entry, visit.end, visit.warning
        entered = entry.t_s
        rows.append(("entry", f"{entry.time_iso} ({entry.details.get('crossing', '')})"))
        if end is not None:
            rows.append((end.kind.replace("_", " "), end.time_iso))
            rows.append(("time inside", f"{end.t_s - entered:,.1f} s"))
        if warning is not None:
            lead = entered - warning.t_s
            rows.append(("warning lead time", f"{lead:,.1f} s (first warned {warning.time_iso})"))
        else:
            rows.append(("warning lead time", "no warning before the entry"))
    elif visit is not None and event.kind == "predicted_entry":
        rows.append(("entry", "none followed this warning"))
    trusted = sum(p["trusted"] for p in track)
    reasons = Counter(p["reason"] for p in track if not p["trusted"])
    verdict = f"{trusted} trusted, {len(track) - trusted} quarantined fixes within "
    verdict += f"{around / 60:.0f} min of the event"
    if reasons:
        verdict += " (" + ", ".join(f"{n} {r}" for r, n in reasons.most_common()) + ")"
    rows.append(("integrity", verdict))
    ack = event.acknowledgement
    rows.append(("acknowledged", f"by {ack.by} at {ack.at_iso}: {ack.note}" if ack else "no"))
    return _table(rows)


def thin(track: list[Record], moments: list[float], max_rows: int = MAX_ROWS) -> list[Record]:
    """The fixes a reader can go through: all of them up to `max_rows`; beyond, every
    quarantined fix, those nearest the event and the crossings (`moments`), and trusted ones
    spread evenly (a share of them even when quarantined fixes fill the page: the flown path is
    what a spoofed one is judged against)."""
    if len(track) <= max_rows:
        return track
    keep = {i for i, p in enumerate(track) if not p["trusted"]}
    for moment in moments:
        by_distance = sorted(range(len(track)), key=lambda i: abs(track[i]["time_s"] - moment))
        keep |= set(by_distance[:NEAREST_ROWS])
    spread = [i for i, p in enumerate(track) if p["trusted"] and i not in keep]
    budget = min(len(spread), max(max_rows - len(keep), max_rows // 4))
    keep |= {spread[k * len(spread) // budget] for k in range(budget)}
    return [track[i] for i in sorted(keep)]


def _evidence(track: list[Record], moments: list[float]) -> str:
    """A summary a reader takes in at a glance (the trusted fixes, the quarantined ones by
    reason and time range), and every fix folded below it: the table runs to thousands of rows."""
    if not track:
        return "<p class=note>No logged fixes.</p>"
    rows = thin(track, moments)
    note = ""
    if len(rows) < len(track):
        fixes = counted(len(track), "fix", "fixes")
        note = f"<p class=note>{fixes}; trusted ones thinned to {len(rows):,} \
rows (every quarantined fix and the {NEAREST_ROWS} nearest the event and each crossing are \
kept).</p>"
    body = "".join(
        f"<tr class={'ok' if p['trusted'] else 'bad'}><td>{p['time']}</td>"
        f"<td>{p['lat']:.5f}</td><td>{p['lon']:.5f}</td><td>{_altitude(p['altitude_ft'])}</td>"
        f"<td>{_number(p['gs_kt'], 'kt')}</td><td>{_number(p['track_deg'], '°')}</td>"
        f"<td>{'trusted' if p['trusted'] else html_text('quarantined: ' + p['reason'])}</td></tr>"
        for p in rows
    )
    head = "<tr><th>time (UTC)</th><th>lat</th><th>lon</th><th>altitude</th><th>ground speed</th>"
    head += "<th>track</th><th>verdict</th></tr>"
    return (
        f"{_evidence_summary(track)}<details><summary>every logged fix ({len(rows):,} rows)"
        f"</summary>{note}<table class=evidence>{head}{body}</table></details>"
    )


def _evidence_summary(track: list[Record]) -> str:
    groups: dict[str, list[Record]] = {}
    for p in track:
        groups.setdefault("trusted" if p["trusted"] else f"quarantined: {p['reason']}", []).append(
            p
        )
    cells = "".join(
        f"<tr><td class={'ok' if verdict == 'trusted' else 'bad'}>{html_text(verdict)}</td>"
        f"<td>{len(fixes):,}</td><td>{fixes[0]['time']}</td><td>{fixes[-1]['time']}</td></tr>"
        for verdict, fixes in groups.items()
    )
    head = "<tr><th>verdict</th><th>fixes</th><th>first (UTC)</th><th>last (UTC)</th></tr>"
    return f"<table class=verdicts>{head}{cells}</table>"


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html_text(k)}</th><td>{html_text(v)}</td></tr>" for k, v in rows)
    return f"<table class=summary>{cells}</table>"


def embed_png(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{html_text(alt)}" src="data:image/png;base64,{data}"></figure>'


def _altitude(feet: float | None) -> str:
    return "altitude unknown" if feet is None else f"{feet:,.0f} ft"


def _number(value: float | None, unit: str) -> str:
    return "" if value is None else f"{value:.0f} {unit}"


def _text(value: Any) -> str:
    """A detail as a reader writes it: lists joined, records as "key value", no Python reprs."""
    if value is None:
        return "not reported"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value) or "none"
    return str(value)


PAGE_STYLE = """<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222 }
h1 { font-size: 1.5em } h2 { font-size: 1.15em; margin-top: 1.6em }
table { border-collapse: collapse } th, td { padding: 3px 10px; text-align: left }
table.summary th { color: #555; font-weight: 600; white-space: nowrap }
table.evidence { font-size: 12px; font-family: ui-monospace, monospace }
table.evidence tr:nth-child(even) { background: #f4f4f4 }
tr.bad td, td.bad { color: #7a1fb0 } table.verdicts td { padding-right: 2em }
details summary { cursor: pointer; margin: 0.8em 0; color: #333 }
.note { color: #666; font-style: italic }
figure { margin: 1em 0 } img { max-width: 100% }
footer { margin-top: 3em; color: #777; font-size: 12px }
</style>"""


_PAGE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>skyfence: {title}</title>
{style}</head><body>
<h1>{title}</h1>
<h2>Summary</h2>{summary}
<h2>Track and altitude</h2>{figures}
<h2>Event details</h2>{details}
<h2>Evidence: logged fixes</h2>{evidence}
<footer>{footer}</footer>
</body></html>
"""
