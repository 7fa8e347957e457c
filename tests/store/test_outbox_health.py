"""What the store tells an operator: each destination's backlog and its last error, how long
writes wait to be on disk, and whether commits fail (`EventStore.outbox_health`, latency
listeners, `failure`)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyfence.engine.events import Event
from skyfence.store.events import EventStore, OutboxHealth, StoreError

HOOKS = ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")  # never contacted


@pytest.fixture(scope="module")
def events(quickstart_events: list[Event]) -> list[Event]:
    return quickstart_events[:50]


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def test_each_destination_s_backlog_its_age_and_last_error(
    events: list[Event], tmp_path: Path
) -> None:
    store = EventStore(tmp_path / "events.db", HOOKS)
    assert store.outbox_health() == [OutboxHealth(u, 0, None, None) for u in HOOKS]
    before = time.time()
    store.write(events)
    store.flush()
    after = time.time()
    first = events[0].id
    store.record_failure(first, HOOKS[0], "HTTP 500 Internal Server Error", time.time() + 60)
    for event in events:
        store.mark_delivered(event.id, HOOKS[1], time.time())
    a, b = store.outbox_health()
    assert (a.url, a.pending, a.last_error) == (HOOKS[0], 50, "HTTP 500 Internal Server Error")
    assert a.oldest_pending_at is not None and before <= a.oldest_pending_at <= after
    assert b == OutboxHealth(HOOKS[1], 0, None, None)
    store.mark_delivered(first, HOOKS[0], time.time())  # the failed one went through later
    assert store.outbox_health()[0].last_error is None
    store.close()


def test_commits_report_how_long_their_work_waited_and_failures_while_they_last(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    store = EventStore(path, busy_timeout_s=0.05)
    waited: list[float] = []
    store.add_latency_listener(waited.append)
    store.write(events[:10])
    store.flush()
    assert waited and all(0 <= w < 5 for w in waited)
    assert store.failure is None and store.last_commit_at is not None
    with raw(path) as other:
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        held = time.monotonic()
        store.write(events[10:20])
        with pytest.raises(StoreError, match="database is locked"):
            store.flush(timeout=10)
        failure = store.failure
        assert failure is not None and "database is locked" in failure.reason
        time.sleep(0.3)
        other.execute("ROLLBACK")
    deadline = time.monotonic() + 10
    while store.failure is not None:  # the writer retries by itself
        assert time.monotonic() < deadline, "the writer never recovered"
        time.sleep(0.02)
    # the retried events waited at least as long as the lock was held
    assert max(waited) >= 0.3 and store.last_commit_at > held
    store.close()
