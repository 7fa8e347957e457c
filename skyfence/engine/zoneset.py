"""Zones compiled for the engine: arrays of limits, grown shapes and the grid index.

Compiled once per run, so the per-batch work touches only arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Proj
from shapely.geometry.base import BaseGeometry

from skyfence.engine.edges import EdgeIndex
from skyfence.engine.grid import ZoneGrid
from skyfence.settings import EngineSettings as EngineSettings  # re-exported for old imports
from skyfence.zones.frame import (
    continuous,
    engine_shape,
    frame_centre,
    grow_polar,
    is_cap,
    near,
    to_frame,
)
from skyfence.zones.model import Zone, ZoneError

POLAR_LAT = 75.0  # beyond this latitude, bounding circles in a flat frame are not bounds
PREDICTION_SPEED_MAX_MS = 360.0  # ~700 kt: farthest a look-ahead can reach, per second


@dataclass(frozen=True, slots=True)
class ZoneSet:
    zones: tuple[Zone, ...]
    frame_lon: npt.NDArray[np.float64]  # zone i's shapes lie within frame_lon[i] ± 180 (+ caps)
    wraps: npt.NDArray[np.bool_]  # zone i's shapes reach past ±180: points need moving
    shapes: tuple[BaseGeometry, ...]
    release_shapes: tuple[BaseGeometry, ...]  # grown by the exit hysteresis
    warning_shapes: tuple[BaseGeometry, ...]  # grown by buffer_m, the target of predictions
    centre_lon: npt.NDArray[np.float64]  # bounding circles of the warning shapes
    centre_lat: npt.NDArray[np.float64]
    radius_m: npt.NDArray[np.float64]
    lookahead_max_s: float
    edges: EdgeIndex  # boundary edges of the zones, for crossing instants
    warning_edges: EdgeIndex  # ... and of the warning shapes, for predicted entries
    floor_ft: npt.NDArray[np.float64]
    ceiling_ft: npt.NDArray[np.float64]
    lookahead_s: npt.NDArray[np.float64]
    period_start: npt.NDArray[np.int64]  # periods of zone i: period_*[start[i]:start[i]+count[i]]
    period_count: npt.NDArray[np.int64]
    period_begin_s: npt.NDArray[np.float64]
    period_end_s: npt.NDArray[np.float64]
    has_rules: npt.NDArray[np.bool_]
    grid: ZoneGrid

    @classmethod
    def compile(cls, zones: list[Zone], settings: EngineSettings) -> ZoneSet:
        ids = [z.id for z in zones]
        if len(set(ids)) != len(ids):
            raise ZoneError("zone ids must be unique across all zone files")
        lookahead = np.array(
            [
                settings.lookahead_s if settings.lookahead_s is not None else z.lookahead_s
                for z in zones
            ],
            dtype=np.float64,
        )
        shapes = [engine_shape(z.geometry) for z in zones]
        release = [engine_shape(grow(z.geometry, settings.exit_hysteresis_m)) for z in zones]
        warning = [engine_shape(grow(z.geometry, z.buffer_m)) for z in zones]
        frame = np.array([frame_centre(z.geometry) for z in zones], dtype=np.float64)
        for shape in (*shapes, *release, *warning):
            shapely.prepare(shape)
        margins = [
            max(settings.exit_hysteresis_m, z.buffer_m) + la * PREDICTION_SPEED_MAX_MS
            for z, la in zip(zones, lookahead, strict=True)
        ]
        counts = np.array([len(z.active) for z in zones], dtype=np.int64)
        periods = [p for z in zones for p in z.active]
        return cls(
            zones=tuple(zones),
            frame_lon=frame,
            wraps=np.array(
                [
                    min(s.bounds[0] for s in group) < -180 or max(s.bounds[2] for s in group) > 180
                    for group in zip(shapes, release, warning, strict=True)
                ],
                dtype=bool,
            ),
            shapes=tuple(shapes),
            release_shapes=tuple(release),
            warning_shapes=tuple(warning),
            **_bounding_circles(warning),
            lookahead_max_s=float(lookahead.max(initial=0.0)),
            edges=EdgeIndex.build(shapes),
            warning_edges=EdgeIndex.build(warning),
            floor_ft=np.array([z.floor_ft for z in zones], dtype=np.float64),
            ceiling_ft=np.array([z.ceiling_ft for z in zones], dtype=np.float64),
            lookahead_s=lookahead,
            period_start=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            if zones
            else np.zeros(0, np.int64),
            period_count=counts,
            period_begin_s=np.array([p[0] for p in periods], dtype=np.float64),
            period_end_s=np.array([p[1] for p in periods], dtype=np.float64),
            has_rules=np.array(
                [z.applies_to is not None or not z.exempt.is_empty for z in zones], dtype=bool
            ),
            grid=ZoneGrid.build(shapes, release, warning, margins, frame),
        )

    def __len__(self) -> int:
        return len(self.zones)

    def in_frame(
        self, zone: npt.NDArray[np.int32], lon: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Longitudes moved into their zone's frame, where its shapes do not wrap."""
        return to_frame(lon, self.frame_lon[zone])

    def active_at(
        self, zone: npt.NDArray[np.int32], t_s: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """Whether each zone is active at each time (a zone without periods always is)."""
        count = self.period_count[zone]
        active = count == 0
        for k in range(int(count.max(initial=0))):  # loop over periods per zone (usually 1)
            has = count > k
            p = self.period_start[zone[has]] + k
            hit = (self.period_begin_s[p] <= t_s[has]) & (t_s[has] < self.period_end_s[p])
            active[has] |= hit
        return np.asarray(active, dtype=bool)


def grow(geometry: BaseGeometry, distance_m: float) -> BaseGeometry:
    """The shape grown by a distance in metres, in a local equidistant projection (centred on
    the pole for a cap round it), in the same longitude frame as the shape."""
    if distance_m <= 0:
        return geometry
    if any(is_cap(p) for p in shapely.get_parts(geometry)):
        return grow_polar(geometry, distance_m)
    centre = geometry.centroid
    # a bare projection, not a CRS-to-CRS Transformer: the same numbers, 50x cheaper to set up
    # (that set-up was most of compiling a thousand zones)
    local = Proj(f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m")
    planar = shapely.transform(geometry, lambda xy: np.column_stack(local(xy[:, 0], xy[:, 1])))
    grown = planar.buffer(distance_m, quad_segs=8)
    result = shapely.transform(
        grown, lambda xy: np.column_stack(local(xy[:, 0], xy[:, 1], inverse=True))
    )
    if not math.isfinite(result.area):
        return geometry
    return near(continuous(result), frame_centre(geometry))


def _bounding_circles(shapes: list[BaseGeometry]) -> dict[str, npt.NDArray[np.float64]]:
    """A circle around each shape (centre of its box, metres): a cheap first test for paths.
    Near a pole the flat approximation fails: those shapes get an unbounded circle."""
    lon, lat, radius = [], [], []
    for shape in shapes:
        west, south, east, north = shape.bounds
        if max(abs(south), abs(north)) > POLAR_LAT:
            lon.append((west + east) / 2)
            lat.append((south + north) / 2)
            radius.append(math.inf)
            continue
        cx, cy = (west + east) / 2, (south + north) / 2
        xy = shapely.get_coordinates(shape)
        dx = (xy[:, 0] - cx) * 111_320.0 * np.cos(np.radians(cy))
        dy = (xy[:, 1] - cy) * 111_320.0
        lon.append(cx)
        lat.append(cy)
        radius.append(float(np.hypot(dx, dy).max()) * 1.02 + 100.0)  # flat-earth slack
    return {
        "centre_lon": np.array(lon, np.float64),
        "centre_lat": np.array(lat, np.float64),
        "radius_m": np.array(radius, np.float64),
    }
