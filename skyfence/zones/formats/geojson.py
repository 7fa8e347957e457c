"""skyfence's own zone GeoJSON: passed through, checked by `skyfence.zones.geojson`."""

from __future__ import annotations

from skyfence.zones.formats import Converted
from skyfence.zones.model import json_document

NAME = "geojson"


def sniff(head: str) -> bool:
    """Any JSON the more specific JSON formats did not claim: the GeoJSON reader then says
    what is wrong with it (not a FeatureCollection, a syntax error on line N...)."""
    return head.lstrip("\ufeff \t\r\n").startswith(("{", "["))


def convert(text: str, source: str) -> Converted:
    document = json_document(text, source)
    return Converted(document)
