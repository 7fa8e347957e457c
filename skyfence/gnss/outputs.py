"""The interference cells as records, GeoJSON and Parquet: one row per (hour, cell)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.engine.events import iso_time
from skyfence.gnss.aggregate import CellCounts, jamming_level
from skyfence.gnss.cells import cell_centre, cell_outline, cell_text
from skyfence.store.records import InterferenceCount

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = (".geojson", ".parquet")


def records(counts: CellCounts) -> list[dict[str, Any]]:
    """One dict per (hour, cell), as the API, the GeoJSON and the figure show them."""
    levels = jamming_level(counts.degraded, counts.aircraft)
    out = []
    for i in range(len(counts)):  # once per cell: a few thousand at most
        cell = int(counts.cell[i])
        lat, lon = cell_centre(cell)
        out.append(
            {
                "hour": iso_time(float(counts.hour_s[i])),
                "hour_s": int(counts.hour_s[i]),
                "cell": cell_text(cell),
                "lat": round(lat, 5),
                "lon": round(lon, 5),
                "aircraft": int(counts.aircraft[i]),
                "degraded": int(counts.degraded[i]),
                "spoofed": int(counts.spoofed[i]),
                "claimed": int(counts.claimed[i]),
                "jamming": str(levels[i]),
            }
        )
    return out


def from_rows(rows: Sequence[InterferenceCount]) -> CellCounts:
    """Counts as the event store returns them (cells as hexadecimal text)."""
    counts = [(r.hour_s, r.aircraft, r.degraded, r.spoofed, r.claimed) for r in rows]
    hour_s, aircraft, degraded, spoofed, claimed = np.array(counts, np.int64).reshape(-1, 5).T
    cells = np.array([int(r.cell, 16) for r in rows], np.uint64)
    return CellCounts(hour_s, cells, aircraft, degraded, spoofed, claimed)


def feature_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """GeoJSON polygons of the cells (cells across the antimeridian are drawn as H3 gives them)."""
    features = [
        {
            "type": "Feature",
            "id": f"{row['hour_s']}-{row['cell']}",
            "geometry": {"type": "Polygon", "coordinates": [cell_outline(int(row["cell"], 16))]},
            "properties": row,
        }
        for row in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def write_parquet(counts: CellCounts, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(cells_table(counts), path)


def cells_table(counts: CellCounts) -> pa.Table:
    """The Parquet file's rows, as an Arrow table (what `skyfence.interference` returns)."""
    import pyarrow as pa

    rows = records(counts)
    return pa.table(
        {
            "hour": pa.array(counts.hour_s.astype("datetime64[s]")).cast(
                pa.timestamp("s", tz="UTC")
            ),
            "cell": [r["cell"] for r in rows],
            "lat": np.array([r["lat"] for r in rows], np.float64),
            "lon": np.array([r["lon"] for r in rows], np.float64),
            "aircraft": counts.aircraft,
            "degraded": counts.degraded,
            "spoofed": counts.spoofed,
            "claimed": counts.claimed,
            "jamming": [r["jamming"] for r in rows],
        }
    )
