"""The same engine on Apache Spark, for histories that outgrow one machine.

State vectors in OpenSky's Parquet layout (its history is hourly files) are partitioned by
aircraft and time, and run through one `Engine` per partition with Arrow (`mapInArrow`), fed
batch after batch as Spark streams them, sorted by time.

Time is cut where the engine itself starts afresh: an aircraft unheard for `forget_after_s` is
forgotten (integrity, last fix, callsign, zone states), so what follows such a silence is
independent of what came before. A first pass marks each aircraft's *sessions* (runs of fixes
without such a silence); sessions, not aircraft, are the unit of partitioning, so a long history
of one aircraft spreads over the executors and no partition holds more than a session of it.
Within a session the engine's own state continues the track across hourly files and Arrow
batches, exactly as a local audit does: no overlap windows, no stitching. A cut is only made
where the engine would forget anyway (rows it would drop can only hide a silence, never make
one), so the events do not depend on the cutting. (This holds for fixes in time order, as
OpenSky's are: its `lastposupdate` never goes back.)

The only global quantity is the engine's clock at the end of the data, which decides the last
lost contacts: each partition reports its own clock and, as candidates, the lost contacts its
aircraft would have at any later time (an event's time is its last fix plus the timeout); the
candidates up to the latest clock of all partitions are kept.

Events are written as Parquet with the columns of skyfence's own Parquet output, and are the
same events, with the same ids, as `skyfence audit` gives on the same files (a test checks it).
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from skyfence.alerts.files import PARQUET_SCHEMA, events_table
from skyfence.audit_options import AuditOptions
from skyfence.audit_result import AuditResult
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.engine.zoneset import ZoneSet
from skyfence.errors import InputError
from skyfence.rules import squawk_rules
from skyfence.settings import EngineSettings
from skyfence.sources.base import ReadStats
from skyfence.sources.columns import as_seconds, icao24_of
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


def spark_session(master: str = "local[*]", app_name: str = "skyfence audit") -> Any:
    """A session that stays on this machine's loopback in local mode and shows no UI.

    In local mode the Python workers run this interpreter: PySpark would otherwise start the
    `python3` found on PATH (its default when PYSPARK_PYTHON is unset), which is not the venv's
    when skyfence is run by its path or from a venv that is not activated, and fails there with
    "No module named 'pyarrow'". A PYSPARK_PYTHON set by the user still wins; a cluster's
    workers run the Python of their own machines.
    """
    from pyspark.sql import SparkSession

    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
        os.environ["PYSPARK_PYTHON"] = sys.executable  # read by SparkContext, not by the conf
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def run_spark_audit(
    spark: Any,
    inputs: list[str],
    zones: list[Zone],
    options: AuditOptions | None,
    out_dir: Path,
    partitions: int | None = None,
) -> AuditResult:
    """Audit OpenSky-layout Parquet files (or folders of them) with Spark; events to `out_dir`.
    `options` are checked here: Spark applies the engine settings and the emergency squawks
    rule only."""
    from pyspark.sql import functions as F

    options = AuditOptions() if options is None else options
    options.check("spark")
    settings = options.settings
    started = time.perf_counter()
    frame = spark.read.parquet(*inputs)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"{', '.join(inputs)}: missing OpenSky columns {missing}")
    frame = frame.select(*[c for c in COLUMNS if c in frame.columns])
    n = partitions or spark.sparkContext.defaultParallelism
    features = json.dumps(zones_to_geojson(zones))
    raw = out_dir.with_name(out_dir.name + ".partitions")
    (
        by_session(frame, n, settings.forget_after_s)
        .mapInArrow(_partition_runner(features, settings, options.squawks), SPARK_DDL)
        .write.mode("overwrite")
        .parquet(str(raw))
    )
    found = spark.read.parquet(str(raw))
    clocks = found.filter(F.col("kind") == CLOCK)
    clock = clocks.agg(F.max("time")).first()[0]
    events = found.filter(
        (F.col("kind") != CLOCK) & (~F.col("candidate") | (F.col("time") <= F.lit(clock)))
    )
    events.drop("candidate").write.mode("overwrite").parquet(str(out_dir))
    files = len(frame.inputFiles())
    result = AuditResult("spark", inputs=files, formats=dict.fromkeys(inputs, "opensky-parquet"))
    for row in clocks.select("details").collect():
        result.merge(_share_of(row["details"]))
    counted = spark.read.parquet(str(out_dir)).groupBy("zone_id", "kind").count().collect()
    result.counts.add_counted({(r["zone_id"] or "", r["kind"]): r["count"] for r in counted})
    shutil.rmtree(raw, ignore_errors=True)
    result.ran_on = f"Spark {spark.sparkContext.master}, {n} partition{'s' if n > 1 else ''}"
    result.seconds = time.perf_counter() - started
    return result


def by_session(frame: Any, partitions: int, forget_after_s: float) -> Any:
    """`frame` in `partitions` partitions by aircraft and session, each sorted by time, with a
    `session` column: the number of silences longer than `forget_after_s` before the row."""
    from pyspark.sql.types import LongType, StructField, StructType

    # a new schema: `frame.schema` is cached, and `add` would change the frame's own
    schema = StructType([*frame.schema.fields, StructField("session", LongType())])
    marked = (
        frame.repartition(partitions, "icao24")
        .sortWithinPartitions("icao24", "time")
        .mapInArrow(_session_marker(forget_after_s), schema)
    )
    return marked.repartition(partitions, "icao24", "session").sortWithinPartitions(
        "icao24", "session", "time"
    )


def _session_marker(forget_after_s: float) -> Any:
    """Numbers each aircraft's sessions, on batches sorted by aircraft and time. The fix time is
    the engine's (`lastposupdate` if any, else `time`), on every row, even rows the engine will
    refuse: a refused row can only fill a silence, so cuts stay where the engine forgets."""

    def mark(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        carried = _Run(-1, -math.inf, 0)  # the aircraft running on from the previous batch
        for batch in batches:
            icao24 = icao24_of(batch.column("icao24")).astype(np.int64)
            sessions, carried = _sessions(icao24, _fix_times(batch), carried, forget_after_s)
            yield batch.append_column("session", pa.array(sessions))

    return mark


@dataclass(frozen=True, slots=True)
class _Run:
    address: int
    latest_s: float  # its latest fix time so far
    session: int


def _fix_times(batch: pa.RecordBatch) -> npt.NDArray[np.float64]:
    fix = as_seconds(batch.column("time"))[0]
    if "lastposupdate" in batch.schema.names:
        pos = as_seconds(batch.column("lastposupdate"))[0]
        fix = np.where(np.isfinite(pos), pos, fix)
    return fix


def _sessions(
    icao24: npt.NDArray[np.int64],
    fix: npt.NDArray[np.float64],
    carried: _Run,
    forget_after_s: float,
) -> tuple[npt.NDArray[np.int64], _Run]:
    n = len(fix)
    if n == 0:
        return np.zeros(0, np.int64), carried
    start = np.diff(icao24, prepend=carried.address) != 0
    run_start = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    continues = ~start[run_start]  # rows of the aircraft the previous batch ended with
    # a silence is a gap from the previous row, confirmed against the latest fix before it
    cut = ~start & (np.diff(fix, prepend=carried.latest_s) > forget_after_s)
    for i in np.flatnonzero(cut):  # once per session, not per row
        first = int(run_start[i])
        latest = np.nanmax(fix[first:i], initial=carried.latest_s if continues[i] else -math.inf)
        cut[i] = fix[i] - latest > forget_after_s
    count = np.cumsum(cut)
    base = np.where(continues, carried.session, 0)
    sessions = base + count - count[run_start] + cut[run_start]
    last = int(run_start[-1])
    latest = np.nanmax(fix[last:], initial=carried.latest_s if continues[-1] else -math.inf)
    return sessions.astype(np.int64), _Run(int(icao24[-1]), float(latest), int(sessions[-1]))


def _partition_runner(features: str, settings: EngineSettings, squawks: bool) -> Any:
    """What each executor runs on its partition: one engine over the batches, in order; then
    its clock, and the lost contacts still to come as candidates."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rules = squawk_rules(squawks, settings.forget_after_s)
        engine = Engine(_compiled(features, settings), settings, rules=rules)
        stats = ReadStats()
        share = AuditResult("spark")
        for batch in batches:
            if batch.num_rows:
                sv = to_state_vectors(batch, stats, "spark")
                share.saw(sv, np.unique(sv.icao24).tolist())
                yield from _batches(engine.process(sv))
        clock = engine.clock_s
        yield from _batches(engine.advance_clock(math.inf), candidate=True)
        share.took(engine.stats)
        share.skip("spark", stats)
        yield _clock_row(clock, _share_text(share))

    return run


def _share_text(share: AuditResult) -> str:
    """A partition's share of the audit, carried to the driver in its clock row: its numbers
    and its aircraft by address (an aircraft's sessions may run on several partitions, so the
    driver counts the union)."""
    return json.dumps(
        {
            "rows": share.rows,
            "fixes": share.fixes,
            "trusted": share.trusted,
            "suspect": share.suspect,
            "first_s": share.first_s,
            "last_s": share.last_s,
            "aircraft": sorted(share.aircraft),
            "skipped": share.skipped,
        }
    )


def _share_of(text: str) -> AuditResult:
    share = json.loads(text)
    skipped = {where: (n, problems) for where, (n, problems) in share.pop("skipped").items()}
    return AuditResult("spark", aircraft=set(share.pop("aircraft")), skipped=skipped, **share)


@functools.lru_cache(maxsize=2)
def _compiled(features: str, settings: EngineSettings) -> ZoneSet:
    """The zones compiled once per Python worker: Spark reuses its workers across tasks, and
    a cluster run has many more partitions than workers."""
    return ZoneSet.compile(zones_from_geojson(json.loads(features), "broadcast zones"), settings)


def _batches(events: list[Event], candidate: bool = False) -> Iterator[pa.RecordBatch]:
    if events:
        table = events_table(events)
        table = table.append_column("candidate", pa.array([candidate] * len(events)))
        yield from table.cast(SPARK_SCHEMA).to_batches()


def _clock_row(clock_s: float, share: str) -> pa.RecordBatch:
    """One row per partition, even one whose rows were all skipped (no clock): its share."""
    row: dict[str, Any] = {f.name: [None] for f in SPARK_SCHEMA}
    time_us = round(clock_s * 1e6) if math.isfinite(clock_s) else None
    row |= {"id": [CLOCK], "kind": [CLOCK], "time": [time_us], "details": [share]}
    row |= {"candidate": [False]}
    return pa.RecordBatch.from_pydict(row, schema=SPARK_SCHEMA)
