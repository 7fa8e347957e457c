"""What each of Spark's passes costs: `python -m bench.spark_stages [--copies 8]`.

`audit --engine spark` reads the hourly files, repartitions them by aircraft and sorts each
partition to number each aircraft's sessions (pass 1: a shuffle), repartitions again by
(aircraft, session) and sorts (pass 2: a second shuffle), then runs one engine per partition
(`mapInArrow`) and writes the events. Each prefix of that pipeline is run here to Spark's `noop`
sink (everything computed, nothing written), so the difference between two prefixes is the cost
of the step between them; then the whole audit, and the local audit of the same folder in its
own process. The plan of the whole pipeline is printed with `explain("formatted")`.

The data is item 2's peer workload (bench/peer.py: traffic's quickstart at 10 s, copied), as
hourly OpenSky files, against the peer's three zones.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.peer import dense_tracks, zone_file
from bench.scale import opensky_files


def timed(run: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8, help="of the 10 s quickstart traffic")
    parser.add_argument("--cores", type=int, default=2, help="Spark's local[N]")
    parser.add_argument("--runs", type=int, default=2, help="of each step, best kept")
    args = parser.parse_args()

    from pyspark.sql.types import LongType, StructField, StructType

    from skyfence.audit_options import AuditOptions
    from skyfence.scale.spark import (
        COLUMNS,
        SPARK_DDL,
        _partition_runner,
        by_session,
        run_spark_audit,
        spark_session,
    )
    from skyfence.settings import EngineSettings
    from skyfence.zones.geojson import load_zones, zones_to_geojson

    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sv = dense_tracks(args.copies)
        files = opensky_files(sv, root / "hourly")
        zone_file(root / "zones.geojson")
        n_rows = len(sv)
        print(f"{n_rows:,} state vectors, {files} hourly files, local[{args.cores}]\n")

        started = time.perf_counter()
        spark = spark_session(f"local[{args.cores}]")
        print(f"- session start (JVM): {time.perf_counter() - started:.1f} s")
        zones = load_zones(root / "zones.geojson")
        settings = EngineSettings()
        features = json.dumps(zones_to_geojson(zones))
        parts = spark.sparkContext.defaultParallelism

        def read() -> Any:
            # a fresh frame each time: `by_session` adds its column to the schema it is given,
            # and a DataFrame caches its schema
            frame = spark.read.parquet(str(root / "hourly"))
            return frame.select(*[c for c in COLUMNS if c in frame.columns])

        def engine(df: Any) -> Any:
            squawks = True  # as `skyfence audit` runs by default
            return df.mapInArrow(_partition_runner(features, settings, squawks), SPARK_DDL)

        def pass_one(df: Any) -> Any:
            from skyfence.scale.spark import _session_marker

            return (
                df.repartition(parts, "icao24")
                .sortWithinPartitions("icao24", "time")
                .mapInArrow(
                    _session_marker(settings.forget_after_s),
                    StructType([*df.schema.fields, StructField("session", LongType())]),
                )
            )

        steps: list[tuple[str, Callable[[], Any]]] = [
            ("read the files", read),
            ("+ pass 1: shuffle by aircraft, sort, number sessions", lambda: pass_one(read())),
            (
                "+ pass 2: shuffle by (aircraft, session), sort",
                lambda: by_session(read(), parts, settings.forget_after_s),
            ),
            (
                "+ engine per partition (mapInArrow)",
                lambda: engine(by_session(read(), parts, settings.forget_after_s)),
            ),
            (
                "engine per partition after pass 1 only (one shuffle)",
                lambda: engine(pass_one(read())),
            ),
        ]
        engine(by_session(read(), parts, settings.forget_after_s)).write.format("noop").mode(
            "overwrite"
        ).save()  # warm: Python workers started, zones compiled in them
        print("\n| step (to the noop sink) | best s | of which this step s |")
        print("| --- | ---: | ---: |")
        previous = 0.0
        for k, (name, plan) in enumerate(steps):
            seconds = timed(
                lambda plan=plan: plan().write.format("noop").mode("overwrite").save(), args.runs
            )
            step = seconds - previous if k in (1, 2, 3) else seconds
            print(f"| {name} | {seconds:.2f} | {step:.2f} |")
            if k < 4:
                previous = seconds

        out = root / "events"
        whole = timed(
            lambda: run_spark_audit(
                spark, [str(root / "hourly")], zones, AuditOptions(settings), out
            ),
            1,
        )
        print(f"\n- whole `run_spark_audit` (warm session, events written): {whole:.2f} s")
        print("\n```")
        engine(by_session(read(), parts, settings.forget_after_s)).explain("formatted")
        print("```")
        spark.stop()

        audit = [sys.executable, "-m", "skyfence", "audit", str(root / "hourly")]
        audit += ["-z", str(root / "zones.geojson"), "--show", "0"]
        local = timed(lambda: subprocess.run(audit, check=True, capture_output=True), args.runs)
        spark_rate = n_rows / whole
        local_rate = n_rows / local
        print(f"\n- local audit, whole process (1 engine thread + 1 reading thread): {local:.2f} s")
        print(
            f"- throughput per core: Spark {spark_rate / args.cores:,.0f} state vectors/s, "
            f"local {local_rate:,.0f} (its engine's one core): Spark is "
            f"{spark_rate / args.cores / local_rate:.2f}x per core, "
            f"{spark_rate / local_rate:.2f}x in all"
        )


if __name__ == "__main__":
    main()
