"""Cells of many positions at once must be exactly the cells H3 gives one position at a time."""

from __future__ import annotations

from pathlib import Path

import h3
import numpy as np
import pytest

from skyfence.gnss.cells import cell_outline, cell_text, cells_of
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording


@pytest.fixture(scope="module")
def positions(samples: Path) -> tuple[np.ndarray, np.ndarray]:
    sv = StateVectors.concat(list(read_recording(samples / "collections" / "quickstart.json.gz")))
    ok = np.isfinite(sv.lat_deg) & np.isfinite(sv.lon_deg)
    return sv.lat_deg[ok], sv.lon_deg[ok]


@pytest.mark.parametrize("resolution", [2, 4, 6])
def test_batched_cells_equal_h3_one_by_one(
    positions: tuple[np.ndarray, np.ndarray], resolution: int
) -> None:
    lat, lon = positions
    one_by_one = [h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat, lon, strict=True)]
    batched = [cell_text(c) for c in cells_of(lat, lon, resolution)]
    assert batched == one_by_one


def test_sparse_positions_and_nothing() -> None:
    lat, lon = np.array([49.65, -33.9, 89.99]), np.array([23.9, 151.2, -179.99])
    assert [cell_text(c) for c in cells_of(lat, lon, 4)] == [
        h3.latlng_to_cell(a, b, 4) for a, b in zip(lat, lon, strict=True)
    ]
    assert len(cells_of(np.zeros(0), np.zeros(0), 4)) == 0


def test_outline_is_a_closed_lon_lat_ring() -> None:
    cell = int(h3.latlng_to_cell(49.65, 23.9, 4), 16)
    ring = cell_outline(cell)
    assert ring[0] == ring[-1] and len(ring) == 7
    assert all(20 < lon < 27 and 47 < lat < 52 for lon, lat in ring)
