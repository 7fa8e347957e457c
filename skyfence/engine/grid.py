"""A uniform grid over the zones that answers "which zones could this point be in or near?".

Each grid cell lists the zones whose neighbourhood (zone bounds plus the look-ahead distance and
margins) overlaps it, with a verdict per zone: the cell lies wholly inside the zone, wholly
outside it, or straddles the boundary. Points in wholly-in or wholly-out cells are answered by a
table look-up; only points in straddling cells need the exact (shapely) test. Most traffic is far
from every zone and costs a few array operations per point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

OUT, IN, TEST = np.int8(0), np.int8(1), np.int8(2)
EARTH_M_PER_DEG = 111_320.0
MAX_CELLS = 8_000_000


@dataclass(frozen=True, slots=True)
class Pairs:
    """(point, zone) candidate pairs found by the grid, with the cell verdicts for both shapes."""

    point: npt.NDArray[np.int64]
    zone: npt.NDArray[np.int32]
    zone_status: npt.NDArray[np.int8]  # verdict for the zone polygon: OUT, IN or TEST
    release_status: npt.NDArray[np.int8]  # verdict for the zone grown by the exit hysteresis


@dataclass(frozen=True, slots=True)
class ZoneGrid:
    west: float
    south: float
    cell_deg: float
    n_cols: int
    n_rows: int
    offsets: npt.NDArray[np.int64]  # entries of cell c are offsets[c]:offsets[c + 1]
    entry_zone: npt.NDArray[np.int32]
    entry_zone_status: npt.NDArray[np.int8]
    entry_release_status: npt.NDArray[np.int8]

    @classmethod
    def build(
        cls,
        shapes: list[BaseGeometry],
        release_shapes: list[BaseGeometry],
        margins_m: list[float],
        cell_deg: float = 0.1,
    ) -> ZoneGrid:
        """Index zones; `margins_m[i]` is how far outside zone i a point is still of interest."""
        boxes = [_grown_bounds(s.bounds, m) for s, m in zip(shapes, margins_m, strict=True)]
        if not boxes:
            return cls(0.0, 0.0, cell_deg, 0, 0, np.zeros(1, np.int64), *_no_entries())
        west = math.floor(min(b[0] for b in boxes) / cell_deg) * cell_deg
        south = math.floor(min(b[1] for b in boxes) / cell_deg) * cell_deg
        east = max(b[2] for b in boxes)
        north = max(b[3] for b in boxes)
        while (
            math.ceil((east - west) / cell_deg) * math.ceil((north - south) / cell_deg) > MAX_CELLS
        ):
            cell_deg *= 2
        n_cols = max(1, math.ceil((east - west) / cell_deg))
        n_rows = max(1, math.ceil((north - south) / cell_deg))

        cells, zones, zone_status, release_status = [], [], [], []
        for i, (shape, release, box) in enumerate(zip(shapes, release_shapes, boxes, strict=True)):
            c0, r0 = int((box[0] - west) / cell_deg), int((box[1] - south) / cell_deg)
            c1 = min(n_cols - 1, int((box[2] - west) / cell_deg))
            r1 = min(n_rows - 1, int((box[3] - south) / cell_deg))
            grid_cols, grid_rows = np.meshgrid(np.arange(c0, c1 + 1), np.arange(r0, r1 + 1))
            cols, rows = grid_cols.ravel(), grid_rows.ravel()
            x0, y0 = west + cols * cell_deg, south + rows * cell_deg
            cell_boxes = shapely.box(x0, y0, x0 + cell_deg, y0 + cell_deg)
            cells.append(rows.astype(np.int64) * n_cols + cols)
            zones.append(np.full(len(cols), i, np.int32))
            zone_status.append(_verdicts(shape, cell_boxes))
            release_status.append(_verdicts(release, cell_boxes))
        cell_ids = np.concatenate(cells)
        order = np.argsort(cell_ids, kind="stable")
        counts = np.bincount(cell_ids, minlength=n_cols * n_rows)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(
            west,
            south,
            cell_deg,
            n_cols,
            n_rows,
            offsets,
            np.concatenate(zones)[order],
            np.concatenate(zone_status)[order],
            np.concatenate(release_status)[order],
        )

    def candidates(self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> Pairs:
        """Every (point, zone) pair where the point is in the zone's neighbourhood."""
        col = np.floor((lon - self.west) / self.cell_deg)
        row = np.floor((lat - self.south) / self.cell_deg)
        on_grid = (col >= 0) & (col < self.n_cols) & (row >= 0) & (row < self.n_rows)
        points = np.flatnonzero(on_grid)
        cell = row[points].astype(np.int64) * self.n_cols + col[points].astype(np.int64)
        start = self.offsets[cell]
        count = self.offsets[cell + 1] - start
        has = count > 0
        points, start, count = points[has], start[has], count[has]
        total = int(count.sum())
        point = np.repeat(points, count)
        # entry index = start of its cell + rank within the cell, without a Python loop
        first = np.cumsum(count) - count
        entry = np.repeat(start - first, count) + np.arange(total)
        return Pairs(
            point,
            self.entry_zone[entry],
            self.entry_zone_status[entry],
            self.entry_release_status[entry],
        )


def _verdicts(shape: BaseGeometry, cell_boxes: npt.NDArray[np.object_]) -> npt.NDArray[np.int8]:
    shapely.prepare(shape)
    inside = shapely.contains(shape, cell_boxes)
    touches = shapely.intersects(shape, cell_boxes)
    return np.where(inside, IN, np.where(touches, TEST, OUT)).astype(np.int8)


def _grown_bounds(bounds: tuple[float, ...], margin_m: float) -> tuple[float, float, float, float]:
    west, south, east, north = bounds
    dlat = margin_m / EARTH_M_PER_DEG
    widest = max(abs(south - dlat), abs(north + dlat), 0.0)
    dlon = min(180.0, margin_m / (EARTH_M_PER_DEG * max(math.cos(math.radians(widest)), 0.01)))
    return (
        max(-180.0, west - dlon),
        max(-90.0, south - dlat),
        min(180.0, east + dlon),
        min(90.0, north + dlat),
    )


def _no_entries() -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    return np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0, np.int8)
