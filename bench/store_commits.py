"""What stalls the event store's writer: `python -m bench.store_commits [--minutes 90]`.

quickstart's first `--minutes` of recording are replayed through `run_watch` in one-second
batches (as a live feed delivers them) with the live picture written at every tick, into an
event store (WAL, `synchronous=FULL`). Every commit of the writer thread is timed, with what it
carried (event rows, picture, prune) and whether the database file changed during it: the WAL is
only copied into the database by a checkpoint (since issue 17 item 4, by the store's checkpointer
thread: a "checkpoint" beside a commit is one that ran during it, not inside it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.replay import ZONES
from bench.workload import samples
from skyfence.engine.engine import Engine
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore
from skyfence.watching import LivePicture, ReplaySource, run_watch
from skyfence.zones.geojson import load_zones


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=90.0, help="of recording")
    args = parser.parse_args()
    sv = StateVectors.concat(list(read_recording(samples() / "collections/quickstart.json.gz")))
    sv = sv.take(np.flatnonzero(sv.t_s < sv.t_s.min() + args.minutes * 60))
    engine = Engine(load_zones(ZONES) + load_zones("ukraine"), keep_judged=True)
    source = ReplaySource(sv)
    path = Path(tempfile.mkdtemp()) / "events.sqlite"
    store = EventStore(path)
    commits: list[tuple[float, bool, int, str]] = []
    commit = EventStore._commit

    def timed(self: EventStore, jobs: list[Any]) -> bool:  # the writer thread's one commit
        before = os.stat(path).st_mtime_ns
        started = time.perf_counter()
        ok = commit(self, jobs)
        seconds = time.perf_counter() - started
        ops = sorted({j.op.__qualname__.split(".")[1] for j in jobs if j.op is not None})
        rows = sum(len(j.rows) for j in jobs)
        ops.append(f"synchronous={self._synchronous}")  # NORMAL: picture only, no fsync
        commits.append((seconds * 1000, os.stat(path).st_mtime_ns != before, rows, ",".join(ops)))
        return ok

    EventStore._commit = timed  # type: ignore[method-assign]
    picture = LivePicture(engine, [source], store, every_s=0.0)
    started = time.perf_counter()
    result = run_watch([source], engine, [store], on_tick=picture.tick)
    picture.tick([], force=True)
    store.close()
    ms = np.array([c[0] for c in commits])
    checkpoint = np.array([c[1] for c in commits])
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{len(sv):,} state vectors, {result.events} events, {len(commits)} commits in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(
        f"commit ms: p50 {np.median(ms):.1f}, p99 {np.percentile(ms, 99):.1f}, max {ms.max():.1f}"
    )
    if checkpoint.any():
        print(
            f"with a checkpoint: {checkpoint.sum()} commits, p50 {np.median(ms[checkpoint]):.1f}, "
            f"max {ms[checkpoint].max():.1f}; without: p50 {np.median(ms[~checkpoint]):.1f}, "
            f"max {ms[~checkpoint].max():.1f}"
        )
    rows = np.array([c[2] for c in commits])
    if (rows > 0).any():
        with_rows = ms[rows > 0]
        print(
            f"commits with event rows: {len(with_rows)}, p50 {np.median(with_rows):.1f}, "
            f"p99 {np.percentile(with_rows, 99):.1f}, max {with_rows.max():.1f} ms"
        )
    print("slowest commits:")
    for seconds, changed, rows, ops in sorted(commits, reverse=True)[:8]:
        print(f"  {seconds:.1f} ms, checkpoint {changed}, {rows} event rows, {ops}")


if __name__ == "__main__":
    main()
