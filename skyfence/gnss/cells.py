"""H3 cells of many positions at once.

The `h3` package looks up one position per call (about a microsecond each; its numpy API
converts the result, not the loop). Aircraft positions are dense: a track puts dozens of fixes in
every cell it crosses. So positions are first snapped to a grid of squares several times smaller
than a cell; a square whose four corners fall in one cell lies wholly inside it (an H3 cell is
convex in the gnomonic projection it is drawn in, and so, to well under a metre, is a square a
few kilometres wide), and all its positions get that cell from four look-ups. Only positions in
squares that straddle a cell edge are looked up one by one. The result is tested equal to
one-by-one look-ups on real traffic.

`h3` is imported inside the functions: a command that draws no cells does not pay for it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SQUARES_PER_EDGE = 8  # squares across one cell edge: few straddle an edge, most are whole
KM_PER_DEGREE = 111.2


def cells_of(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], resolution: int
) -> npt.NDArray[np.uint64]:
    """The H3 cell (as an integer) of each position; positions must be finite."""
    import h3

    n = len(lat)
    if n == 0:
        return np.zeros(0, np.uint64)
    step = h3.average_hexagon_edge_length(resolution, "km") / KM_PER_DEGREE / SQUARES_PER_EDGE
    row = np.floor(lat / step).astype(np.int64)
    col = np.floor(lon / step).astype(np.int64)
    keys, first, inverse = np.unique(row * 2**32 + col, return_index=True, return_inverse=True)
    if 4 * len(keys) >= n:  # sparse positions: one look-up each is cheaper
        return _each(lat, lon, resolution)
    south = np.clip(row[first] * step, -90.0, 90.0)
    north = np.clip((row[first] + 1) * step, -90.0, 90.0)
    west, east = col[first] * step, (col[first] + 1) * step
    corners = np.stack(
        [
            _each(south, west, resolution),
            _each(south, east, resolution),
            _each(north, west, resolution),
            _each(north, east, resolution),
        ],
        axis=1,
    )
    whole = np.all(corners == corners[:, :1], axis=1)
    cells = corners[inverse, 0]
    edge = np.flatnonzero(~whole[inverse])
    cells[edge] = _each(lat[edge], lon[edge], resolution)
    return np.asarray(cells, np.uint64)


def _each(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], resolution: int
) -> npt.NDArray[np.uint64]:
    import h3

    lookup = h3.api.basic_int.latlng_to_cell
    return np.array(
        [lookup(a, b, resolution) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)],
        dtype=np.uint64,
    )


def cell_text(cell: int) -> str:
    """Cells are written as H3's hexadecimal text: a 64-bit integer is not safe in JSON."""
    return f"{int(cell):x}"


def cell_outline(cell: int) -> list[list[float]]:
    """The cell's boundary as a closed GeoJSON ring of [lon, lat]."""
    import h3

    ring = [[lon, lat] for lat, lon in h3.api.basic_int.cell_to_boundary(int(cell))]
    return [*ring, ring[0]]


def cell_centre(cell: int) -> tuple[float, float]:
    """(lat, lon) of the cell's centre."""
    import h3

    lat, lon = h3.api.basic_int.cell_to_latlng(int(cell))
    return float(lat), float(lon)
