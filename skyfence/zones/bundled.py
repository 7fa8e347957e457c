"""Zone sets that ship with skyfence, usable by name wherever a zone file is expected."""

from __future__ import annotations

import json
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


def bundled_ids(name: str) -> list[str]:
    """The zone ids of a bundled set, read without building its geometries: `zones list` stays
    fast. The sets are validated whole by `load_zones` (and by the tests, which check that both
    give the same ids)."""
    path = bundled_path(name)
    if path is None:
        raise KeyError(f"{name!r} is not a bundled zone set")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return [str(f["properties"].get("id", f.get("id"))) for f in features]
