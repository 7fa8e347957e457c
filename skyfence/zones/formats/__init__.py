"""Readers of published zone formats; each turns its file into skyfence's zone GeoJSON.

Every reader is one module with `NAME`, `sniff(head)` (does this text look like my format?) and
`convert(text, source)`, listed once in `skyfence.zones.load.FORMATS`. A reader collects every
problem of its file and raises one ZoneError listing them all (file, item, line): a file is
imported whole or not at all, because a monitor running on half its zones misses incursions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import shapely.geometry
from shapely.geometry.base import BaseGeometry

from skyfence.zones.model import ZoneError


@dataclass
class Converted:
    """A reader's result: the zones as a FeatureCollection, and what it skipped and why."""

    document: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


@dataclass
class Problems:
    """Collects every problem of a file so that one run reports them all."""

    source: str
    items: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.source}: {where}: {message}")

    def raise_any(self) -> None:
        if self.items:
            raise ZoneError(
                f"{self.source}: {len(self.items)} problem(s), no zone loaded:\n"
                + "\n".join(self.items)
            )


def iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feature(
    zone_id: str,
    name: str,
    geometry: BaseGeometry,
    floor: str,
    ceiling: str,
    active: list[tuple[float, float]] | None = None,
    **props: Any,
) -> dict[str, Any]:
    """One zone as skyfence's GeoJSON Feature; `active` periods in UNIX seconds (inf: open)."""
    properties: dict[str, Any] = {"id": zone_id, "name": name, "floor": floor, "ceiling": ceiling}
    if active is not None:
        properties["active"] = [[iso(a), None if math.isinf(b) else iso(b)] for a, b in active]
    properties.update({k: v for k, v in props.items() if v is not None})
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": shapely.geometry.mapping(geometry),
    }


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def parse_xml(text: str, source: str) -> Any:
    """The root element of an XML document, refusing any DTD: entity expansion ("billion
    laughs") and external entities are how XML files attack their readers, and no zone format
    needs a DTD."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        return fromstring(text.encode("utf-8"), forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ZoneError(f"{source}: refused: the XML declares a DTD or entities ({exc})") from None
    except ParseError as exc:
        line, column = exc.position
        raise ZoneError(f"{source}: line {line}: not well-formed XML (column {column})") from None
    except (LookupError, ValueError) as exc:  # e.g. an XML declaration naming no known encoding
        raise ZoneError(f"{source}: not readable as XML: {exc}") from None


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]
