"""The event kinds, once: what each is called, its colour, what it means and how serious it is.

The `EventKind` Literal, the console, the reports, the API (`/api/kinds`) and the map all read
this table, so a kind means the same thing everywhere and a new kind is one entry here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

EventKind = Literal[
    "predicted_entry",
    "entry",
    "exit",
    "lost_contact",
    "suspect_position",
    "zone_withdrawn",
    "emergency_squawk",
    "watched_aircraft",
]
KindSeverity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class KindInfo:
    label: str
    colour: str  # "#rrggbb": the map, the report figures and the terminal
    severity: KindSeverity
    explanation: str

    @property
    def style(self) -> str:
        """The rich style of the kind in a terminal: critical kinds in bold."""
        return f"bold {self.colour}" if self.severity == "critical" else self.colour


KINDS: dict[EventKind, KindInfo] = {
    "predicted_entry": KindInfo(
        "predicted entry",
        "#f5a524",
        "warning",
        "the path extrapolated along track at ground speed enters the zone (grown by buffer_m) "
        "within the look-ahead, at an altitude in its band, while it is active",
    ),
    "entry": KindInfo(
        "entry",
        "#f0474f",
        "critical",
        "the boundary crossing, interpolated between the last fix outside and the first inside "
        "(lateral, vertical or activation)",
    ),
    "exit": KindInfo(
        "exit",
        "#3ecf8e",
        "info",
        "the crossing out of the zone, after an entry",
    ),
    "lost_contact": KindInfo(
        "lost contact",
        "#9aa7b4",
        "warning",
        "no trusted position for lost_contact_s (60 s by default) while inside the zone",
    ),
    "suspect_position": KindInfo(
        "suspect position",
        "#b57bff",
        "warning",
        "a quarantined fix that confirms a spoofing or implausible-position episode, near or in "
        "the zone: not believed, so not an entry",
    ),
    "zone_withdrawn": KindInfo(
        "zone withdrawn",
        "#4aa3ff",
        "info",
        "watch reloaded its zones and a zone the aircraft was inside is gone: its open state ends"
        " at the reload, without an exit",
    ),
    "emergency_squawk": KindInfo(
        "emergency squawk",
        "#ff2d95",
        "critical",
        "the transponder code turned to 7500 (hijack), 7600 (radio failure) or 7700 (emergency) and"
        " held it for confirm_s (10 s by default): a rule, not a zone, so the zone is empty",
    ),
    "watched_aircraft": KindInfo(
        "watched aircraft",
        "#00b8d9",
        "info",
        "an aircraft on the watch list (--watchlist) heard for the first time, or again after"
        " forget_after_s of silence: a rule, not a zone, so the zone is empty",
    ),
}
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)


def kinds_table() -> dict[str, dict[str, Any]]:
    """The table as JSON for the API and the map, in the Literal's order."""
    return {kind: asdict(KINDS[kind]) for kind in EVENT_KINDS}
