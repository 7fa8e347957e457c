"""Rebuild skyfence/data/countries.geojson.gz, the offline base map of the web UI.

Run once by a maintainer (needs `npm`); the output is committed so users need nothing.
Source: Natural Earth 1:50m admin-0 countries (public domain), as TopoJSON in the npm package
`world-atlas` (ISC licence, Mike Bostock). The TopoJSON is decoded here (quantized, delta-encoded
arcs) into a GeoJSON FeatureCollection with properties {"name"} and coordinates rounded to 4
decimals. TopoJSON from world-atlas is spherical: rings that cross the antimeridian (Russia, Fiji)
or go round a pole (Antarctica) are cut into planar polygons here, so a flat map draws them with
no streaks; every geometry comes out valid.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import shapely
import shapely.affinity
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

PACKAGE = "world-atlas@2"
MEMBER = "package/countries-50m.json"
DECIMALS = 4
LAT_MAX = 89.99  # drops the sliver round the South Pole (far past what Mercator shows)
OUT = Path(__file__).parent.parent / "skyfence" / "data" / "countries.geojson.gz"

Coord = list[float]


def fetch_topology(spec: str = PACKAGE) -> dict[str, Any]:
    """`npm pack` the package into a temp dir and return the parsed countries-50m.json."""
    with tempfile.TemporaryDirectory() as tmp:
        out = (
            subprocess.run(
                ["npm", "pack", "--silent", spec],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(Path(tmp) / out) as tar:
            f = tar.extractfile(MEMBER)
            assert f is not None, MEMBER
            return json.load(f)  # type: ignore[no-any-return]


def decode_arcs(topo: dict[str, Any]) -> list[list[Coord]]:
    """Absolute lon/lat arcs from TopoJSON's (optionally) quantized, delta-encoded arcs."""
    tr = topo.get("transform")
    arcs: list[list[Coord]] = []
    for arc in topo["arcs"]:
        if tr is None:
            arcs.append([[float(p[0]), float(p[1])] for p in arc])
            continue
        (sx, sy), (tx, ty) = tr["scale"], tr["translate"]
        x = y = 0
        pts: list[Coord] = []
        for p in arc:
            x += p[0]
            y += p[1]
            pts.append([x * sx + tx, y * sy + ty])
        arcs.append(pts)
    return arcs


def ring(indices: list[int], arcs: list[list[Coord]]) -> list[Coord]:
    """Stitch arcs into one ring; a negative index ~i means arc i reversed."""
    pts: list[Coord] = []
    for i in indices:
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        # consecutive arcs share their junction point
        pts.extend(a if not pts else a[1:])
    return pts


def unwrap(r: list[Coord]) -> list[Coord]:
    """Make longitudes continuous: no step of more than 180 degrees (so across the antimeridian
    a ring runs on past 180 or below -180)."""
    out = [list(r[0])]
    for x, y in r[1:]:
        px = out[-1][0]
        while x - px > 180:
            x -= 360
        while x - px < -180:
            x += 360
        out.append([x, y])
    return out


def ring_region(r: list[Coord]) -> BaseGeometry:
    """The planar region a (spherical) ring bounds; one that goes round a pole (Antarctica)
    is closed along that pole."""
    u = unwrap(r)
    turn = u[-1][0] - u[0][0]
    if abs(turn) > 180:  # went round the globe: close it at the pole on its side
        pole = -90.0 if sum(p[1] for p in u) < 0 else 90.0
        u = [*u, [u[-1][0], pole], [u[0][0], pole]]
    return shapely.make_valid(Polygon(u))


def planar(rings: list[list[Coord]]) -> BaseGeometry:
    """A TopoJSON polygon (outer ring and holes) as a valid planar geometry within
    [-180, 180] x [-90, 90]: cut at the antimeridian, pieces shifted back."""
    region: BaseGeometry = ring_region(rings[0])
    for hole in rings[1:]:  # even-odd: a hole, or the polar cap a pole ring leaves out
        region = region.symmetric_difference(ring_region(hole))
    pieces = []
    for shift in (-360, 0, 360):
        window = box(-180 - shift, -LAT_MAX, 180 - shift, LAT_MAX)
        part = region.intersection(window)
        if not part.is_empty:
            pieces.append(shapely.affinity.translate(part, xoff=shift))
    return shapely.union_all(pieces)


def polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon | GeometryCollection):
        return [p for g in geom.geoms for p in polygons(g)]
    return []  # lines and points left by cutting


def coords(ring: Any) -> list[Coord]:
    return [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in ring.coords]


def geometry(obj: dict[str, Any], arcs: list[list[Coord]]) -> dict[str, Any] | None:
    kind = obj.get("type")
    if kind == "Polygon":
        topo_polys = [obj["arcs"]]
    elif kind == "MultiPolygon":
        topo_polys = obj["arcs"]
    else:
        return None  # countries-50m holds only (Multi)Polygons and a few null geometries
    parts = [planar([ring(r, arcs) for r in rings]) for rings in topo_polys]
    geom = shapely.set_precision(shapely.union_all(parts), 10**-DECIMALS)
    polys = [orient(p, 1.0) for p in polygons(geom)]  # RFC 7946 winding
    if not polys:
        return None
    out = [[coords(p.exterior), *(coords(h) for h in p.interiors)] for p in polys]
    if len(out) == 1:
        return {"type": "Polygon", "coordinates": out[0]}
    return {"type": "MultiPolygon", "coordinates": out}


def to_geojson(topo: dict[str, Any]) -> dict[str, Any]:
    arcs = decode_arcs(topo)
    features = []
    for obj in topo["objects"]["countries"]["geometries"]:
        geom = geometry(obj, arcs)
        if geom is None:
            continue
        name = (obj.get("properties") or {}).get("name", "")
        features.append({"type": "Feature", "properties": {"name": name}, "geometry": geom})
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else PACKAGE
    fc = to_geojson(fetch_topology(spec))
    data = json.dumps(fc, separators=(",", ":"), ensure_ascii=False).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: byte-identical output for identical input
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    print(
        f"{OUT}: {len(fc['features'])} countries, {len(data)} bytes JSON, "
        f"{OUT.stat().st_size} bytes gzip"
    )


if __name__ == "__main__":
    main()
