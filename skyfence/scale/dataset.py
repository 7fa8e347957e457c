"""Parquet histories larger than memory, on one machine, on every core.

OpenSky's history comes as hourly Parquet files. The files are read in time order, batch by
batch, so memory holds a few batches and the engine's state (a few hundred bytes per aircraft in
view), whatever the size of the history. To use every core, aircraft are split into disjoint
buckets by address, one worker process per bucket: each reads every file but keeps its own
aircraft, and runs its own engine. Aircraft never interact in the engine, so the union of the
workers' events is the single engine's, except for the last lost contacts, which depend on when
the data ends: each worker reports its clock and its pending lost contacts as candidates, and
those the latest clock reaches are kept (as `skyfence.scale.spark` does across partitions).

Each worker reads in a thread of its own, a batch ahead of its engine (Parquet decoding, Arrow
and numpy release the interpreter lock): so one worker keeps two cores busy, and the default is
one worker per two cores. Every worker decodes every file; passing rows between workers so that
each file is decoded once was built and measured (bench/RESULTS.md), and was no faster on two
cores, with more memory: the rows must be pickled through pipes.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from skyfence.audit_options import AuditOptions
from skyfence.audit_result import AuditResult, deliver
from skyfence.engine.batches import prepared
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.errors import InputError
from skyfence.rules import squawk_rules
from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings
from skyfence.sources.ahead import read_ahead
from skyfence.sources.base import ReadStats, RecordingError
from skyfence.sources.columns import icao24_of, open_parquet
from skyfence.sources.opensky import COLUMNS, REQUIRED, to_state_vectors
from skyfence.zones.geojson import zones_from_geojson, zones_to_geojson
from skyfence.zones.model import Zone

if TYPE_CHECKING:
    from skyfence.alerts.files import EventSink

BATCH_ROWS = 500_000  # read from Parquet at a time
DEFAULT_WORKERS = max(1, (os.cpu_count() or 2) // 2)  # each keeps two cores busy
# the engine's best batch: larger cost more per row (sorts, caches), smaller more per batch
ENGINE_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class WorkerResult:
    events: list[Event]
    candidates: list[Event]  # lost contacts still to come when this worker's data ended
    clock_s: float
    audited: AuditResult  # its rows, aircraft, time span, skipped rows, peak memory


def dataset_files(root: Path) -> list[Path]:
    """The Parquet files under `root`, in time order: OpenSky's names (YYYY-MM-DD/HH, or
    hive-style date=/hour= folders) sort chronologically."""
    files = sorted(root.rglob("*.parquet")) if root.is_dir() else [root]
    if not files:
        raise InputError(f"{root}: no Parquet files")
    return files


def audit_dataset(
    root: Path,
    zones: list[Zone],
    options: AuditOptions | None = None,
    sinks: Sequence[EventSink] = (),
    workers: int = DEFAULT_WORKERS,
    on_events: Callable[[list[Event]], None] | None = None,
) -> AuditResult:
    """Every event of the history under `root`, in time order, to the sinks and `on_events`.
    `options` are checked here: a folder's workers apply the engine settings and the emergency
    squawks rule only."""
    options = AuditOptions() if options is None else options
    options.check("folder")
    if workers < 1:
        raise InputError("workers must be >= 1")
    started = time.perf_counter()
    files = dataset_files(root)
    features = json.dumps(zones_to_geojson(zones))
    jobs = [
        (files, features, options.settings, options.squawks, bucket, workers)
        for bucket in range(workers)
    ]
    if workers == 1:
        results = [_run_bucket(*jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.starmap(_run_bucket, jobs)
    clock = max((r.clock_s for r in results), default=-math.inf)
    events = [e for r in results for e in r.events]
    events += [e for r in results for e in r.candidates if e.t_s <= clock]
    result = AuditResult("folder", inputs=len(files), formats={str(root): "opensky-parquet"})
    result.ran_on = f"{workers} worker process{'es' if workers > 1 else ''}"
    for r in results:
        result.merge(r.audited)
    deliver(sorted(events, key=Event.sort_key), result.counts, sinks, on_events)
    result.seconds = time.perf_counter() - started
    return result


def _run_bucket(
    files: list[Path],
    features: str,
    settings: EngineSettings,
    squawks: bool,
    bucket: int,
    buckets: int,
) -> WorkerResult:
    zones = zones_from_geojson(json.loads(features), "zones")
    engine = Engine(zones, settings, rules=squawk_rules(squawks, settings.forget_after_s))
    audited = AuditResult("folder")
    events: list[Event] = []
    # sorted in the reading thread, beside the engine (which would sort each batch itself)
    for batch, aircraft in read_ahead(prepared(_batches(files, bucket, buckets, audited))):
        audited.saw(batch, aircraft)
        events += engine.process(batch)
    clock = engine.clock_s
    candidates = engine.advance_clock(math.inf)
    audited.took(engine.stats)
    audited.peak_rss_mb = peak_rss_mb()
    return WorkerResult(events, candidates, clock, audited)


def _record_batches(
    parquet: pq.ParquetFile, path: Path, wanted: list[str]
) -> Iterator[pa.RecordBatch]:
    """The file's batches; damage found half-way through names the file, as it does when the
    footer is damaged (pyarrow's own errors do not: a folder's error did not say which file)."""
    batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise RecordingError(path, f"damaged Parquet file: {exc}") from exc
        yield batch


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec; getrusage's
    maximum does not (a worker spawned from a big parent would report the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batches(
    files: list[Path], bucket: int, buckets: int, audited: AuditResult
) -> Iterator[StateVectors]:
    """This worker's rows in batches of about ENGINE_ROWS: small files are gathered, since
    the engine has a cost per batch (a few ms) as well as per row, and a worker's share of a
    ten-minute file is a few thousand rows."""
    pending: list[StateVectors] = []
    size = 0
    for part in _file_batches(files, bucket, buckets, audited):
        pending.append(part)
        size += len(part)
        if size >= ENGINE_ROWS:
            yield StateVectors.concat(pending)
            pending, size = [], 0
    if pending:
        yield StateVectors.concat(pending)


def _file_batches(
    files: list[Path], bucket: int, buckets: int, audited: AuditResult
) -> Iterator[StateVectors]:
    """This worker's rows of each file; the rows it skips, per file, noted in `audited`."""
    for path in files:
        stats = ReadStats()
        parquet = open_parquet(path, COLUMNS, REQUIRED, "OpenSky")
        names = parquet.schema_arrow.names
        wanted = [c for c in COLUMNS if c in names]
        for batch in _record_batches(parquet, path, wanted):
            if buckets > 1:  # keep this worker's aircraft before converting the columns
                mine = icao24_of(batch.column("icao24")) % buckets == bucket
                batch = batch.filter(pa.array(mine))
            if batch.num_rows:
                yield to_state_vectors(batch, stats, str(path))
        audited.skip(str(path), stats)
