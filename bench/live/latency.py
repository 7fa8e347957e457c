"""Frame-to-event delay: a Beast server in its own process, the real watch pipeline, the store."""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import socket
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.live.workload import Workload, beast_stream, fleet, fleet_size
from skyfence.arrays import F64, STR, U32
from skyfence.decoding.classify import classify
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.store.events import EventStore
from skyfence.watching import FeedAdapter, run_watch

# -- latency: a Beast server, the watch pipeline, the store ------------------------------------


def _serve(stream_path: str, schedule_path: str, flush_s: float, conn: Connection) -> None:
    """The receiver: accept one connection, then every `flush_s` write the frames now due (as
    readsb or dump1090 flush their network output every so often).

    Runs in its own process so that the pipeline under test cannot delay it through the GIL.
    Logs, per write, how many frames had been written after it and when (time.time()).
    """
    data = Path(stream_path).read_bytes()
    with np.load(schedule_path) as schedule:
        ends, due = schedule["ends"], schedule["due"]
    n = due.shape[0]
    upto_log: list[int] = []
    at_log: list[float] = []
    lag = 0.0
    with socket.create_server(("127.0.0.1", 0)) as server:
        conn.send(server.getsockname()[1])
        client, _ = server.accept()
        with client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            view = memoryview(data)
            start = time.time()
            sent = 0
            tick = 0.0
            while sent < n:
                upto = int(np.searchsorted(due, time.time() - start, side="right"))
                if upto > sent:
                    at_log.append(time.time())  # written from now: the conservative instant
                    client.sendall(view[(ends[sent - 1] if sent else 0) : ends[upto - 1]])
                    upto_log.append(upto)
                    lag = max(lag, at_log[-1] - start - float(due[upto - 1]))
                    sent = upto
                tick = max(tick + flush_s, float(due[min(sent, n - 1)]))  # skip idle ticks
                time.sleep(max(0.0, tick - (time.time() - start)))
            conn.send((np.array(upto_log), np.array(at_log), lag))
            conn.recv()  # hold the connection until the pipeline has read everything


class _Probe:
    """What the pipeline saw, through its hooks: `on_frames` (each batch of stamped frames,
    before decoding), `on_events` (each tick's events, after the engine) and the store's
    commit listener."""

    def __init__(self) -> None:
        self.stamps: list[F64] = []
        self.hex: list[STR] = []
        self.received = 0
        self.batch = (0, 0)  # frame range of the batch being processed
        self.batches = 0
        self.emitted: list[tuple[Event, tuple[int, int], float]] = []
        self.stopping = False
        self.commits: list[float] = []

    def on_frames(self, t: F64, frames: STR) -> None:
        self.stamps.append(t.copy())
        self.hex.append(frames.copy())
        self.batch = (self.received, self.received + t.shape[0])
        self.received += t.shape[0]
        self.batches += 1

    def on_events(self, events: list[Event]) -> None:
        if not self.stopping:  # the events of `finish` have no triggering frame
            now = time.time()
            self.emitted += [(e, self.batch, now) for e in events]

    def on_commit(self) -> None:
        self.commits.append(time.time())


@dataclass
class Latency:
    label: str
    aircraft: int
    offered_fps: float
    read_fps: float
    frames: int
    batches: int
    events: Counter[str]
    to_row_ms: F64  # frame written -> event row stamped by the store (inserted_at)
    to_disk_ms: F64  # frame written -> its commit returned (fsync included)
    pickup_ms: F64  # trigger frame written -> read by the pipeline
    process_ms: F64  # read -> events out of the engine
    queue_ms: F64  # events out -> row stamped by the store writer
    commit_ms: F64  # row stamped -> commit on disk
    server_lag_s: float
    cpu_share: float  # CPU time of the watch process (all its threads) / wall time

    @property
    def measured(self) -> int:
        return int(self.to_row_ms.shape[0])


def latency(
    label: str,
    w: Workload,
    rate_fps: float,
    seconds: float,
    tick_s: float,
    flush_s: float,
    store_dir: str | None,
) -> Latency:
    """Replay a fleet at `rate_fps` over TCP into FeedSource + run_watch + EventStore."""
    aircraft = fleet_size(w.flight, w.route, rate_fps)
    fl = fleet(w.flight, w.route, aircraft, seconds)
    frames = fl.frames
    data, ends = beast_stream(frames)
    kind = classify(frames.hex).kind
    position = (kind == 1) | (kind == 2)
    probe = _Probe()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=store_dir) as tmp:
        stream_path, schedule_path = Path(tmp) / "feed.beast", Path(tmp) / "schedule.npz"
        stream_path.write_bytes(data)
        np.savez(schedule_path, ends=ends, due=frames.t - frames.t[0])
        here, there = ctx.Pipe()
        args = (str(stream_path), str(schedule_path), flush_s, there)
        server = ctx.Process(target=_serve, args=args)
        server.start()
        port = here.recv()
        # A webhook URL makes the store call its commit listener after every commit (the URL
        # is never contacted: no delivery worker runs), which gives the time each commit
        # returned, fsync included; `inserted_at` is stamped before the inserts and the fsync.
        store = EventStore(Path(tmp) / "events.sqlite", ("http://127.0.0.1:9/unused",))
        store.add_commit_listener(probe.on_commit)
        source = FeedAdapter(f"beast://127.0.0.1:{port}", fl.receiver, on_frames=probe.on_frames)
        deadline = time.monotonic() + seconds + 60.0

        def should_stop() -> bool:
            probe.stopping = probe.received >= len(frames) or time.monotonic() > deadline
            return probe.stopping

        cpu, wall = time.process_time(), time.perf_counter()
        run_watch(
            [source],
            Engine(w.zones),
            [store],
            tick_s=tick_s,
            should_stop=should_stop,
            on_events=probe.on_events,
        )
        cpu_share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        store.flush()
        upto, at, lag = here.recv()
        here.send("done")
        server.join(10)
        with contextlib.closing(sqlite3.connect(store.path)) as db:
            inserted = dict(db.execute("SELECT id, inserted_at FROM events").fetchall())
        store.close()

    received = np.concatenate(probe.hex) if probe.hex else np.zeros(0, "U28")
    if not np.array_equal(received, frames.hex[: len(received)]):
        raise RuntimeError("the pipeline did not read the frames the server sent, in order")
    stamps = np.concatenate(probe.stamps)
    sent_at = np.repeat(at, np.diff(np.concatenate(([0], upto))))[: len(stamps)]
    stamp_times = sorted(set(inserted.values()))
    # Commits and row stamps pair up in order (one writer thread); if not, do not guess.
    disk = (
        dict(zip(stamp_times, probe.commits, strict=True))
        if len(stamp_times) == len(probe.commits)
        else {}
    )
    rows = []
    for event, (k0, k1), emitted in probe.emitted:
        k = _trigger(event, k0, k1, stamps, position, fl.address)
        if k is None or event.id not in inserted:
            continue
        row_at, sent = inserted[event.id], sent_at[k]
        on_disk = disk.get(row_at, math.nan)
        rows.append(
            (
                row_at - sent,
                on_disk - sent,
                stamps[k] - sent,
                emitted - stamps[k],
                row_at - emitted,
                on_disk - row_at,
            )
        )
    ms = np.array(rows, np.float64).reshape(-1, 6) * 1000.0
    span = float(sent_at[-1] - sent_at[0]) if len(sent_at) > 1 else math.nan
    return Latency(
        label,
        aircraft,
        len(frames) / max(frames.duration_s, 1e-9),
        len(stamps) / span,
        len(stamps),
        probe.batches,
        Counter(e.kind for e, _, _ in probe.emitted),
        to_row_ms=ms[:, 0],
        to_disk_ms=ms[:, 1],
        pickup_ms=ms[:, 2],
        process_ms=ms[:, 3],
        queue_ms=ms[:, 4],
        commit_ms=ms[:, 5],
        server_lag_s=float(lag),
        cpu_share=cpu_share,
    )


def _trigger(
    event: Event, k0: int, k1: int, stamps: F64, position: npt.NDArray[np.bool_], address: U32
) -> int | None:
    """The frame whose arrival made the engine emit `event`: the first position message of its
    aircraft, in the batch that emitted it, stamped at or after the event's time (an entry or
    exit time is interpolated before its fix; a warning carries its fix's time). A lost
    contact has no frame of its own: the first frame of the batch at or after its time."""
    t = event.t_s - 1e-6
    window = np.arange(k0, k1)
    if event.kind != "lost_contact":
        mine = position[window] & (address[window] == int(event.icao24, 16))
        found = window[mine & (stamps[window] >= t)]
        if found.shape[0]:
            return int(found[0])
    later = window[stamps[window] >= t]
    return int(later[0]) if later.shape[0] else None
