"""A zone named by a user (`export --zone`, the API's `?zone=`), found among the store's ids.

Zone ids are read in any case, as `zones show` reads them; an id the store does not know is
refused with the known ones, never answered with an empty export that reads as "no incursion".
"""

from __future__ import annotations

SHOWN = 30  # known ids listed in the refusal


def zone_named(known: list[str], text: str) -> str | None:
    """The id of `known` that `text` names, in any case, or None."""
    wanted = text.casefold()
    return next((zone for zone in known if zone.casefold() == wanted), None)


def no_such_zone(known: list[str]) -> str:
    """The refusal's words, with the ids the store knows."""
    shown = ", ".join(known[:SHOWN])
    more = f" and {len(known) - SHOWN} more" if len(known) > SHOWN else ""
    return f"no such zone in this store (known: {shown + more or 'none'})"
