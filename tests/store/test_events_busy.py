"""Another program holding the store's write lock for longer than the busy timeout: with a
patience (what `watch` gives), the writer waits it out and says so (`busy`), nothing is lost
and nothing fails; past the patience, it fails as any commit failure does."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skyfence.engine.events import Event
from skyfence.store.events import EventStore, StoreError


@pytest.fixture(scope="module")
def events(quickstart_events: list[Event]) -> list[Event]:
    return quickstart_events[:300]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection, as another program, holding the write lock until the block ends."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield other
        finally:
            other.execute("ROLLBACK")


def wait_until(done: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    end = time.monotonic() + limit_s
    while not done():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_a_lock_held_past_the_busy_timeout_is_waited_out_and_said(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    with EventStore(path, busy_timeout_s=0.05, busy_patience_s=30.0) as store:
        store.write(events[:100])
        store.flush(timeout=10)
        with locked(path):
            store.write(events[100:200])
            wait_until(lambda: store.busy is not None, "the store to say it is busy")
            time.sleep(0.5)  # ten busy timeouts: every commit attempt meanwhile is refused
            busy = store.busy
            assert busy is not None and busy.reason.startswith("store busy: database is locked")
            assert "retrying for up to 30 s" in busy.reason
            assert store.failure is None
            store.check()  # nothing to stop a watch for ...
            store.write(events[200:])  # ... nor to refuse its next events
            assert store.stats.failed_commits >= 2
        store.flush(timeout=30)  # the retried commit went through once the lock was let go
        assert store.busy is None and store.failure is None
        assert store.count() == len(events)


def test_a_lock_held_past_the_patience_fails_as_any_commit_failure(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    with EventStore(path, busy_timeout_s=0.05, busy_patience_s=0.3) as store:
        with locked(path):
            store.write(events[:100])
            wait_until(lambda: store.failure is not None, "the patience to run out")
            assert store.busy is None
            with pytest.raises(StoreError, match="cannot write events: database is locked"):
                store.check()
        wait_until(lambda: store.failure is None, "the writer to recover by itself")
        store.flush(timeout=10)
        assert store.count() == 100  # nothing lost meanwhile


def test_without_patience_a_lock_fails_at_once(events: list[Event], tmp_path: Path) -> None:
    """What `serve` and library users get: the default is unchanged."""
    path = tmp_path / "events.db"
    with EventStore(path, busy_timeout_s=0.05) as store, locked(path):
        store.write(events[:10])
        wait_until(lambda: store.failure is not None, "the failure")
        assert store.busy is None
