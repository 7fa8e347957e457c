"""Zones from any file the world publishes: the one registry of zone formats.

A format is one module under `skyfence.zones.formats` and one line in FORMATS. The modules are
imported only when a file is read, so that commands that never read zones do not pay for them.
The format is detected from the content, not the file name: published files travel renamed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from skyfence.zones.formats import Converted
from skyfence.zones.geojson import MAX_FILE_BYTES, load_zones, zones_from_geojson
from skyfence.zones.model import Zone, ZoneError

# Detection order: the most specific formats first (ED-318 is GeoJSON with its own properties).
FORMATS: dict[str, str] = {
    "aixm": "skyfence.zones.formats.aixm",
    "tfr": "skyfence.zones.formats.tfr",
    "ed269": "skyfence.zones.formats.ed269",
    "ed318": "skyfence.zones.formats.ed318",
    "geojson": "skyfence.zones.formats.geojson",
    "notam": "skyfence.zones.formats.notam",
    "openair": "skyfence.zones.formats.openair",
}
SNIFF_CHARS = 65536


@dataclass
class Imported:
    """A zone file read and checked: its format, the zones, their GeoJSON and what was skipped."""

    source: str
    format: str
    zones: list[Zone]
    document: dict[str, Any]
    skipped: list[str]


def format_module(name: str) -> ModuleType:
    return importlib.import_module(FORMATS[name])


def detect(head: str, source: str) -> str:
    """The name of the format whose reader recognises this text, or a ZoneError naming them."""
    for name in FORMATS:
        if format_module(name).sniff(head):
            return name
    raise ZoneError(
        f"{source}: format not recognised from its content (known: {', '.join(FORMATS)})"
    )


def read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ZoneError(f"{path}: {size:,} bytes, more than the limit {MAX_FILE_BYTES:,}")
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ZoneError(f"{path}: cannot read zone file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ZoneError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def import_text(text: str, source: str, fmt: str | None = None) -> Imported:
    """Convert and check one file's text; every zone it yields is validated like a GeoJSON
    zone, so an imported zone is exactly as strict as one written by hand."""
    name = fmt or detect(text[:SNIFF_CHARS], source)
    converted: Converted = format_module(name).convert(text, source)
    document = converted.document
    _refuse_traffic_airspace(document, source)
    if isinstance(document, dict) and document.get("features") == []:
        skipped = "".join(f"\n  skipped: {s}" for s in converted.skipped)
        raise ZoneError(f"{source}: no zones in this {name} file{skipped}")
    zones = zones_from_geojson(converted.document, source)
    return Imported(source, name, zones, converted.document, converted.skipped)


def _refuse_traffic_airspace(document: Any, source: str) -> None:
    """The `traffic` library's own airspace files (an Airspace saved as JSON: name, type,
    shapes; Eurocontrol FIRs as GeoJSON: IDENT, TYPE, LOWERLIMIT/UPPERLIMIT) read as JSON that
    is no zone file: say what they are and how to make zones of them, rather than "a zone file
    is a GeoJSON FeatureCollection" or one "property 'id' is required" per feature."""
    if isinstance(document, dict) and isinstance(document.get("shapes"), list):
        shapes = document["shapes"]
        raise ZoneError(
            f"{source}: an airspace as the traffic library saves it ({document.get('name')!r}, "
            f"type {document.get('type')!r}, {len(shapes)} shapes with lower/upper in flight "
            "levels), not a zone file. To watch it, write a GeoJSON FeatureCollection with one "
            "Feature per shape: its polygon as the geometry, properties id, name, floor (FL "
            "and the shape's lower, or SFC for 0) and ceiling (FL and its upper), then "
            "`skyfence zones check` it"
        )
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        return
    props = [f.get("properties") if isinstance(f, dict) else None for f in features]
    if not all(isinstance(p, dict) and "id" not in p and "IDENT" in p for p in props):
        return
    first = props[0]
    assert isinstance(first, dict)
    raise ZoneError(
        f"{source}: airspace GeoJSON as the traffic library ships it (Eurocontrol "
        f"{first.get('TYPE', 'airspace')}s: IDENT, NAME, LOWERLIMIT/UPPERLIMIT), not a zone file. "
        "An airspace is not a restricted zone: to watch one, write a GeoJSON zone file with the "
        "features you mean, each with properties id (e.g. its IDENT "
        f"{first.get('IDENT')!r}), name, floor and ceiling (e.g. SFC, FL195: its LOWERLIMIT and "
        "UPPERLIMIT with their units), then `skyfence zones check` it"
    )


def import_file(path: Path) -> Imported:
    return import_text(read_text(path), str(path))


def load_zone_sources(sources: list[str], skipped: list[str] | None = None) -> list[Zone]:
    """Zones of several files or bundled sets, whose ids must not collide. What the files hold
    that is not a zone (other NOTAMs, FIRs...) is appended to `skipped`."""
    zones: list[Zone] = []
    for source in sources:
        zones += load_zone_source(source, skipped)
    counts: dict[str, int] = {}
    for zone in zones:
        counts[zone.id] = counts.get(zone.id, 0) + 1
    duplicated = [zone_id for zone_id, n in counts.items() if n > 1]
    if duplicated:
        raise ZoneError(f"zone ids used in more than one zone file: {', '.join(duplicated)}")
    return zones


def load_zone_source(source: str, skipped: list[str] | None = None) -> list[Zone]:
    """Zones from a bundled set name or a file in any known format (what `--zones` accepts)."""
    from skyfence.zones.bundled import bundled_path

    if bundled_path(source) is not None or not Path(source).exists():
        return load_zones(source)  # names the bundled sets when the file is missing
    imported = import_file(Path(source))
    if skipped is not None:
        skipped += [f"{source}: {line}" for line in imported.skipped]
    return imported.zones
