"""A uniform grid over the zones that answers "which zones could this point be in or near?".

Each grid cell lists the zones whose neighbourhood (zone bounds plus the look-ahead distance and
margins) overlaps it, with a verdict per zone: the cell lies wholly inside the zone, wholly
outside it, or straddles the boundary; and for cells outside, a lower bound of the distance to
the zone's warning shape, so a look-ahead too short to reach it is skipped. Points in wholly-in
or wholly-out cells are answered by a table look-up; only points in straddling cells need the
exact (shapely) test. Most traffic is far from every zone and costs a few array operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.zones.frame import to_frame, wrap_lon

OUT, IN, TEST = np.int8(0), np.int8(1), np.int8(2)
EARTH_M_PER_DEG = 111_320.0
MAX_CELLS = 8_000_000
FAR_KEY = 1e6  # km: gaps are far below this, so cell * FAR_KEY + gap_km orders entries


@dataclass(frozen=True, slots=True)
class Pairs:
    """(point, zone) candidate pairs found by the grid, with the cell's verdicts."""

    point: npt.NDArray[np.int64]
    zone: npt.NDArray[np.int32]
    zone_status: npt.NDArray[np.int8]  # for the zone polygon: OUT, IN or TEST
    release_status: npt.NDArray[np.int8]  # for the zone grown by the exit hysteresis
    gap_m: npt.NDArray[np.float32]  # at least this far from the warning shape (0 if touching)

    def take(self, index: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> Pairs:
        return Pairs(
            self.point[index],
            self.zone[index],
            self.zone_status[index],
            self.release_status[index],
            self.gap_m[index],
        )


@dataclass(frozen=True, slots=True)
class ZoneGrid:
    west: float
    south: float
    cell_deg: float
    n_cols: int
    n_rows: int
    offsets: npt.NDArray[np.int64]  # entries of cell c are offsets[c]:offsets[c + 1]
    entries: Pairs  # zones whose shape or release shape meets the cell; `point` = cell id
    far_offsets: npt.NDArray[np.int64]
    far_entries: Pairs  # zones near but clear of the cell, nearest first within each cell
    far_keys: npt.NDArray[np.float64]  # cell id * FAR_KEY + gap in km, for reach look-ups
    n_zones: int
    pair_keys: npt.NDArray[np.int64]  # cell id * n_zones + zone, sorted, for every entry
    pair_gap_m: npt.NDArray[np.float32]  # its distance bound (0 where the cell meets the zone)

    @classmethod
    def build(
        cls,
        shapes: list[BaseGeometry],
        release_shapes: list[BaseGeometry],
        warning_shapes: list[BaseGeometry],
        margins_m: list[float],
        frame_lon: npt.NDArray[np.float64] | None = None,
        cell_deg: float = 0.1,
    ) -> ZoneGrid:
        """Index zones; `margins_m[i]` is how far outside zone i a point is still of interest.
        Zone i's shapes lie in the longitude frame `frame_lon[i]` ± 180 (see zones.frame):
        the grid is in native longitudes, each cell tested against the zone moved into it."""
        if frame_lon is None:
            frame_lon = np.zeros(len(shapes))
        boxes = [_grown_bounds(s.bounds, m) for s, m in zip(shapes, margins_m, strict=True)]
        # each zone's box in its frame, as native longitude ranges (the part past ±180 wraps)
        native = [
            [
                (max(-180.0, b[0] + k), b[1], min(180.0, b[2] + k), b[3])
                for k in (-360.0, 0.0, 360.0)
                if b[0] + k < 180.0 and b[2] + k > -180.0
            ]
            for b in boxes
        ]
        if not any(native):
            none = _entries([])
            return cls(
                0.0,
                0.0,
                cell_deg,
                0,
                0,
                np.zeros(1, np.int64),
                none,
                np.zeros(1, np.int64),
                none,
                np.zeros(0),
                0,
                np.zeros(0, np.int64),
                np.zeros(0, np.float32),
            )
        flat = [b for ranges in native for b in ranges]
        west = math.floor(min(b[0] for b in flat) / cell_deg) * cell_deg
        south = math.floor(min(b[1] for b in flat) / cell_deg) * cell_deg
        east, north = max(b[2] for b in flat), max(b[3] for b in flat)
        while (
            math.ceil((east - west) / cell_deg) * math.ceil((north - south) / cell_deg) > MAX_CELLS
        ):
            cell_deg *= 2
        n_cols = max(1, math.ceil((east - west) / cell_deg))
        n_rows = max(1, math.ceil((north - south) / cell_deg))

        parts = []
        for i, ranges in enumerate(native):
            if not ranges:
                continue
            col_ranges = [
                np.arange(
                    int((b[0] - west) / cell_deg),
                    min(n_cols - 1, int((b[2] - west) / cell_deg)) + 1,
                )
                for b in ranges
            ]
            r0 = int((ranges[0][1] - south) / cell_deg)
            r1 = min(n_rows - 1, int((ranges[0][3] - south) / cell_deg))
            grid_cols, grid_rows = np.meshgrid(
                np.unique(np.concatenate(col_ranges)), np.arange(r0, r1 + 1)
            )
            cols, rows = grid_cols.ravel(), grid_rows.ravel()
            x0, y0 = west + cols * cell_deg, south + rows * cell_deg
            # the cell as the zone's frame sees it (moved by a multiple of 360 degrees)
            mid = np.asarray(x0 + cell_deg / 2, np.float64)
            x0 = x0 + (to_frame(mid, float(frame_lon[i])) - mid)
            cells = shapely.box(x0, y0, x0 + cell_deg, y0 + cell_deg)
            zone_status = _verdicts(shapes[i], cells)
            gap_deg = np.zeros(len(cells))
            out = zone_status == OUT
            gap_deg[out] = shapely.distance(warning_shapes[i], cells[out])
            # a degree of longitude is shortest at the highest latitude: a lower bound
            widest = max(abs(boxes[i][1]), abs(boxes[i][3]))
            m_per_deg = EARTH_M_PER_DEG * max(math.cos(math.radians(widest)), 0.01)
            parts.append(
                Pairs(
                    rows.astype(np.int64) * n_cols + cols,
                    np.full(len(cols), i, np.int32),
                    zone_status,
                    _verdicts(release_shapes[i], cells),
                    (gap_deg * m_per_deg).astype(np.float32),
                )
            )
        entries = _entries(parts)
        clear = (entries.zone_status == OUT) & (entries.release_status == OUT)
        near, far = entries.take(~clear), entries.take(clear)
        near = near.take(np.argsort(near.point, kind="stable"))
        far = far.take(np.lexsort((far.gap_m, far.point)))
        n_cells = n_cols * n_rows
        far_keys = far.point * FAR_KEY + far.gap_m.astype(np.float64) / 1000.0
        pair_keys = entries.point * len(shapes) + entries.zone
        by_key = np.argsort(pair_keys)
        gap = np.where(clear, entries.gap_m, np.float32(0)).astype(np.float32)
        return cls(
            west,
            south,
            cell_deg,
            n_cols,
            n_rows,
            _offsets(near, n_cells),
            near,
            _offsets(far, n_cells),
            far,
            far_keys,
            len(shapes),
            pair_keys[by_key],
            gap[by_key],
        )

    def _cells(
        self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        col = np.floor((wrap_lon(lon) - self.west) / self.cell_deg)
        row = np.floor((lat - self.south) / self.cell_deg)
        on_grid = (col >= 0) & (col < self.n_cols) & (row >= 0) & (row < self.n_rows)
        points = np.flatnonzero(on_grid)
        return points, row[points].astype(np.int64) * self.n_cols + col[points].astype(np.int64)

    def gap_m(
        self,
        lon: npt.NDArray[np.float64],
        lat: npt.NDArray[np.float64],
        zone: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.float64]:
        """A lower bound of each point's distance to its zone's warning shape; inf beyond the
        zone's neighbourhood (farther than any look-ahead reaches)."""
        out = np.full(len(lon), np.inf)
        points, cell = self._cells(lon, lat)
        if len(points) == 0 or len(self.pair_keys) == 0:
            return out
        key = cell * self.n_zones + zone[points]
        at = np.minimum(np.searchsorted(self.pair_keys, key), len(self.pair_keys) - 1)
        found = self.pair_keys[at] == key
        out[points[found]] = self.pair_gap_m[at[found]]
        return out

    def far_candidates(
        self,
        lon: npt.NDArray[np.float64],
        lat: npt.NDArray[np.float64],
        reach_m: npt.NDArray[np.float64],
    ) -> Pairs:
        """(point, zone) pairs clear of the zone but within the point's reach of it."""
        if len(self.far_keys) == 0:
            return _entries([])
        points, cell = self._cells(lon, lat)
        start, stop = self.far_offsets[cell], self.far_offsets[cell + 1]
        # each cell's entries are nearest first: most points cannot reach even the first one,
        # and are dropped before the binary search
        first_gap = self.far_entries.gap_m[np.minimum(start, len(self.far_keys) - 1)]
        near = np.flatnonzero((stop > start) & (first_gap <= reach_m[points]))
        points, cell, start = points[near], cell[near], start[near]
        limit = cell * FAR_KEY + np.minimum(reach_m[points], FAR_KEY * 1000 - 1) / 1000.0
        stop = np.searchsorted(self.far_keys, limit, side="right")
        return _expand(self.far_entries, points, start, np.maximum(stop - start, 0))

    def candidates(self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> Pairs:
        """(point, zone) pairs where the point's cell meets the zone or its release shape."""
        points, cell = self._cells(lon, lat)
        start = self.offsets[cell]
        return _expand(self.entries, points, start, self.offsets[cell + 1] - start)


def _expand(
    entries: Pairs,
    points: npt.NDArray[np.int64],
    start: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
) -> Pairs:
    """Point i paired with entries start[i]:start[i] + count[i], without a Python loop."""
    has = count > 0
    points, start, count = points[has], start[has], count[has]
    first = np.cumsum(count) - count
    entry = np.repeat(start - first, count) + np.arange(int(count.sum()))
    return Pairs(
        np.repeat(points, count),
        entries.zone[entry],
        entries.zone_status[entry],
        entries.release_status[entry],
        entries.gap_m[entry],
    )


def _offsets(entries: Pairs, n_cells: int) -> npt.NDArray[np.int64]:
    counts = np.bincount(entries.point, minlength=n_cells)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _verdicts(shape: BaseGeometry, cells: npt.NDArray[np.object_]) -> npt.NDArray[np.int8]:
    shapely.prepare(shape)
    inside = shapely.contains(shape, cells)
    touches = shapely.intersects(shape, cells)
    return np.where(inside, IN, np.where(touches, TEST, OUT)).astype(np.int8)


def _entries(parts: list[Pairs]) -> Pairs:
    if not parts:
        return Pairs(
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int8),
            np.zeros(0, np.int8),
            np.zeros(0, np.float32),
        )
    return Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in Pairs.__slots__))


def _grown_bounds(bounds: tuple[float, ...], margin_m: float) -> tuple[float, float, float, float]:
    west, south, east, north = bounds
    dlat = margin_m / EARTH_M_PER_DEG
    widest = min(max(abs(south - dlat), abs(north + dlat), 0.0), 90.0)
    dlon = min(180.0, margin_m / (EARTH_M_PER_DEG * max(math.cos(math.radians(widest)), 0.01)))
    # longitudes are not clamped: past ±180 the box wraps (ZoneGrid.build)
    # (and reach a little past the poles: a point at ±90 must fall in a cell)
    return (west - dlon, max(-90.5, south - dlat), east + dlon, min(90.5, north + dlat))
