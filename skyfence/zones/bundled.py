"""Zone sets that ship with skyfence, usable by name wherever a zone file is expected."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

BUNDLED = {
    "demo": "demo.geojson",
    "ukraine": "ukraine.geojson",
}


def bundled_names() -> list[str]:
    return sorted(BUNDLED)


def bundled_path(name: str) -> Path | None:
    """The file behind a bundled name, or None when `name` is not one (then it is a path)."""
    filename = BUNDLED.get(name.lower())
    if filename is None:
        return None
    return Path(str(files("skyfence.zones") / "data" / filename))
