"""An event as a message a person reads on a phone: what, who, where, band, why, integrity, link.

Plain text on purpose: a callsign is chosen by whoever transmits it, and in Markdown or HTML
`[tap](https://...)` would become a link in the alert. Text from the air is printable ASCII
(`plain_ascii`), every other text has its controls escaped (`escape_controls`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skyfence.kinds import KINDS, EventKind, KindSeverity
from skyfence.store.records import StoredEvent
from skyfence.text import escape_controls, plain_ascii
from skyfence.wording import counted

SUMMARY_LINES = 20  # a summary lists this many events, then counts the rest


@dataclass(frozen=True, slots=True)
class Text:
    title: str
    body: str
    severity: KindSeverity


def event_message(
    event: StoredEvent, zone: Mapping[str, Any] | None = None, public_url: str | None = None
) -> Text:
    """The message for one stored event; `zone` (the zone's properties) names the zone
    when the event does not, `public_url` (the map's address) adds a link to the event."""
    info = KINDS[event.kind]
    details = event.details
    zone = zone or {}
    zone_id = place(event.kind, event.zone_id, details)
    zone_name = escape_controls(str(details.get("zone_name") or zone.get("name") or ""))
    band = escape_controls(str(details.get("band") or zone.get("band") or ""))
    who = _who(event)
    title = f"{info.label.capitalize()}: {who} - {zone_id}"
    lines = [
        f"{info.label.capitalize()} ({info.severity}): {zone_id}"
        + (f" ({zone_name})" if zone_name else ""),
        f"Aircraft: {who}, ICAO {plain_ascii(event.icao24)}"
        + (f", {plain_ascii(event.country)}" if event.country else ""),
        f"Time: {event.time_iso}",
        f"Position: {_position(event)}" + (f", zone band {band}" if band else ""),
        f"Why: {_reason(event)}",
        f"Integrity: {integrity(event.kind, details)}",
    ]
    if public_url:
        lines.append(f"Map: {event_link(public_url, event.id)}")
    lines.append(f"Event {event.id}")
    return Text(title, "\n".join(lines), info.severity)


def summary_message(events: Sequence[StoredEvent], public_url: str | None = None) -> Text:
    """One message for a storm: how many of each kind in each zone, then the first events."""
    groups = Counter((KINDS[e.kind].label, place(e.kind, e.zone_id, e.details)) for e in events)
    counts = ", ".join(f"{n} {label} {zone}" for (label, zone), n in groups.most_common())
    head = f"{counted(len(events), 'more event')}: {counts}"
    lines = [head, ""]
    for e in events[:SUMMARY_LINES]:
        label = KINDS[e.kind].label
        lines.append(f"{e.time_iso} {label} {place(e.kind, e.zone_id, e.details)} {_who(e)}")
    if len(events) > SUMMARY_LINES:
        lines.append(f"... and {len(events) - SUMMARY_LINES:,} more in the event store")
    if public_url:
        lines.append(f"Map: {public_url}")
    order: list[KindSeverity] = ["info", "warning", "critical"]
    severity = max((KINDS[e.kind].severity for e in events), key=order.index)
    return Text(f"skyfence: {counted(len(events), 'more event')}", "\n".join(lines), severity)


def place(kind: EventKind, zone_id: str, details: Mapping[str, Any]) -> str:
    """Where the event is: its zone id, or for a rule's event (it has no zone) what the rule
    saw: "squawk 7700 (emergency)", "watch list (CATEGORY)". The map says the same."""
    if zone_id:
        return escape_controls(zone_id)
    if kind == "emergency_squawk" and details.get("squawk"):
        meaning = f" ({details['meaning']})" if details.get("meaning") else ""
        return escape_controls(f"squawk {details['squawk']}{meaning}")
    listed = details.get("watchlist")
    if kind == "watched_aircraft":
        category = listed.get("category") if isinstance(listed, Mapping) else None
        return escape_controls("watch list" + (f" ({category})" if category else ""))
    return KINDS[kind].label


def event_link(public_url: str, event_id: str) -> str:
    return f"{public_url.rstrip('/')}/#event={event_id}"


def why(kind: str, details: Mapping[str, Any]) -> str:
    """An event's reason in a few words, from its kind and details (the console prints it for
    live events too), and the watch-list row its aircraft matched."""
    reason = _kind_reason(kind, details)
    listed = details.get("watchlist")
    if isinstance(listed, Mapping):
        words = [listed.get(k, "") for k in ("registration", "operator", "type")]
        words += list(listed.get("tags", []))
        row = f"on the watch list ({listed.get('list')}): {', '.join(str(w) for w in words if w)}"
        return f"{reason}; {row}" if reason else row
    return reason


def _kind_reason(kind: str, d: Mapping[str, Any]) -> str:
    if kind == "suspect_position":
        claimed = ", ".join(str(z) for z in d.get("claimed_zones", [])) or "no zone"
        if d.get("reason") == "low_integrity":
            evidence = f"NIC {d.get('nic')}, NACp {d.get('nacp')}"
        else:  # speeds: from the last trusted fix, and as the aircraft reports it
            evidence = f"{d.get('implied_speed_kt')} kt from the last trusted fix, "
            evidence += f"{d.get('reported_gs_kt')} kt reported"
        return f"{d.get('reason')} ({evidence}); the position claims {claimed}"
    if kind == "predicted_entry":
        return f"entry predicted in {d.get('seconds_to_entry')} s"
    if kind in ("entry", "exit"):
        inside = f", {d['time_inside_s']} s inside" if "time_inside_s" in d else ""
        return f"{d.get('crossing')}{inside}"
    if kind == "lost_contact":
        return f"last seen {d.get('last_seen')}"
    if kind == "emergency_squawk" and "squawk" in d:
        return f"squawk {d['squawk']} ({d.get('meaning')}), confirmed {d.get('confirmed')}"
    return ""


def integrity(kind: str, details: Mapping[str, Any]) -> str:
    """Whether the position was believed: only a suspect position's was not."""
    if kind == "suspect_position":
        reason = details.get("reason")
        return escape_controls(f"NOT believed: quarantined as {reason}; not an entry")
    return "trusted position (passed the integrity checks)"


def _reason(event: StoredEvent) -> str:
    reason = escape_controls(why(event.kind, event.details)) or KINDS[event.kind].explanation
    if event.kind not in ("entry", "exit"):
        return reason
    crossing, comma, inside = reason.partition(",")  # "lateral, 349.7 s inside"
    return f"{crossing} crossing{comma}{inside}"


def _who(event: StoredEvent) -> str:
    callsign = plain_ascii(event.callsign.strip())
    return callsign or plain_ascii(event.icao24)


def _position(event: StoredEvent) -> str:
    lat, lon, alt = event.lat, event.lon, event.altitude_ft
    where = f"{abs(lat):.4f} {'N' if lat >= 0 else 'S'}, {abs(lon):.4f} {'E' if lon >= 0 else 'W'}"
    return where + (", altitude unknown" if alt is None else f", {alt:,} ft")
