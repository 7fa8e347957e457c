"""Where straight segments cross zone boundaries, for many segments at once.

Every zone boundary is cut into its edges, and each zone's edges are binned once into a small
uniform grid over the zone's box (about four edges a cell). A batch of segments (look-ahead
paths, or the step between two fixes) is matched, in numpy, against the edges of its own zone
whose boxes meet its box, through the cells both cover; the crossing parameters are then solved
with numpy. No geometry object per segment: building a shapely line string for each of tens of
thousands of look-ahead paths cost more than the whole search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.arrays import BOOL, F64, I64

EDGES_PER_CELL = 4


@dataclass(frozen=True, slots=True)
class EdgeIndex:
    x0: F64
    y0: F64
    dx: F64
    dy: F64
    zone: npt.NDArray[np.int32]
    cells: EdgeCells

    @classmethod
    def build(cls, shapes: tuple[BaseGeometry, ...] | list[BaseGeometry]) -> EdgeIndex:
        xs, ys, zones = [], [], []
        for i, shape in enumerate(shapes):
            rings = shapely.get_rings(shapely.get_parts(shape))
            for ring in rings:
                coords = shapely.get_coordinates(ring)
                xs.append(coords[:, 0])
                ys.append(coords[:, 1])
                zones.append(np.full(len(coords), i, np.int32))
        if not xs:
            empty = np.zeros(0)
            z = np.zeros(0, np.int32)
            return cls(empty, empty, empty, empty, z, EdgeCells.build(len(shapes), z, *[empty] * 4))
        x, y, z = np.concatenate(xs), np.concatenate(ys), np.concatenate(zones)
        # an edge joins a vertex to the next one of the same ring: drop the ring-to-ring joins
        ring_end = np.cumsum([len(a) for a in xs]) - 1
        keep = np.ones(len(x) - 1, bool)
        keep[ring_end[:-1]] = False
        x0, y0, x1, y1, zone = x[:-1][keep], y[:-1][keep], x[1:][keep], y[1:][keep], z[:-1][keep]
        cells = EdgeCells.build(len(shapes), zone, x0, y0, x1, y1)
        return cls(x0, y0, x1 - x0, y1 - y0, zone, cells)

    def crossings(
        self, zone: npt.NDArray[np.int32], x0: F64, y0: F64, x1: F64, y1: F64
    ) -> tuple[F64, F64]:
        """For segment i (from (x0, y0) to (x1, y1)) against the boundary of zone[i]: the
        fractions along it of its first and second boundary crossings (inf when none)."""
        n = len(zone)
        first, second = np.full(n, np.inf), np.full(n, np.inf)
        if n == 0 or len(self.zone) == 0:
            return first, second
        seg, edge = self.cells.pairs(zone, x0, y0, x1, y1)
        rx, ry = (x1 - x0)[seg], (y1 - y0)[seg]
        sx, sy = self.dx[edge], self.dy[edge]
        qx, qy = self.x0[edge] - x0[seg], self.y0[edge] - y0[seg]
        denominator = rx * sy - ry * sx
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qx * sy - qy * sx) / denominator  # along the segment
            u = (qx * ry - qy * rx) / denominator  # along the edge
        hit = (denominator != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u < 1)
        seg, t = seg[hit], t[hit]
        if len(seg) == 0:
            return first, second
        order = np.lexsort((t, seg))
        seg, t = seg[order], t[order]
        starts = np.flatnonzero(np.append(True, seg[1:] != seg[:-1]))
        first[seg[starts]] = t[starts]
        has_second = np.append(starts[1:], len(seg)) - starts > 1
        second[seg[starts[has_second]]] = t[starts[has_second] + 1]
        return first, second


@dataclass(frozen=True, slots=True)
class EdgeCells:
    """Each zone's edges binned into a g x g grid over the box of its edges (g per zone).

    `pairs` gives exactly the (segment, edge) pairs of the same zone whose boxes meet (what an
    R-tree query of the segments' boxes gives), each once: a pair is taken in the lowest cell
    both boxes cover, in x and in y."""

    side: I64  # g of each zone (0: no edges)
    x_min: F64  # the box of each zone's edges
    y_min: F64
    x_max: F64
    y_max: F64
    cell_w: F64
    cell_h: F64
    first_cell: I64  # of each zone, in the flattened cells of every zone
    start: I64  # entries of cell c: start[c]:start[c + 1]
    edge: I64  # per entry: the edge ...
    low_col: BOOL  # ... and whether its cell is the lowest its box covers, in x and in y
    low_row: BOOL
    box: F64  # rows x_lo, y_lo, x_hi, y_hi; a column per edge (each row gathers contiguously)

    @classmethod
    def build(
        cls, n_zones: int, zone: npt.NDArray[np.int32], x0: F64, y0: F64, x1: F64, y1: F64
    ) -> EdgeCells:
        box = np.stack(
            [np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1)]
        )
        count = np.bincount(zone, minlength=n_zones)
        side = np.where(count > 0, np.ceil(np.sqrt(count / EDGES_PER_CELL)), 0).astype(np.int64)
        side = np.where(count > 0, np.maximum(side, 1), 0)
        x_min, y_min = np.full(n_zones, np.inf), np.full(n_zones, np.inf)
        x_max, y_max = np.full(n_zones, -np.inf), np.full(n_zones, -np.inf)
        np.minimum.at(x_min, zone, box[0])
        np.minimum.at(y_min, zone, box[1])
        np.maximum.at(x_max, zone, box[2])
        np.maximum.at(y_max, zone, box[3])
        with np.errstate(invalid="ignore"):
            cell_w = np.where(count > 0, (x_max - x_min) / np.maximum(side, 1), 1.0)
            cell_h = np.where(count > 0, (y_max - y_min) / np.maximum(side, 1), 1.0)
        cell_w = np.where(cell_w > 0, cell_w, 1.0)  # a zone of one vertical (or level) edge
        cell_h = np.where(cell_h > 0, cell_h, 1.0)
        first_cell = np.concatenate([[0], np.cumsum(side * side)]).astype(np.int64)
        frame = (side, x_min, y_min, x_max, y_max, cell_w, cell_h)
        z = zone.astype(np.int64)
        edge, col, row, low_col, low_row = _expand(np.arange(len(z)), *_cell_range(frame, z, *box))
        cell = first_cell[z[edge]] + row * side[z[edge]] + col
        order = np.argsort(cell, kind="stable")
        start = np.searchsorted(cell[order], np.arange(first_cell[-1] + 1)).astype(np.int64)
        return cls(
            side,
            x_min,
            y_min,
            x_max,
            y_max,
            cell_w,
            cell_h,
            first_cell,
            start,
            edge[order],
            low_col[order],
            low_row[order],
            box,
        )

    def pairs(
        self, zone: npt.NDArray[np.int32], x0: F64, y0: F64, x1: F64, y1: F64
    ) -> tuple[I64, I64]:
        """(segment, edge) pairs of the same zone whose boxes meet."""
        z = zone.astype(np.int64)
        box = np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1)
        frame = (
            self.side,
            self.x_min,
            self.y_min,
            self.x_max,
            self.y_max,
            self.cell_w,
            self.cell_h,
        )
        seg, col, row, low_col, low_row = _expand(np.arange(len(z)), *_cell_range(frame, z, *box))
        zs = z[seg]
        cell = self.first_cell[zs] + row * self.side[zs] + col
        lo = self.start[cell]
        per = self.start[cell + 1] - lo
        at = np.repeat(lo - (np.cumsum(per) - per), per) + np.arange(int(per.sum()))
        # both boxes cover this cell, so the lowest cell both cover is this one in x unless
        # both boxes start left of it (and in y unless both start below it)
        once = np.repeat(low_col, per) | self.low_col[at]
        once &= np.repeat(low_row, per) | self.low_row[at]
        seg, edge = np.repeat(seg, per), self.edge[at]
        x_lo, y_lo, x_hi, y_hi = box
        meet = (self.box[0][edge] <= x_hi[seg]) & (self.box[2][edge] >= x_lo[seg])
        meet &= (self.box[1][edge] <= y_hi[seg]) & (self.box[3][edge] >= y_lo[seg])
        keep = once & meet
        return seg[keep], edge[keep]


def _cell_range(
    frame: tuple[I64, F64, F64, F64, F64, F64, F64],
    z: I64,
    x_lo: F64,
    y_lo: F64,
    x_hi: F64,
    y_hi: F64,
) -> tuple[I64, I64, I64, I64]:
    """The columns and rows of zone z's grid that each box covers, clipped to the grid (an
    edge on the box's far side falls in the last cell); none (hi < lo) when it misses the
    grid's box."""
    side, x_min, y_min, x_max, y_max, cell_w, cell_h = frame
    g = side[z] - 1
    x0, y0 = x_min[z], y_min[z]
    with np.errstate(invalid="ignore"):
        # NaN fails every comparison, so a box with one misses
        hit = (x_hi >= x0) & (x_lo <= x_max[z])
        hit &= (y_hi >= y0) & (y_lo <= y_max[z])
        hit &= (x_lo <= x_hi) & (y_lo <= y_hi) & (g >= 0)
    w, h = cell_w[z], cell_h[z]

    def cells(lo: F64, origin: F64, size: F64) -> I64:
        at = np.floor((np.where(hit, lo, origin) - origin) / size)
        return np.clip(at, 0, g).astype(np.int64)

    none = np.int64(-1)
    return (
        np.where(hit, cells(x_lo, x0, w), 0),
        np.where(hit, cells(y_lo, y0, h), 0),
        np.where(hit, cells(x_hi, x0, w), none),
        np.where(hit, cells(y_hi, y0, h), none),
    )


def _expand(
    item: I64, c_lo: I64, r_lo: I64, c_hi: I64, r_hi: I64
) -> tuple[I64, I64, I64, BOOL, BOOL]:
    """One row per (item, covered cell): item, column, row, and whether the cell is the
    item's lowest column and row."""
    n_col = np.maximum(c_hi - c_lo + 1, 0)
    n_row = np.maximum(r_hi - r_lo + 1, 0)
    count = n_col * n_row
    rep = np.repeat(np.arange(len(item)), count)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
    down, across = np.divmod(j, np.maximum(n_col[rep], 1))
    return item[rep], c_lo[rep] + across, r_lo[rep] + down, across == 0, down == 0
