"""`/healthz`'s verdict: a feed down too long, a store that fails, a stalled loop or writer."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import time
from pathlib import Path

from skyfence.engine.engine import Engine
from skyfence.monitoring.monitor import WatchMonitor
from skyfence.store.events import EventStore
from skyfence.watching import FeedAdapter, LivePicture, WatchResult


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused_feed() -> FeedAdapter:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return FeedAdapter(f"beast://127.0.0.1:{port}")


def test_a_refused_feed_is_healthy_until_it_has_been_down_too_long(tmp_path: Path) -> None:
    feed = refused_feed()
    clock = Clock()
    with EventStore(tmp_path / "events.db") as store:
        engine = Engine([])
        monitor = WatchMonitor(engine, [feed], store, LivePicture(engine, [feed], store),
                               WatchResult(), unhealthy_after_s=60, clock=clock)  # fmt: skip
        store.write_picture([], [], [])
        store.flush()
        feed.next_batch(0.2)  # refused
        monitor.tick()
        ok, body = monitor.health()
        assert ok and body["feeds"][0]["last_error"].endswith("Connection refused")
        clock.now += 61
        monitor.last_tick_at = clock.now  # the loop is alive
        store.last_commit_at = clock.now  # and so is the writer
        ok, body = monitor.health()
        assert not ok and body["status"] == "unhealthy"
        assert body["reasons"] == [f"feed {feed.name} not connected for 61 s: connection refused"]
    feed.close()


def test_a_failing_store_and_a_stalled_loop_and_writer_are_named(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "events.db"
    with EventStore(path, busy_timeout_s=0.05) as store:
        engine = Engine([])
        monitor = WatchMonitor(engine, [], store, LivePicture(engine, [], store), WatchResult(),
                               clock=clock)  # fmt: skip
        assert monitor.health()[0]
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
            store.write_picture([], [], [])
            with contextlib.suppress(Exception):
                store.flush(timeout=5)
            clock.now += 31
            ok, body = monitor.health()
            other.execute("ROLLBACK")
        assert not ok
        reasons = body["reasons"]
        assert reasons[0].startswith("event store: cannot write events: database is locked")
        assert reasons[1:] == [
            "event store writer: nothing committed for 31 s",
            "watch loop: no tick for 31 s",
        ]
        deadline = time.monotonic() + 10
        while store.failure is not None:  # the next picture (a watch writes one a second)
            assert time.monotonic() < deadline, "the writer never recovered"
            store.write_picture([], [], [])
            time.sleep(0.05)
        monitor.finished = True  # the loop has ended: no tick is expected any more
        assert monitor.health() == (True, monitor.health()[1])
        assert monitor.health()[1]["reasons"] == []
