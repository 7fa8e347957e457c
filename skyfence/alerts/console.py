"""The terminal view of a running watch: feed health, the aircraft that matter, recent alerts.

Drawn with rich's Live display when the output is a terminal; otherwise `watch` prints one line
per event instead, which is what a log file or a pipe wants.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from skyfence.alerts.message import place
from skyfence.engine.events import Event, iso_time
from skyfence.kinds import KINDS
from skyfence.text import escape_controls

_STATE_STYLE = {"inside": "bold red", "warning": "yellow", "suspect": "magenta", "normal": "dim"}
_STATE_ORDER = {"inside": 0, "warning": 1, "suspect": 2, "normal": 3}


def safe(text: str) -> str:
    """Text from the air for rich: markup escaped, and control characters made visible (rich
    passes an ESC sequence to the terminal as it is)."""
    return escape(escape_controls(text))


def render(
    aircraft: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    recent: list[Event],
    *,
    rows: int = 15,
) -> Group:
    """One frame of the view. Aircraft in a zone come first, then warned, then suspect."""
    return Group(_sources(sources), _aircraft(aircraft, rows), _alerts(recent, rows=8))


def _sources(sources: list[dict[str, Any]]) -> Text:
    line = Text()
    for s in sources:
        mark = ("●", "green") if s.get("connected") else ("○", "red")
        line.append(f"{mark[0]} ", style=mark[1])
        line.append(f"{s['name']}  {s.get('rate_per_s', 0):,.0f}/s")
        if s.get("dropped"):
            dropped = f"  {s['dropped']:,} dropped"
            if s.get("dropped_bytes"):
                dropped += f" ({s['dropped_bytes']:,} bytes)"
            line.append(dropped, style="yellow")
        if s.get("last_error") and not s.get("connected"):
            line.append(f"  ({s['last_error']})", style="red")
        line.append("    ")
    return line


def _aircraft(aircraft: list[dict[str, Any]], rows: int) -> Table:
    ordered = sorted(aircraft, key=lambda a: (_STATE_ORDER[a["state"]], a["icao24"]))
    counts = {state: sum(a["state"] == state for a in aircraft) for state in _STATE_ORDER}
    title = f"{len(aircraft)} aircraft: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    table = Table(title=title, title_justify="left", expand=True, pad_edge=False)
    for name in ("icao24", "callsign", "state", "zones", "altitude", "speed", "last fix"):
        table.add_column(name, no_wrap=True)
    for a in ordered[:rows]:
        alt = "" if a["altitude_ft"] is None else f"{a['altitude_ft']:,.0f} ft"
        speed = "" if a["gs_kt"] is None else f"{a['gs_kt']:.0f} kt"
        table.add_row(
            a["icao24"],
            safe(a["callsign"]),
            Text(a["state"], style=_STATE_STYLE[a["state"]]),
            safe(", ".join(a["zones"])),
            alt,
            speed,
            a["time"][11:19],
        )
    if len(ordered) > rows:
        table.caption = f"... and {len(ordered) - rows} more"
    return table


def _alerts(recent: list[Event], rows: int) -> Table:
    table = Table(title="recent events", title_justify="left", expand=True, pad_edge=False)
    for name in ("time", "event", "aircraft", "zone"):
        table.add_column(name, no_wrap=True)
    for e in reversed(recent[-rows:]):
        table.add_row(
            iso_time(e.t_s)[:19].replace("T", " "),
            Text(e.kind, style=KINDS[e.kind].style),
            safe(f"{e.callsign or '-'} {e.icao24}"),
            safe(place(e.kind, e.zone_id, e.details)),  # a rule's event: what the rule saw
        )
    return table
