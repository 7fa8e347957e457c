"""EUROCAE ED-318 UAS geographical zones: ED-269's successor, a GeoJSON FeatureCollection whose
geometries carry their vertical band in `layer` and whose properties follow ED-318.

Names are lists of {text, lang}: the English one is preferred, else the first. A circle is a
Point whose `extent` is {"subType": "Circle", "radius": r} in the layer's unit.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry.base import BaseGeometry

from skyfence.zones.formats import Converted, Problems, collection
from skyfence.zones.formats.uas import ED318, Zone, projection
from skyfence.zones.model import ZoneError, json_document

NAME = "ed318"


def sniff(head: str) -> bool:
    return '"FeatureCollection"' in head and '"layer"' in head and '"identifier"' in head


def convert(text: str, source: str) -> Converted:
    document = json_document(text, source)
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise ZoneError(f"{source}: an ED-318 file is a FeatureCollection with features")
    problems = Problems(source)
    features: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(document["features"]):
        where = f"feature {index}"
        props = item.get("properties") if isinstance(item, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("identifier"), str):
            problems.add(where, "not an ED-318 feature with properties.identifier")
            continue
        zone_id = props["identifier"]
        where = f"feature {index} ({zone_id!r})"
        seen[zone_id] = seen.get(zone_id, 0) + 1
        if seen[zone_id] > 1:  # one zone published as several volumes
            zone_id = f"{zone_id}#{seen[zone_id]}"
        published = Zone.read(props, ED318, where, problems)
        if published is None:
            continue
        made = _volume(published, item.get("geometry"), where, problems)
        if made is not None:
            features.append(published.feature(zone_id, zone_id, *made))
    problems.raise_any()
    return Converted(collection(features))


def _volume(
    zone: Zone, geometry: Any, where: str, problems: Problems
) -> tuple[BaseGeometry, tuple[str, str, str]] | None:
    if not isinstance(geometry, dict) or not isinstance(geometry.get("layer"), dict):
        problems.add(where, "geometry with a layer (upper, lower, references, uom) is required")
        return None
    layer = geometry["layer"]
    try:
        band = zone.band(layer)
        if geometry.get("type") == "Point":
            extent = geometry.get("extent") or {}
            if extent.get("subType") != "Circle":
                raise ValueError("a Point geometry needs extent {subType: Circle, radius}")
            shape = projection(
                {
                    "type": "Circle",
                    "center": geometry.get("coordinates"),
                    "radius": extent.get("radius"),
                },
                layer.get(ED318.uom),
            )
        else:
            shape = projection(
                {"type": geometry.get("type"), "coordinates": geometry.get("coordinates")}
            )
    except ValueError as exc:
        problems.add(where, str(exc))
        return None
    return shape, band
