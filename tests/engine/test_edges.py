"""The edge index against shapely, an independent implementation of the same questions.

The segments are the steps between real fixes (traffic's quickstart, moved onto Ukraine's FIRs
so that they cross the Lviv FIR's boundary) and long look-ahead paths from the same
fixes, against the bundled Ukraine zones and the boxes of tests/data/paris_zones.geojson, whose
edges lie on the far sides of their grids' boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely

from skyfence.engine.edges import EdgeIndex
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones
from skyfence.zones.load import load_zone_source

DATA = Path(__file__).parents[1] / "data"


def _segments(
    sv: StateVectors, shapes: list[shapely.Geometry], shift: tuple[float, float]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each step of each aircraft, and a 60 km path along its track from every 30th fix,
    against every zone."""
    lon, lat = sv.lon_deg + shift[0], sv.lat_deg + shift[1]
    same = (sv.icao24[1:] == sv.icao24[:-1]) & np.isfinite(lon[1:]) & np.isfinite(lon[:-1])
    a = np.column_stack([lon[:-1], lat[:-1]])[same]
    b = np.column_stack([lon[1:], lat[1:]])[same]
    k = np.flatnonzero(np.isfinite(sv.track_deg) & np.isfinite(lon))[::30]
    track = np.radians(sv.track_deg[k])
    start = np.column_stack([lon[k], lat[k]])
    end = start + np.column_stack([np.sin(track) * 0.8, np.cos(track) * 0.55])
    a, b = np.concatenate([a, start]), np.concatenate([b, end])
    zone = np.repeat(np.arange(len(shapes), dtype=np.int32), len(a))
    return zone, np.tile(a, (len(shapes), 1)), np.tile(b, (len(shapes), 1))


def _shapely_pairs(
    index: EdgeIndex,
    zone: npt.NDArray[np.int32],
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
) -> set[tuple[int, int]]:
    edges = shapely.linestrings(
        np.stack(
            [
                np.column_stack([index.x0, index.y0]),
                np.column_stack([index.x0 + index.dx, index.y0 + index.dy]),
            ],
            axis=1,
        )
    )
    seg, edge = shapely.STRtree(edges).query(shapely.linestrings(np.stack([a, b], axis=1)))
    own = index.zone[edge] == zone[seg]
    return set(zip(seg[own].tolist(), edge[own].tolist(), strict=True))


def _check(samples: Path, shapes: list[shapely.Geometry], shift: tuple[float, float]) -> None:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    sv = sv.take(np.flatnonzero(np.floor(sv.t_s) % 10 == 0))
    index = EdgeIndex.build(shapes)
    zone, a, b = _segments(sv, shapes, shift)
    seg, edge = index.cells.pairs(zone, a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    found = list(zip(seg.tolist(), edge.tolist(), strict=True))
    assert len(set(found)) == len(found)  # each pair once
    expected = _shapely_pairs(index, zone, a, b)
    assert set(found) == expected
    first, second = index.crossings(zone, a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    boundaries = shapely.boundary(np.array(shapes, dtype=object))[zone]
    meets = shapely.intersects(lines, boundaries)
    crossed = np.isfinite(first)
    assert crossed.sum() > 100  # real crossings, not an empty agreement
    # a crossing found is where shapely finds the line meeting the boundary (collinear
    # touches, which have no single crossing point, are the only ones shapely alone sees)
    assert not (crossed & ~meets).any()
    assert (meets & ~crossed).sum() <= 0.001 * meets.sum()
    at = a[crossed] + (b - a)[crossed] * first[crossed, None]
    distance = shapely.distance(shapely.points(at), boundaries[crossed])
    assert distance.max() < 1e-9
    assert (second[crossed] >= first[crossed]).all()


def test_pairs_and_crossings_match_shapely_on_ukraine_firs(samples: Path) -> None:
    shapes = [z.geometry for z in load_zone_source("ukraine")]
    # Paris traffic moved onto the Polish-Ukrainian border, across the Lviv FIR's boundary
    _check(samples, shapes, (24.0 - 2.35, 50.4 - 48.86))


def test_pairs_and_crossings_match_shapely_on_boxes_and_circles(samples: Path) -> None:
    shapes = [z.geometry for z in load_zones(DATA / "paris_zones.geojson")]
    _check(samples, shapes, (0.0, 0.0))


def test_no_zones_and_no_segments() -> None:
    """An engine with no zones (the interference map's) still builds its index."""
    index = EdgeIndex.build([])
    nothing = np.zeros(0)
    first, second = index.crossings(np.zeros(0, np.int32), nothing, nothing, nothing, nothing)
    assert len(first) == len(second) == 0
    paris = EdgeIndex.build([z.geometry for z in load_zones(DATA / "paris_zones.geojson")])
    seg, edge = paris.cells.pairs(np.zeros(0, np.int32), nothing, nothing, nothing, nothing)
    assert len(seg) == len(edge) == 0
