"""skyfence's own zone GeoJSON: passed through, checked by `skyfence.zones.geojson`."""

from __future__ import annotations

import json

from skyfence.zones.formats import Converted
from skyfence.zones.model import ZoneError

NAME = "geojson"


def sniff(head: str) -> bool:
    return head.lstrip("\ufeff \t\r\n").startswith("{") and "FeatureCollection" in head


def convert(text: str, source: str) -> Converted:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZoneError(f"{source}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    return Converted(document)
