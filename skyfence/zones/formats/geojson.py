"""skyfence's own zone GeoJSON: passed through, checked by `skyfence.zones.geojson`."""

from __future__ import annotations

import json

from skyfence.zones.formats import Converted
from skyfence.zones.model import ZoneError

NAME = "geojson"


def sniff(head: str) -> bool:
    """Any JSON the more specific JSON formats did not claim: the GeoJSON reader then says
    what is wrong with it (not a FeatureCollection, a syntax error on line N...)."""
    return head.lstrip("\ufeff \t\r\n").startswith(("{", "["))


def convert(text: str, source: str) -> Converted:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZoneError(f"{source}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    return Converted(document)
