"""EUROCAE ED-269 UAS geographical zones (JSON): how EU states published drone geozones first.

A zone (UASZoneVersion) may carry several geometries, each with its own vertical band; each
becomes one skyfence zone (`<identifier>#2`...). What a zone's properties and bands mean is
shared with ED-318 (`uas.py`).
"""

from __future__ import annotations

from typing import Any

from shapely.geometry.base import BaseGeometry

from skyfence.zones.formats import Converted, Problems, collection
from skyfence.zones.formats.uas import ED269, Zone, projection
from skyfence.zones.model import ZoneError, json_document

NAME = "ed269"


def sniff(head: str) -> bool:
    return '"UASZoneList"' in head or ('"horizontalProjection"' in head and '"features"' in head)


def convert(text: str, source: str) -> Converted:
    document = json_document(text, source)
    zones = (
        document.get("UASZoneList", document.get("features"))
        if isinstance(document, dict)
        else None
    )
    if not isinstance(zones, list):
        raise ZoneError(f"{source}: an ED-269 file has a UASZoneList (or features) list")
    problems = Problems(source)
    features: list[dict[str, Any]] = []
    volumes: dict[str, int] = {}  # an identifier published with several volumes: id#1, id#2...
    for zone in zones:
        if isinstance(zone, dict) and isinstance(zone.get("identifier"), str):
            count = len(zone["geometry"]) if isinstance(zone.get("geometry"), list) else 0
            volumes[zone["identifier"]] = volumes.get(zone["identifier"], 0) + count
    numbered: dict[str, int] = {}
    for index, zone in enumerate(zones):
        where = f"zone {index}"
        if not isinstance(zone, dict) or not isinstance(zone.get("identifier"), str):
            problems.add(where, "not a UASZoneVersion with an identifier")
            continue
        where = f"zone {index} ({zone['identifier']!r})"
        geometries = zone.get("geometry")
        if not isinstance(geometries, list) or not geometries:
            problems.add(where, "geometry must be a non-empty list")
            continue
        published = Zone.read(zone, ED269, where, problems)
        if published is None:
            continue
        for g_index, volume in enumerate(geometries):
            zone_id = zone["identifier"]
            if volumes[zone_id] > 1:
                numbered[zone_id] = numbered.get(zone_id, 0) + 1
                zone_id = f"{zone_id}#{numbered[zone_id]}"
            made = _volume(published, volume, f"{where} geometry {g_index}", problems)
            if made is not None:
                features.append(published.feature(zone_id, zone["identifier"], *made))
    problems.raise_any()
    return Converted(collection(features))


def _volume(
    zone: Zone, volume: Any, where: str, problems: Problems
) -> tuple[BaseGeometry, tuple[str, str, str]] | None:
    if not isinstance(volume, dict):
        problems.add(where, "not an object")
        return None
    try:
        band = zone.band(volume)
        geometry = projection(volume.get("horizontalProjection"), volume.get(ED269.uom))
    except ValueError as exc:
        problems.add(where, str(exc))
        return None
    return geometry, band
