"""The same engine on Apache Spark, for histories that outgrow one machine.

State vectors in OpenSky's Parquet layout (its history is hourly files) are partitioned by
aircraft and sorted by time within each partition; every partition runs one `Engine` through
Arrow (`mapInArrow`), fed batch after batch as Spark streams them. An aircraft's whole history
is in one partition, so a track that crosses from one hourly file into the next is continued
by the engine's own state, exactly as a local audit continues it: no overlap windows, no
stitching. The only global quantity is the engine's clock at the end of the data, which decides
the last lost contacts: each partition reports its own clock and, as candidates, the lost
contacts its aircraft would have at any later time (an event's time is its last fix plus the
timeout); the candidates up to the latest clock of all partitions are kept.

Events are written as Parquet with the columns of skyfence's own Parquet output, and are the
same events, with the same ids, as `skyfence audit` gives on the same files (a test checks it).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from skyfence.alerts.files import PARQUET_SCHEMA, events_table
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.engine.zoneset import EngineSettings
from skyfence.sources.base import ReadStats
from skyfence.sources.opensky import COLUMNS, REQUIRED, to_state_vectors
from skyfence.zones.geojson import zones_from_geojson, zones_to_geojson
from skyfence.zones.model import Zone

# Spark keeps timestamps in microseconds; the rest of the event columns map one to one
SPARK_SCHEMA = pa.schema(
    [
        *(
            f if f.name != "time" else pa.field("time", pa.timestamp("us", tz="UTC"))
            for f in PARQUET_SCHEMA
        ),
        pa.field("candidate", pa.bool_()),  # a final lost contact, kept if the clock reaches it
    ]
)
SPARK_DDL = (
    "id string, kind string, zone_id string, icao24 string, callsign string, country string, "
    "time timestamp, lat double, lon double, altitude_ft double, details string, "
    "candidate boolean"
)
CLOCK = "clock"  # the kind of the one row per partition that carries its engine's clock


@dataclass(frozen=True, slots=True)
class SparkAuditResult:
    events: int
    by_kind: dict[str, int]
    partitions: int
    seconds: float


def spark_session(master: str = "local[*]", app_name: str = "skyfence audit") -> Any:
    """A session that stays on this machine's loopback in local mode and shows no UI."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {
        "spark.ui.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def run_spark_audit(
    spark: Any,
    inputs: list[str],
    zones: list[Zone],
    settings: EngineSettings,
    out_dir: Path,
    partitions: int | None = None,
) -> SparkAuditResult:
    """Audit OpenSky-layout Parquet files (or folders of them) with Spark; events to `out_dir`."""
    from pyspark.sql import functions as F

    started = time.perf_counter()
    frame = spark.read.parquet(*inputs)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"{', '.join(inputs)}: missing OpenSky columns {missing}")
    frame = frame.select(*[c for c in COLUMNS if c in frame.columns])
    n = partitions or spark.sparkContext.defaultParallelism
    features = json.dumps(zones_to_geojson(zones))
    raw = out_dir.with_name(out_dir.name + ".partitions")
    (
        frame.repartition(n, "icao24")
        .sortWithinPartitions("icao24", "time")
        .mapInArrow(_partition_runner(features, settings), SPARK_DDL)
        .write.mode("overwrite")
        .parquet(str(raw))
    )
    found = spark.read.parquet(str(raw))
    clock = found.filter(F.col("kind") == CLOCK).agg(F.max("time")).first()[0]
    events = found.filter(
        (F.col("kind") != CLOCK) & (~F.col("candidate") | (F.col("time") <= F.lit(clock)))
    )
    events.drop("candidate").write.mode("overwrite").parquet(str(out_dir))
    counts = {
        row["kind"]: row["count"]
        for row in spark.read.parquet(str(out_dir)).groupBy("kind").count().collect()
    }
    return SparkAuditResult(
        sum(counts.values()), counts, n, round(time.perf_counter() - started, 2)
    )


def _partition_runner(features: str, settings: EngineSettings) -> Any:
    """What each executor runs on its partition: one engine over the batches, in order; then
    its clock, and the lost contacts still to come as candidates."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        zones = zones_from_geojson(json.loads(features), "broadcast zones")
        engine = Engine(zones, settings)
        stats = ReadStats()
        for batch in batches:
            if batch.num_rows:
                yield from _batches(engine.process(to_state_vectors(batch, stats, "spark")))
        clock = engine.clock_s
        yield from _batches(engine.advance_clock(math.inf), candidate=True)
        if math.isfinite(clock):
            yield _clock_row(clock)

    return run


def _batches(events: list[Event], candidate: bool = False) -> Iterator[pa.RecordBatch]:
    if events:
        table = events_table(events)
        table = table.append_column("candidate", pa.array([candidate] * len(events)))
        yield from table.cast(SPARK_SCHEMA).to_batches()


def _clock_row(clock_s: float) -> pa.RecordBatch:
    row: dict[str, Any] = {f.name: [None] for f in SPARK_SCHEMA}
    row |= {"id": [CLOCK], "kind": [CLOCK], "time": [round(clock_s * 1e6)], "candidate": [False]}
    return pa.RecordBatch.from_pydict(row, schema=SPARK_SCHEMA)
