"""Audits at scale: zone count, point count, memory, hourly datasets on both cores, and Spark.

    python -m bench.scale [--quick]

Everything is measured in one run, on real tracks (traffic's quickstart moved to the Polish-
Ukrainian border, copied under other addresses to grow), against the Ukraine zones plus
synthetic zones spread over the area, and reported as ratios to baselines of the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.__main__ import bbox_floor, engine_rate, kernel_rate
from bench.workload import workload
from skyfence.scale.dataset import audit_dataset
from skyfence.schema import StateVectors, icao24_hex
from skyfence.sources.columns import FPM_PER_MS, FT_PER_M, KT_PER_MS


def zone_scaling(counts: list[int]) -> None:
    print("\n### Zone count (border tracks, one batch)\n")
    print("| zones | state vectors | bbox floor /s | kernel /s | kernel vs floor | engine /s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in counts:
        w = workload("border", extra_zones=n - 6)
        floor, kernel, engine = bbox_floor(w), kernel_rate(w), engine_rate(w)
        print(
            f"| {len(w.zones):,} | {len(w.sv):,} | {floor:,.0f} | {kernel:,.0f} | "
            f"{floor / kernel:.1f}x | {engine:,.0f} |"
        )


def point_scaling(repeats: list[int], zones: int) -> None:
    print(f"\n### Point count (border tracks copied under other addresses, {zones} zones)\n")
    print("| state vectors | engine /s | column bytes per million | peak RSS MB |")
    print("| ---: | ---: | ---: | ---: |")
    for repeat in repeats:
        code = (
            "import resource, sys; from bench.workload import workload; "
            "from bench.__main__ import engine_rate; "
            f"w = workload('border', extra_zones={zones - 6}, repeat={repeat}); "
            "r = engine_rate(w); "
            "b = sum(getattr(w.sv, f).nbytes for f in w.sv.__dataclass_fields__); "
            "print(len(w.sv), r, b / len(w.sv) * 1e6, "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        n, rate, per_million, rss = int(out[0]), float(out[1]), float(out[2]), float(out[3])
        print(f"| {n:,} | {rate:,.0f} | {per_million / 1e6:,.0f} MB | {rss:,.0f} |")


def opensky_table(part: StateVectors) -> pa.Table:
    """State vectors in the columns of OpenSky's history (its Parquet exports)."""
    return pa.table(
        {
            "time": np.floor(part.t_s).astype(np.int64),
            "icao24": [icao24_hex(int(a)) for a in part.icao24],
            "lat": part.lat_deg,
            "lon": part.lon_deg,
            "velocity": part.gs_kt / KT_PER_MS,
            "heading": part.track_deg,
            "vertrate": part.vrate_fpm / FPM_PER_MS,
            "callsign": part.callsign.tolist(),
            "onground": part.on_ground.tolist(),
            "baroaltitude": part.alt_baro_ft / FT_PER_M,
            "lastposupdate": part.t_pos_s,
        }
    )


def opensky_files(sv: StateVectors, root: Path, hour_s: float = 3600.0) -> int:
    sv = sv.take(np.argsort(sv.t_s, kind="stable"))
    hours = np.floor(sv.t_s / hour_s)
    root.mkdir(parents=True, exist_ok=True)
    for hour in np.unique(hours):
        part = sv.take(np.flatnonzero(hours == hour))
        pq.write_table(opensky_table(part), root / f"{int(hour)}.parquet")
    return len(np.unique(hours))


def datasets(repeats: list[int], spark: bool) -> None:
    print("\n### Hourly Parquet datasets (10-minute files), 56 zones\n")
    print(
        "| state vectors | files | workers | seconds | state vectors/s | peak RSS per worker MB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    spark_rows = []
    for repeat in repeats:
        w = workload("border", repeat=repeat)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "history"
            files = opensky_files(w.sv, root, 600.0)
            rates = {}
            for workers in (1, 2):
                started = time.perf_counter()
                result = audit_dataset(root, w.zones, workers=workers)
                seconds = time.perf_counter() - started
                rates[workers] = result.rows / seconds
                print(
                    f"| {result.rows:,} | {files} | {workers} | {seconds:.1f} | "
                    f"{rates[workers]:,.0f} | {result.peak_rss_mb or 0:,.0f} |"
                )
            if spark:
                from skyfence.scale.spark import run_spark_audit, spark_session

                session = spark_session("local[2]", "skyfence bench")
                runs = []
                for _ in range(2):  # the first pays for the JVM and Python workers
                    started = time.perf_counter()
                    run_spark_audit(session, [str(root)], w.zones, None, Path(tmp) / "ev")
                    runs.append(time.perf_counter() - started)
                session.stop()
                spark_rows.append((len(w.sv), runs[0], runs[1], max(rates.values())))
    if spark_rows:
        print("\n### Spark local mode (local[2]) against the local engine, same files\n")
        print(
            "| state vectors | Spark first run s | Spark warm s | Spark warm /s "
            "| best local /s | Spark is |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for n, first, warm, local in spark_rows:
            print(
                f"| {n:,} | {first:.1f} | {warm:.1f} | {n / warm:,.0f} | {local:,.0f} "
                f"| {n / warm / local:.2f}x |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    print(
        f"skyfence scale benchmark: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    zone_scaling([10, 100, 1000] if args.quick else [10, 100, 1000, 10000])
    point_scaling([1, 5] if args.quick else [1, 6, 60], 1006)
    datasets([2] if args.quick else [2, 8, 32], spark=not args.no_spark)


if __name__ == "__main__":
    main()
