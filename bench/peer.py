"""`skyfence audit` against what an analyst would write instead: `python -m bench.peer`.

The peer is the plain GeoPandas script below (read the Parquet file, `sjoin` the points within
the zones, keep those inside each zone's band, and count entries as outside -> inside transitions
per aircraft): it does less than the audit (no integrity, crossings, look-ahead, exits or lost
contacts) but it is what a user compares the wait with. Both run as whole processes, as a user
runs them, interleaved, best of `--runs`; wall time and peak RSS of each process.

The workload is dense: traffic's quickstart sample (213 real aircraft around Paris, OpenSky state
vectors) taken at 10 s as OpenSky's history serves them, copied under other addresses and on
later days to `--copies` times its size (40: 1.1 million state vectors), against three zones in
the middle of the traffic (Paris, the CDG approach, the box north of it). The same rows are
written as one Parquet file and as an hourly folder (OpenSky's layout).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely
from shapely.geometry import box

from bench.scale import opensky_files, opensky_table
from bench.workload import samples
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import geodesic_circle

PEER_SCRIPT = """
import json, sys

import geopandas as gpd
import pandas as pd
from shapely.geometry import shape

FT = 0.3048


def metres(limit):
    if limit == "SFC":
        return -1e9
    if limit == "UNL":
        return 1e9
    return int(limit[2:]) * 100 * FT  # FLnnn


source, zone_file = sys.argv[1], sys.argv[2]
df = pd.read_parquet(source, columns=["time", "icao24", "lat", "lon", "baroaltitude"])
df = df.dropna(subset=["lat", "lon"]).sort_values(["icao24", "time"], kind="stable")
df = df.reset_index(drop=True)
features = json.load(open(zone_file))["features"]
zones = gpd.GeoDataFrame(
    {
        "zone": [f["properties"]["id"] for f in features],
        "floor_m": [metres(f["properties"]["floor"]) for f in features],
        "ceiling_m": [metres(f["properties"]["ceiling"]) for f in features],
    },
    geometry=[shape(f["geometry"]) for f in features],
    crs="EPSG:4326",
)
points = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs="EPSG:4326")
inside = gpd.sjoin(points, zones, predicate="within", how="inner")
inside = inside[(inside.baroaltitude >= inside.floor_m) & (inside.baroaltitude <= inside.ceiling_m)]
# an entry: a row inside a zone whose previous row of the same aircraft was not inside it
first = df.icao24.ne(df.icao24.shift())
rows = pd.DataFrame({"row": inside.index.to_numpy(), "zone": inside.zone.to_numpy()})
before = rows.assign(row=rows.row + 1, was_inside=True)
rows = rows.merge(before, on=["row", "zone"], how="left")
entries = rows[rows.was_inside.isna() | first.to_numpy()[rows.row.to_numpy()]]
print(len(entries))
"""


def dense_tracks(copies: int) -> StateVectors:
    """quickstart at 10 s, `copies` times under other addresses and on later days."""
    sv = StateVectors.concat(list(read_recording(samples() / "collections/quickstart.json.gz")))
    sv = sv.take(np.flatnonzero(np.floor(sv.t_s) % 10 == 0))
    return StateVectors.concat(
        [
            replace(
                sv,
                icao24=sv.icao24 ^ np.uint32((k % 16) << 20 | (k // 16) << 16),  # within 24 bits
                t_s=sv.t_s + (k // 4) * 86_400.0,  # four skies a day, over copies / 4 days
                t_pos_s=sv.t_pos_s + (k // 4) * 86_400.0,
            )
            for k in range(copies)
        ]
    )


def zone_file(path: Path) -> None:
    """Three zones where the traffic is: polygons, so that both programs read the same shapes."""
    zones = [
        ("PEER-PARIS", geodesic_circle(2.3522, 48.8566, 20_000.0), "SFC", "FL100"),
        ("PEER-CDG", box(2.3, 48.9, 3.0, 49.2), "SFC", "UNL"),
        ("PEER-NORTH", box(2.0, 49.2, 3.0, 49.6), "FL050", "FL250"),
    ]
    features = [
        {
            "type": "Feature",
            "properties": {"id": zone_id, "floor": floor, "ceiling": ceiling},
            "geometry": json.loads(shapely.to_geojson(shape)),
        }
        for zone_id, shape, floor, ceiling in zones
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


# Each program runs under this small launcher, which reports its wall time and peak RSS: a
# process forked from the benchmark itself would count the benchmark's pages as its own peak.
LAUNCHER = (
    "import resource, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "wall = time.perf_counter() - started\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'{wall} {peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run_process(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of the largest process: the program or one of its
    workers) and the standard output of one run of a program."""
    run = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{run.stderr[-2000:]}")
    wall, peak_kb = run.stderr.split()[-2:]
    return float(wall), float(peak_kb) / 1024, run.stdout


def compare(source: Path, zones: Path, runs: int) -> None:
    peer = source.parent / "peer.py"
    peer.write_text(PEER_SCRIPT)
    audit = ["audit", str(source), "-z", str(zones), "--show", "0"]
    commands = {
        "skyfence audit": [sys.executable, "-m", "skyfence", *audit],
        "GeoPandas script": [sys.executable, str(peer), str(source), str(zones)],
    }
    best: dict[str, tuple[float, float]] = {n: (float("inf"), float("inf")) for n in commands}
    outputs: dict[str, str] = {}
    for _ in range(runs):
        for name, args in commands.items():
            wall, rss, outputs[name] = run_process(args)
            best[name] = (min(best[name][0], wall), min(best[name][1], rss))
    sky, geo = best["skyfence audit"], best["GeoPandas script"]
    print(f"\n{source.name}:\n")
    print(f"| program (best of {runs}) | wall s | peak RSS MB | vs GeoPandas, time | memory |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (wall, rss) in best.items():
        print(f"| {name} | {wall:.2f} | {rss:,.0f} | {wall / geo[0]:.2f}x | {rss / geo[1]:.2f}x |")
    print(f"\n- GeoPandas entries: {outputs['GeoPandas script'].strip()}")
    summary = [line for line in outputs["skyfence audit"].splitlines() if "state vectors" in line]
    print(f"- skyfence: {summary[-1] if summary else '?'}")
    time_ok = "met" if sky[0] <= 0.5 * geo[0] else "NOT met"
    memory_ok = "met" if sky[1] <= geo[1] else "NOT met"
    print(f"- time {sky[0] / geo[0]:.2f}x the peer (target <= 0.5x: {time_ok}); ", end="")
    print(f"memory {sky[1] / geo[1]:.2f}x (target <= 1x: {memory_ok})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=40, help="of the 10 s quickstart traffic")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the workload here and keep it")
    args = parser.parse_args()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        sv = dense_tracks(args.copies)
        sv = sv.take(np.argsort(sv.t_s, kind="stable"))
        print(f"{len(sv):,} state vectors of {len(np.unique(sv.icao24)):,} aircraft")
        pq.write_table(opensky_table(sv), root / "dense.parquet")
        files = opensky_files(sv, root / "hourly")
        zone_file(root / "zones.geojson")
        compare(root / "dense.parquet", root / "zones.geojson", args.runs)
        print(f"\n(hourly folder: {files} files)")
        compare(root / "hourly", root / "zones.geojson", args.runs)


if __name__ == "__main__":
    main()
