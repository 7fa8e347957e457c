"""The options of the rules beyond areas (emergency squawks, a watch list), shared by `audit`
and `watch` so both build the same rules and raise the same events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyfence.cli.common import fail

if TYPE_CHECKING:
    from skyfence.rules import RuleSet
    from skyfence.settings import EngineSettings
    from skyfence.zones.model import Zone

WatchlistOption = Annotated[
    list[Path] | None,
    typer.Option(
        metavar="FILE",
        help="Watch list in Plane-Alert's CSV layout ($ICAO,$Registration,$Operator,$Type,...): "
        "a watched_aircraft event when a listed aircraft is heard.",
    ),
]
WatchedOnlyZoneOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="ZONE_ID",
        help="Report events in this zone only for aircraft on the watch list.",
    ),
]
SquawksOption = Annotated[
    bool,
    typer.Option(
        "--squawks/--no-squawks",
        help="emergency_squawk events for 7500, 7600 and 7700 held 10 s.",
    ),
]


def rules_or_fail(
    watchlist: list[Path] | None,
    watched_only: list[str] | None,
    squawks: bool,
    zones: list[Zone],
    settings: EngineSettings,
) -> RuleSet | None:
    """The rules the options ask for, None when none; a bad watch list or an unknown zone id
    ends the command with a message naming it."""
    from skyfence.engine.engine import Rules
    from skyfence.rules import RuleSet
    from skyfence.rules.squawk import EmergencySquawks
    from skyfence.rules.watchlist import WatchedAircraft, WatchList, WatchListError

    rules: list[Rules] = []
    if squawks:
        rules.append(EmergencySquawks(forget_after_s=settings.forget_after_s))
    if watched_only and not watchlist:
        raise fail("--watched-only-zone needs --watchlist")
    unknown = sorted(set(watched_only or ()) - {zone.id for zone in zones})
    if unknown:
        raise fail(f"--watched-only-zone: no zone {', '.join(unknown)} among the zones given")
    if watchlist:
        try:
            listed = WatchList.load(watchlist)
        except WatchListError as exc:
            raise fail(str(exc)) from None
        only = frozenset(watched_only or ())
        rules.append(WatchedAircraft(listed, only, forget_after_s=settings.forget_after_s))
    return RuleSet(rules) if rules else None
