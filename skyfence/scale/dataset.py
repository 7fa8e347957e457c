"""Parquet histories larger than memory, on one machine, on every core.

OpenSky's history comes as hourly Parquet files. The files are read in time order, so memory
holds about one file per worker and the engine's state (a few hundred bytes per aircraft in
view), whatever the size of the history. To use every core, aircraft are split into disjoint
buckets by address, one worker process per bucket, each with its own engine. Each file is read
and converted once, by one worker, which posts the other buckets' rows to their workers: so no
core repeats the decoding. Aircraft never interact in the engine, so the union of the
workers' events is the single engine's, except for the last lost contacts, which depend on when
the data ends: each worker reports its clock and its pending lost contacts as candidates, and
those the latest clock reaches are kept (as `skyfence.scale.spark` does across partitions)."""

from __future__ import annotations

import json
import math
import multiprocessing
import pickle
import queue
import resource
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.engine.zoneset import EngineSettings
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats
from skyfence.sources.opensky import COLUMNS, REQUIRED, to_state_vectors
from skyfence.zones.geojson import zones_from_geojson, zones_to_geojson
from skyfence.zones.model import Zone

BATCH_ROWS = 500_000


@dataclass(frozen=True, slots=True)
class WorkerResult:
    events: list[Event]
    candidates: list[Event]  # lost contacts still to come when this worker's data ended
    clock_s: float
    rows: int
    peak_rss_mb: float


@dataclass(frozen=True, slots=True)
class DatasetResult:
    events: list[Event]
    rows: int
    files: int
    peak_rss_mb: float  # the largest of the workers'


def dataset_files(root: Path) -> list[Path]:
    """The Parquet files under `root`, in time order: OpenSky's names (YYYY-MM-DD/HH, or
    hive-style date=/hour= folders) sort chronologically."""
    files = sorted(root.rglob("*.parquet")) if root.is_dir() else [root]
    if not files:
        raise ValueError(f"{root}: no Parquet files")
    return files


def audit_dataset(
    root: Path, zones: list[Zone], settings: EngineSettings, workers: int = 2
) -> DatasetResult:
    """Every event of the history under `root`, in time order."""
    files = dataset_files(root)
    features = json.dumps(zones_to_geojson(zones))
    if workers == 1:
        results = [_run_bucket(files, features, settings, 0, [])]
    else:
        results = _run_workers(files, features, settings, workers)
    clock = max((r.clock_s for r in results), default=-math.inf)
    events = [e for r in results for e in r.events]
    events += [e for r in results for e in r.candidates if e.t_s <= clock]
    return DatasetResult(
        sorted(events, key=Event.sort_key),
        sum(r.rows for r in results),
        len(files),
        max(r.peak_rss_mb for r in results),
    )


def _run_workers(
    files: list[Path], features: str, settings: EngineSettings, workers: int
) -> list[WorkerResult]:
    """One process per bucket, each with an inbox for the rows of its aircraft that the others
    read; the first failure (a bad file, say) is raised here once every worker has stopped."""
    context = multiprocessing.get_context("spawn")
    inboxes = [context.Queue() for _ in range(workers)]
    done = context.Queue()
    processes = [
        context.Process(
            target=_worker, args=(files, features, settings, bucket, inboxes, done), daemon=True
        )
        for bucket in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes: list[WorkerResult | BaseException] = []
    while len(outcomes) < workers:
        try:
            outcomes.append(done.get(timeout=1.0))
        except queue.Empty:  # a worker killed outright (out of memory, say) never answers
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead:
                outcomes.append(RuntimeError(f"a worker died (exit code {dead[0]})"))
                break
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        for process in processes:  # others may wait for rows that will never come
            process.terminate()
        raise next((f for f in failures if not isinstance(f, PeerFailed)), failures[0])
    for process in processes:
        process.join()
    return [o for o in outcomes if isinstance(o, WorkerResult)]


class PeerFailed(RuntimeError):
    """Another worker stopped: its error, not this one, is the one to report."""


def _worker(
    files: list[Path],
    features: str,
    settings: EngineSettings,
    bucket: int,
    inboxes: list[Queue[Any]],
    done: Queue[Any],
) -> None:
    try:
        done.put(_run_bucket(files, features, settings, bucket, inboxes))
    except Exception as exc:  # tell the others, who may be waiting for this worker's rows
        for inbox in inboxes:
            inbox.put(None)
        try:  # the parent must be able to rebuild it
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = ValueError(str(exc))
        done.put(exc)


def _run_bucket(
    files: list[Path],
    features: str,
    settings: EngineSettings,
    bucket: int,
    inboxes: list[Queue[Any]],
) -> WorkerResult:
    zones = zones_from_geojson(json.loads(features), "zones")
    engine = Engine(zones, settings)
    events: list[Event] = []
    rows = 0
    parts = _bucket_files(files, bucket, inboxes)
    for batch in _batches(_read_ahead(parts, 2 * BATCH_ROWS) if inboxes else parts):
        rows += len(batch)
        events += engine.process(batch)
    clock = engine.clock_s
    candidates = engine.advance_clock(math.inf)
    return WorkerResult(events, candidates, clock, rows, peak_rss_mb())


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


def _batches(parts: Iterator[StateVectors]) -> Iterator[StateVectors]:
    """Batches of about BATCH_ROWS, small files gathered together: the engine has a cost per
    batch as well as per row, and a worker's share of a ten-minute file is small."""
    pending: list[StateVectors] = []
    size = 0
    for part in parts:
        pending.append(part)
        size += len(part)
        if size >= BATCH_ROWS:
            yield StateVectors.concat(pending)
            pending, size = [], 0
    if pending:
        yield StateVectors.concat(pending)


def _read_ahead(parts: Iterator[StateVectors], max_rows: int) -> Iterator[StateVectors]:
    """The parts, read by a thread that runs up to `max_rows` ahead of the engine: a worker
    keeps reading and posting the others' rows while its engine works on a batch, so the
    others do not wait for it. Parquet decoding, Arrow and numpy release the interpreter lock."""
    ahead: deque[StateVectors | BaseException | None] = deque()
    rows = [0]  # buffered, shared with the thread under `changed`
    changed = threading.Condition()

    def pump() -> None:
        item: StateVectors | BaseException | None = None
        try:
            for part in parts:
                with changed:
                    changed.wait_for(lambda: rows[0] < max_rows)
                    ahead.append(part)
                    rows[0] += len(part)
                    changed.notify_all()
        except BaseException as exc:  # raised again in the engine's thread
            item = exc
        with changed:
            ahead.append(item)
            changed.notify_all()

    threading.Thread(target=pump, daemon=True).start()
    while True:
        with changed:
            changed.wait_for(lambda: len(ahead) > 0)
            item = ahead.popleft()
            if isinstance(item, StateVectors):
                rows[0] -= len(item)
            changed.notify_all()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _bucket_files(
    files: list[Path], bucket: int, inboxes: list[Queue[Any]]
) -> Iterator[StateVectors]:
    """This bucket's aircraft from every file, in file order. With n workers, worker k reads
    files k, k + n, k + 2n, ..., keeps its own aircraft and posts the others' rows to their
    inboxes, so each file is decoded once; it waits only for the files of its window (n files)
    that the others read. Memory holds about one file per worker."""
    buckets = max(1, len(inboxes))
    stats = ReadStats()
    received: dict[int, StateVectors] = {}
    for start in range(0, len(files), buckets):
        window = range(start, min(start + buckets, len(files)))
        if start + bucket in window:
            parts = _split(_read_file(files[start + bucket], stats), buckets)
            for other, part in enumerate(parts):
                if other != bucket:
                    inboxes[other].put((start + bucket, part))
            received[start + bucket] = parts[bucket]
        for i in window:
            while i not in received:
                item = inboxes[bucket].get()
                if item is None:
                    raise PeerFailed("another worker failed")
                received[item[0]] = item[1]
            yield received.pop(i)


def _split(sv: StateVectors, buckets: int) -> list[StateVectors]:
    if buckets == 1:
        return [sv]
    bucket = sv.icao24 % buckets
    return [sv.take(np.flatnonzero(bucket == k)) for k in range(buckets)]


def _read_file(path: Path, stats: ReadStats) -> StateVectors:
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValueError(f"{path}: missing OpenSky columns {missing}")
    wanted = [c for c in COLUMNS if c in names]
    return StateVectors.concat(
        [
            to_state_vectors(batch, stats, str(path))
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted)
        ]
    )
