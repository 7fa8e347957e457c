"""The event store on real events: the engine's findings on a real recording, in a real file.

Expected query results are computed from the events themselves (their `to_dict` records), not
from the store; durability is checked by killing a real writer process with SIGKILL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.events import SCHEMA_VERSION, EventStore, OutboxCounts, StoreError
from skyfence.store.records import StoredEvent
from skyfence.store.rows import EventFilter, event_row, stored_event
from skyfence.zones.geojson import load_zones

HOOK = "http://127.0.0.1:9/hook"  # never contacted: these tests only queue deliveries


@pytest.fixture(scope="module")
def events(samples: Path, paris_zones_path: Path) -> list[Event]:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    engine = Engine(load_zones(paris_zones_path))
    found = engine.process(sv) + engine.finish()
    assert len(found) > 1000 and len({e.id for e in found}) == len(found)
    return found


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def ordered(records: list[dict[str, Any]]) -> list[str]:
    """Ids in the store's order: time, then id (ISO times of one format sort as times do)."""
    return [r["id"] for r in sorted(records, key=lambda r: (r["time"], r["id"]))]


def test_each_event_is_stored_once_however_often_it_is_written(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    n = len(events)
    with EventStore(path, [HOOK]) as store:
        store.write(events[:500])
        store.write(events[500:])
        store.flush(timeout=10)
        assert store.count() == n
        store.write(events)  # the same recording replayed, in order and backwards
        store.write(events[::-1])
        store.flush(timeout=10)
        assert store.count() == n
        assert (store.stats.inserted, store.stats.ignored) == (n, 2 * n)
        assert store.outbox_counts() == OutboxCounts(pending=n, delivered=0)  # notified once
        stored = {r.id: r for r in store.query(limit=n)}
        for e in events:  # the one record, byte for byte as every output writes it
            assert json.dumps(stored[e.id].to_json()) == json.dumps(e.to_dict())
            assert stored_event(event_row(e)) == dataclasses.replace(stored[e.id], rowid=None)
        assert store.get("0" * 20) is None
    with EventStore(path, [HOOK]) as store:  # and again after a restart
        store.write(events)
        store.flush(timeout=10)
        assert store.count() == n
        assert store.outbox_counts(HOOK) == OutboxCounts(pending=n, delivered=0)
    with raw(path) as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (n,)


def test_file_is_in_wal_mode_with_a_versioned_indexed_schema(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "store" / "events.db"  # its folder is created
    with EventStore(path) as store:
        store.write(events[:10])
        store.flush(timeout=10)
        with raw(path) as conn:  # while open: the WAL file is in use
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert Path(f"{path}-wal").exists()
            assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
            columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
            assert columns == [
                *("id", "kind", "zone_id", "icao24", "callsign", "country", "time", "time_s"),
                *("lat", "lon", "altitude_ft", "details", "inserted_at", "zone_version"),
            ]
            plan = " ".join(
                str(r[-1])
                for r in conn.execute(
                    "EXPLAIN QUERY PLAN SELECT id FROM events WHERE time_s >= 0 AND time_s < 1"
                )
            )
            assert "USING INDEX events_time" in plan
            assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)  # no webhooks
    with EventStore(path) as store:  # reopening an up-to-date store migrates nothing
        assert store.count() == 10


def test_query_filters_and_pages(events: list[Event], tmp_path: Path) -> None:
    records = [e.to_dict() for e in events]
    with EventStore(tmp_path / "events.db") as store:
        store.write(events)
        store.flush(timeout=10)
        everything = store.query(limit=len(events) + 1)
        assert [r.id for r in everything] == ordered(records)
        assert store.query(limit=len(events), newest_first=True) == everything[::-1]

        zone = max({r["zone_id"] for r in records}, key=[r["zone_id"] for r in records].count)
        aircraft = records[len(records) // 2]["icao24"]
        times = sorted(seconds(r) for r in records)
        since, until = times[len(times) // 3], times[len(times) // 2]  # event times: edges tested
        start = datetime.fromtimestamp(since, UTC)
        cases: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
            ({"zone_id": zone}, [r for r in records if r["zone_id"] == zone]),
            ({"kind": "lost_contact"}, [r for r in records if r["kind"] == "lost_contact"]),
            ({"icao24": aircraft}, [r for r in records if r["icao24"] == aircraft]),
            (  # since is inclusive, until exclusive; an aware datetime or unix seconds
                {"since": start, "until": until},
                [r for r in records if since <= seconds(r) < until],
            ),
            (
                {"since": since, "zone_id": zone, "kind": "entry"},
                [
                    r
                    for r in records
                    if seconds(r) >= since and r["zone_id"] == zone and r["kind"] == "entry"
                ],
            ),
            ({"kind": "no_such_kind"}, []),
        ]
        for filters, expected in cases:
            assert expected or filters["kind"] == "no_such_kind", filters
            got = store.query(EventFilter(**filters), limit=10_000)
            assert [r.id for r in got] == ordered(expected), filters
            assert store.count(EventFilter(**filters)) == len(expected), filters

        pages: list[StoredEvent] = []
        for offset in range(0, len(events) + 100, 100):
            pages += store.query(EventFilter(zone_id=zone), limit=100, offset=offset)
        assert pages == store.query(EventFilter(zone_id=zone), limit=10_000)
        assert store.query(limit=0) == []
        with pytest.raises(ValueError, match="naive"):
            store.query(EventFilter(since=datetime(2021, 10, 7)))  # noqa: DTZ001 - the mistake under test
        with pytest.raises(ValueError, match="limit"):
            store.query(limit=-1)
        with pytest.raises(ValueError, match="offset"):  # not an OverflowError from SQLite
            store.query(offset=2**63)


def seconds(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["time"]).timestamp()


def test_readers_see_whole_commits_while_the_writer_writes(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    store = EventStore(path, [HOOK])
    done = threading.Event()
    errors: list[BaseException] = []
    reads = [0, 0, 0]

    def reader(k: int) -> None:
        last = 0
        try:
            with raw(path) as conn:
                while not done.is_set():
                    n = store.count()
                    assert n >= last  # committed events never disappear
                    last = n
                    page = store.query(limit=20, newest_first=True)
                    assert len(page) >= min(20, n)  # read after the count: never fewer
                    # An event and its outbox row are committed together: one snapshot sees both.
                    conn.execute("BEGIN")
                    stored, queued = conn.execute(
                        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM outbox)"
                    ).fetchone()
                    conn.execute("COMMIT")
                    assert stored == queued
                    reads[k] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    try:
        for i in range(0, len(events), 10):
            store.write(events[i : i + 10])
            if i % 50 == 0:
                store.flush(timeout=10)
        store.flush(timeout=10)
        time.sleep(0.05)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=10)
        store.close()
    assert not errors, errors
    assert all(n > 5 for n in reads), reads
    with EventStore(path, [HOOK]) as store:
        assert store.count() == len(events)


def test_bad_paths_and_foreign_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"{tmp_path}: cannot open the event store"):
        EventStore(tmp_path)  # a folder
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(StoreError, match="cannot create its folder"):
        EventStore(a_file / "events.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, just text long enough to look like one" * 20)
    with pytest.raises(StoreError, match=f"{garbage}: .*not a database"):
        EventStore(garbage)
    foreign = tmp_path / "foreign.db"
    with raw(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a skyfence event store"):
        EventStore(foreign)
    newer = tmp_path / "newer.db"
    EventStore(newer).close()
    with raw(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        EventStore(newer)
    with pytest.raises(ValueError, match="http"):
        EventStore(tmp_path / "hooks.db", ["ftp://example.org/x"])
    store = EventStore(tmp_path / "closed.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.write([])


def test_a_full_disk_is_raised_and_nothing_is_dropped_silently(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    store = EventStore(path, [HOOK])
    store.write(events[:300])
    store.flush(timeout=10)
    # SQLite's own limit gives the very error a full disk gives (SQLITE_FULL): the file may not
    # grow past its current size.
    store._submit(lambda conn: conn.execute("PRAGMA max_page_count = 1"), timeout=10)
    store.write(events[300:])
    with pytest.raises(StoreError, match=f"{path}: cannot write events: database or disk is full"):
        store.flush(timeout=10)
    with pytest.raises(StoreError, match="disk is full"):  # still failing: raised, and queued
        store.write(events[:1])  # with the others all the same
    rescue = tmp_path / "events.db.unwritten.jsonl"
    with pytest.raises(
        StoreError, match=f"{len(events) - 299} events could not be written: .* saved in {rescue}"
    ):
        store.close()
    saved = [json.loads(line) for line in rescue.read_text().splitlines()]
    assert saved == [e.to_dict() for e in [*events[300:], events[0]]]
    with EventStore(path, [HOOK]) as store:  # the committed ones are intact; rewriting completes
        assert store.count() == 300
        store.write(events)
        store.flush(timeout=10)
        assert store.count() == len(events)
        assert store.outbox_counts().pending == len(events)


def test_a_failed_commit_is_retried_once_the_cause_is_gone(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    store = EventStore(path, busy_timeout_s=0.05)
    with raw(path) as other:
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        store.write(events[:100])
        with pytest.raises(StoreError, match="database is locked"):
            store.flush(timeout=10)
        with pytest.raises(StoreError, match="database is locked"):
            store.write(events[100:200])  # raised while the store fails, queued all the same
        other.execute("ROLLBACK")
    deadline = time.monotonic() + 10
    while True:  # the writer retries the queued events by itself
        try:
            store.flush(timeout=10)
            break
        except StoreError:
            assert time.monotonic() < deadline, "the writer never recovered"
            time.sleep(0.02)
    assert store.count() == 200
    assert store.stats.failed_commits >= 1
    store.write(events[100:])
    store.close()
    with EventStore(path) as store:
        assert store.count() == len(events)


def test_an_acknowledgement_waits_out_a_lock_held_longer_than_the_busy_timeout(
    events: list[Event], tmp_path: Path
) -> None:
    """Issue 12: `serve` beside a `watch` answered acknowledgements "database is locked"."""
    path = tmp_path / "events.db"
    with EventStore(path) as store:
        store.write(events[:10])
        store.flush(timeout=10)
    held = threading.Event()

    def hold_the_lock() -> None:
        with raw(path) as other:
            other.execute("BEGIN IMMEDIATE")  # as another process's long commit does
            held.set()
            time.sleep(1.0)  # 20 busy timeouts of the store below
            other.execute("COMMIT")

    holder = threading.Thread(target=hold_the_lock)
    with EventStore(path, busy_timeout_s=0.05) as store:
        holder.start()
        held.wait(10)
        record = store.acknowledge(events[3].id, "duty analyst", "seen").to_json(acknowledged=True)
        holder.join()
        assert record["acknowledged"]["by"] == "duty analyst"
        assert store.stats.failed_commits >= 1  # it was locked, and retried
    with EventStore(path, busy_timeout_s=0.05, ack_patience_s=0.2) as store, raw(path) as other:
        other.execute("BEGIN IMMEDIATE")  # held past the patience: the caller hears why
        with pytest.raises(StoreError, match="database is locked"):
            store.acknowledge(events[4].id, "duty analyst")
        other.execute("ROLLBACK")


CHILD = """
import dataclasses, pickle, sys
from skyfence.store.events import EventStore

path, events_file, hook = sys.argv[1:4]
with open(events_file, "rb") as f:
    events = pickle.load(f)
store = EventStore(path, [hook])
day = 0
while True:  # new events forever (the same ones, a day later each round): killed mid-run
    shifted = [dataclasses.replace(e, t_s=e.t_s + 86400 * day) for e in events]
    for i in range(0, len(shifted), 25):
        store.write(shifted[i : i + 25])
        store.flush()
        sys.stdout.write(f"{day} {min(i + 25, len(shifted))}\\n")  # one write: a kill cannot cut it
    day += 1
"""


@pytest.mark.parametrize("delay_s", [0.0, 0.005, 0.013])  # the kill lands at varied points
def test_kill_9_loses_nothing_that_was_flushed(
    events: list[Event], tmp_path: Path, delay_s: float
) -> None:
    path = tmp_path / "events.db"
    events_file = tmp_path / "events.pickle"
    events_file.write_bytes(pickle.dumps(events))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(events_file), HOOK],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    reported: list[tuple[int, int]] = []
    timer = threading.Timer(30, child.kill)  # bounded, whatever happens
    timer.start()
    try:
        for line in child.stdout:
            reported.append((int(line.split()[0]), int(line.split()[1])))
            if len(reported) == 80:  # in the second round: writing new events right now
                time.sleep(delay_s)
                os.kill(child.pid, signal.SIGKILL)
                break
        # a line the kill cut short was never said: only whole lines count
        whole = (line.split() for line in child.stdout if line.endswith("\n"))
        reported += [(int(a), int(b)) for a, b in whole]
    finally:
        timer.cancel()
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    day, upto = reported[-1]  # everything up to there was flushed before the kill
    flushed = [
        dataclasses.replace(e, t_s=e.t_s + 86400 * d).id
        for d in range(day + 1)
        for e in (events if d < day else events[:upto])
    ]

    with raw(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in conn.execute("SELECT id FROM events")}
        outbox = dict(conn.execute("SELECT event_id, delivered_at FROM outbox").fetchall())
    assert set(flushed) <= stored
    assert len(stored) - len(flushed) <= 25  # at most the batch in flight was committed, unsaid
    assert set(outbox) == stored  # events and their deliveries: committed together or not at all
    assert all(at is None for at in outbox.values())  # still pending, to be delivered

    with EventStore(path, [HOOK]) as store:  # and the store is usable again
        store.write(events)
        store.flush(timeout=10)
        assert store.count() == len(stored | {e.id for e in events})
        assert store.outbox_counts().pending == store.count()


def test_event_rows_commit_alone_before_the_picture_queued_with_them(
    events: list[Event], tmp_path: Path
) -> None:
    """The writer's own statements (its SQL trace): event rows taken with a picture commit
    first, in a transaction of their own with synchronous=FULL; the picture follows with
    NORMAL (no fsync to wait for), and nothing is lost from either."""
    path = tmp_path / "events.db"
    statements: list[str] = []
    with EventStore(path, busy_timeout_s=60) as store:
        store._conn.set_trace_callback(statements.append)
        with raw(path) as other:  # another process holds the write lock: work piles up
            other.execute("BEGIN IMMEDIATE")
            store.write_picture(aircraft=[{"icao24": "000001"}])  # taken, waits for the lock
            time.sleep(0.2)
            store.write(events[:10])
            store.write_picture(aircraft=[{"icao24": "000002"}])
            store.write(events[10:20])
            other.execute("COMMIT")
        store.flush()
        assert {r.id for r in store.query(limit=100)} == {e.id for e in events[:20]}
        assert store.aircraft() == [{"icao24": "000002"}]
    transactions = _transactions(statements)
    with_events = [t for t in transactions if any("INTO events" in s for s in t[1])]
    assert len(with_events) == 1
    mode, body = with_events[0]
    assert mode == "FULL" and not any("aircraft" in s for s in body)
    assert sum("INTO events" in s for s in body) == 20
    pictures = [t for t in transactions if any("INTO aircraft" in s for s in t[1])]
    assert len(pictures) == 2 and pictures[0][0] == "NORMAL"  # the second may share the flush's
    assert transactions.index(with_events[0]) < transactions.index(pictures[1])


def test_the_log_is_copied_into_the_file_by_the_checkpointer(
    events: list[Event], tmp_path: Path
) -> None:
    """The writer never checkpoints (it would stall an event's commit): the checkpointer's
    connection does, so the database file alone, without its log, soon holds the events."""
    path = tmp_path / "events.db"
    with EventStore(path) as store:
        store.write(events)
        store.flush()
        copy = tmp_path / "copy.db"

        def copied() -> int:
            copy.write_bytes(path.read_bytes())  # the file alone: no -wal beside the copy
            with raw(copy) as conn:
                try:
                    return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
                except sqlite3.DatabaseError:
                    return 0

        deadline = time.monotonic() + 30
        while copied() < len(events):
            assert time.monotonic() < deadline, "the log was not checkpointed"
            time.sleep(0.1)
        assert path.with_name("events.db-wal").exists()  # the store is still open, in WAL mode


def _transactions(statements: list[str]) -> list[tuple[str, list[str]]]:
    """(synchronous mode, statements) of each transaction in a writer's SQL trace."""
    found: list[tuple[str, list[str]]] = []
    mode, body = "FULL", None
    for statement in statements:
        text = " ".join(statement.split())
        if text.startswith("PRAGMA synchronous"):
            mode = text.rsplit("=", 1)[1].strip()
        elif text == "BEGIN IMMEDIATE":
            body = []
        elif text == "COMMIT" and body is not None:
            found.append((mode, body))
            body = None
        elif body is not None:
            body.append(text)
    return found
