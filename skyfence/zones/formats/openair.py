"""OpenAir airspace text (gliding and paragliding maps), read by `skyfence.zones.openair`."""

from __future__ import annotations

import re

from skyfence.zones.formats import Converted

NAME = "openair"
_RECORD = re.compile(r"^\s*(AC|AN|AL|AH|DP|DC|DA|DB|V)\s", re.MULTILINE)


def sniff(head: str) -> bool:
    return re.search(r"^\s*AC\s+\S", head, re.MULTILINE) is not None and (
        len(_RECORD.findall(head)) >= 3
    )


def convert(text: str, source: str) -> Converted:
    from skyfence.zones.openair import openair_to_geojson

    return Converted(openair_to_geojson(text, source))
