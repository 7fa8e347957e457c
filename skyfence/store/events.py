"""The event store: every event in one SQLite file, so an alert outlives a crash of the monitor.

Durability choices, and why:

- WAL journal, `synchronous=FULL`. A kill -9 alone needs only NORMAL: a committed WAL frame sits
  in the OS page cache, which outlives the process. But NORMAL may roll back the last commits
  on a power cut or kernel crash, and `flush` promises the events are on disk. FULL costs one
  fsync per commit; the writer commits everything queued in one transaction, so that cost is per
  batch, not per event.
- One writer thread owns the only write connection and takes its work from a queue (the
  datasette pattern): our own threads never contend for SQLite's lock, and each commit starts
  with BEGIN IMMEDIATE, so it cannot fail half-way on a lock upgrade. Readers open their own
  read-only connections; WAL lets them read while the writer writes.
- An event and its webhook outbox rows are committed in the same transaction: no stored alert
  without its deliveries queued, no delivery queued for an alert that was not stored.
- Inserts are idempotent by event id (`INSERT OR IGNORE`): replaying a recording twice stores,
  and notifies, each event once.
- Event rows never wait behind the live picture: the writer commits the event rows it took in
  their own transaction first (FULL), then the rest (picture, interference counts, operations
  whose callers wait). A transaction of nothing but picture and interference rows commits with
  `synchronous=NORMAL`, no fsync: on a loaded disk an fsync stalls now and then for a second,
  and such a stall may only delay a picture that a power cut may lose anyway. The next FULL
  commit syncs the log up to it.
- SQLite's automatic checkpoint runs inside the commit that crosses 1,000 pages of log, on the
  writer's thread: it is off on the writer's connection, and a second connection, in its own
  thread, runs `PRAGMA wal_checkpoint(PASSIVE)` (which never blocks the writer in WAL mode)
  every `CHECKPOINT_EVERY_S` after commits. Its failures are logged, never raised: the log
  keeps what was committed, and the last connection to close checkpoints it.
- A failed commit drops nothing: its events stay queued and are retried with backoff, and the
  error is raised by the next `write` or `flush` (by every one while the store still fails);
  `close` raises if events could not be written at all, and saves them first, as JSON lines,
  beside the store (`FILE.unwritten.jsonl`): a file damaged by another program (garbage written
  into it) fails every commit, and its events must survive it.
- Another process may hold the write lock longer than the busy timeout (a `watch` beside a
  `serve`, pruning a large track log): an acknowledgement, the web's one write, is retried with
  the same backoff for up to `ack_patience_s` before its caller hears "database is locked".
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skyfence.engine.events import Event, iso_time
from skyfence.errors import InputError
from skyfence.store.errors import EventNotFoundError, StoreError
from skyfence.store.records import (
    SELECT_STORED,
    STORED_COLUMNS,
    WITH_ACKNOWLEDGEMENT,
    InterferenceCount,
    StoredEvent,
)
from skyfence.store.rows import (
    INSERT_EVENT,
    EventFilter,
    PositionRow,
    Row,
    event_row,
    stored_event,
)
from skyfence.store.tables import APPLICATION_ID, SCHEMA_VERSION, open_connection
from skyfence.text import escape_controls
from skyfence.wording import counted

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "Delivery",
    "EventStore",
    "OutboxCounts",
    "OutboxHealth",
    "StoreError",
    "StoreStats",
]

log = logging.getLogger(__name__)

_INSERT_OUTBOX = (
    "INSERT OR IGNORE INTO outbox (event_id, url, attempts, next_attempt_at) VALUES (?, ?, 0, ?)"
)
_RETRY_FIRST_S = 0.05  # after a failed commit, retry soon (a lock held for a moment) ...
_RETRY_MAX_S = 5.0  # ... and then less and less often (a full disk)
_SQLITE_MAX_INT = 2**63 - 1
_LOCKED = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
# what `watch` gives `busy_patience_s`: commits that fail only because another program holds the
# write lock are retried this long (each attempt waits `busy_timeout_s` itself, with backoff
# between them) before they count as failures, which stop a watch
BUSY_PATIENCE_S = 30.0
_MAX_JOBS_PER_COMMIT = 1000  # keeps one transaction, and the readers' WAL, reasonably short
CHECKPOINT_EVERY_S = 1.0  # the checkpointer copies the log into the file this often, at most

InterferenceRow = tuple[int, str, int, int, int, int]  # as `InterferenceCount` reads it back


@dataclass(slots=True)
class StoreStats:
    """What the writer did: new events, replays ignored by id, commits made and failed."""

    inserted: int = 0
    ignored: int = 0
    commits: int = 0
    failed_commits: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One pending webhook delivery: the event to POST and how often it was tried."""

    event_id: str
    url: str
    attempts: int
    event: StoredEvent


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    delivered: int


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """One destination's backlog: what waits, since when (the oldest waiting event's storing
    time, UNIX seconds) and the last error of a waiting delivery (None: none failed yet)."""

    url: str
    pending: int
    oldest_pending_at: float | None
    last_error: str | None


@dataclass(slots=True)
class _Job:
    """Work for the writer: event rows to insert, or an operation whose caller waits."""

    rows: list[Row] = field(default_factory=list)
    op: Callable[[sqlite3.Connection], Any] | None = None
    future: Future[Any] | None = None
    result: Any = None
    retry_until: float = -math.inf  # monotonic time until which a locked database is retried
    queued_at: float = field(default_factory=time.monotonic)  # for the write latency


class EventStore:
    """SQLite store of events and of their pending webhook deliveries (an `EventSink`).

    `write` only queues (it never waits for the disk), `flush` returns once everything queued
    before it is committed, `close` flushes and stops the writer. Events are queued for delivery
    to each of `webhook_urls`, and of `notifiers` (outbox keys of other transports, as
    `apprise:DIGEST`: a name of the destination, not its URL, which may hold a secret), when
    first stored. With `busy_patience_s`, commits refused only because another program holds the
    write lock are retried that long, said by `busy`, before they fail (`failure`).
    """

    def __init__(
        self,
        path: str | Path,
        webhook_urls: Sequence[str] = (),
        *,
        notifiers: Sequence[str] = (),
        busy_timeout_s: float = 5.0,
        ack_patience_s: float = 30.0,
        busy_patience_s: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.webhook_urls = tuple(dict.fromkeys(webhook_urls))
        for url in self.webhook_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InputError(f"{url!r}: a webhook must be an http:// or https:// URL")
        self.notifiers = tuple(k for k in dict.fromkeys(notifiers) if k not in self.webhook_urls)
        self.outbox_keys = self.webhook_urls + self.notifiers
        self.stats = StoreStats()
        self._busy_timeout_s = busy_timeout_s
        self._ack_patience_s = ack_patience_s
        self._busy_patience_s = busy_patience_s
        self._conn = open_connection(self.path, busy_timeout_s)
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer's job
        self._synchronous = "FULL"  # as open_connection set it; NORMAL for picture-only commits
        self._read_uri = self.path.resolve().as_uri() + "?mode=ro"
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._failure: StoreError | None = None  # set while commits fail
        self._unreported: StoreError | None = None  # the last failure, until raised once
        self._busy: StoreError | None = None  # set while commits wait for another's lock
        self._busy_since: float | None = None  # monotonic time of the first locked failure
        self._unwritten: list[Row] = []  # event rows no commit took, known once stopped
        self._retry_wake = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._latency_listeners: list[Callable[[float], None]] = []
        self.last_commit_at: float | None = None  # monotonic time of the last commit
        self._thread = threading.Thread(
            target=self._run, name=f"skyfence-store-writer:{self.path.name}", daemon=True
        )
        self._thread.start()
        self._checkpoint_wake = threading.Event()
        self._checkpoint_stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name=f"skyfence-store-checkpoint:{self.path.name}"
        )
        self._checkpointer.daemon = True
        self._checkpointer.start()
        # The writer is a daemon thread, so a forgotten `close` must not lose queued events.
        atexit.register(self._close_at_exit)

    # -- writing ----------------------------------------------------------------------------

    def write(self, events: Iterable[Event]) -> None:
        """Queue events for the writer. Raises `StoreError` if a commit failed since the last
        call (or the store still fails); the events of a call that raised are queued all the
        same (retried, or saved at `close`), and writing them again is harmless (inserts are
        idempotent)."""
        rows = [event_row(event) for event in events]  # bad values fail here, not in the writer
        with self._lock:
            if rows and not self._closed:
                self._queue.put(_Job(rows=rows))
            self._check()

    def check(self) -> None:
        """Raise `StoreError` while commits fail, as `write` does: a watch with no new event to
        write learns it all the same, instead of running on beside a store that takes nothing
        (its last events waiting in the queue)."""
        with self._lock:
            self._check()

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything written before is committed (on disk); raise `StoreError` if a
        commit failed, `TimeoutError` after `timeout` seconds."""
        self._submit(lambda conn: None, timeout, check=True)

    def close(self) -> None:
        """Flush, stop the writer and close the file. Raises `StoreError` if some events could
        not be written (they are named by count; nothing is dropped silently)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._retry_wake.set()
        self._thread.join()
        self._checkpoint_stop.set()
        self._checkpoint_wake.set()
        self._checkpointer.join()
        self._conn.close()
        atexit.unregister(self._close_at_exit)
        if self._unwritten:
            reason = self._failure.reason if self._failure else "unknown error"
            saved = self._save_unwritten()
            lost = counted(len(self._unwritten), "event")
            raise StoreError(self.path, f"{lost} could not be written: {reason}; {saved}")

    def _save_unwritten(self) -> str:
        """The events no commit took, appended to FILE.unwritten.jsonl; says where, or why not."""
        rescue = self.path.with_name(self.path.name + ".unwritten.jsonl")
        try:
            with rescue.open("a", encoding="utf-8") as f:
                for row in self._unwritten:
                    record = stored_event(row).to_json()
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            return f"they could not be saved to {rescue} either: {exc.strerror or exc}"
        return f"they are saved in {rescue}"

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------

    def get(self, event_id: str) -> StoredEvent | None:
        """The stored event, with its acknowledgement, or None."""
        with self._reader() as conn:
            row = conn.execute(SELECT_STORED + " WHERE e.id = ?", (event_id,)).fetchone()
        return None if row is None else StoredEvent.from_row(row)

    def query(
        self,
        which: EventFilter | None = None,
        limit: int = 100,
        offset: int = 0,
        *,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        """Events matching `which` (all without), in time order (then id, so pages never
        overlap), each with its acknowledgement."""
        if not (0 <= limit <= _SQLITE_MAX_INT and 0 <= offset <= _SQLITE_MAX_INT):
            raise InputError(f"limit and offset must be between 0 and {_SQLITE_MAX_INT}")
        where, params = (which or EventFilter()).where()
        order = "DESC" if newest_first else "ASC"
        sql = f"{SELECT_STORED}{where} ORDER BY time_s {order}, id {order} LIMIT ? OFFSET ?"
        with self._reader() as conn:
            rows = conn.execute(sql, [*params, limit, offset]).fetchall()
        return [StoredEvent.from_row(row) for row in rows]

    def events_after(self, rowid: int, limit: int = 500) -> tuple[list[StoredEvent], int]:
        """Events stored after the one with `rowid`, in storage order, and the last rowid: how
        a live stream follows the store without missing or repeating an event."""
        sql = f"{SELECT_STORED} WHERE e.rowid > ? ORDER BY e.rowid LIMIT ?"
        with self._reader() as conn:
            rows = conn.execute(sql, (rowid, limit)).fetchall()
        events = [StoredEvent.from_row(row) for row in rows]
        return events, (events[-1].rowid or rowid) if events else rowid

    def last_rowid(self) -> int:
        with self._reader() as conn:
            (rowid,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        return int(rowid)

    # -- the live picture, tracks, zones and acknowledgements ----------------------------------

    def write_picture(
        self,
        aircraft: list[dict[str, Any]] | None = None,
        positions: list[PositionRow] | None = None,
        sources: list[dict[str, Any]] | None = None,
    ) -> None:
        """Queue the watcher's picture: it replaces the aircraft (and sources) shown, and adds to
        the track log. Not waited for; a failed commit loses only this picture, never events."""
        picture = [(r["icao24"], json.dumps(r, allow_nan=False)) for r in aircraft or []]
        status = [(r["name"], json.dumps(r, allow_nan=False)) for r in sources or []]
        tracks = list(positions or [])

        def op(conn: sqlite3.Connection) -> None:
            if aircraft is not None:
                conn.execute("DELETE FROM aircraft")
                conn.executemany("INSERT INTO aircraft VALUES (?, ?)", picture)
            if sources is not None:
                conn.executemany("INSERT OR REPLACE INTO sources VALUES (?, ?)", status)
            conn.executemany(_INSERT_POSITION, tracks)

        self._enqueue(op)

    def write_interference(self, rows: Sequence[InterferenceRow]) -> None:
        """Queue interference counts (hour_s, cell, aircraft, degraded, spoofed, claimed); each
        replaces the stored counts of its hour and cell (a running hour grows). Not waited for."""
        cells = list(rows)

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO interference VALUES (?, ?, ?, ?, ?, ?)", cells)

        self._enqueue(op)

    def interference(self, since_s: float, until_s: float) -> list[InterferenceCount]:
        """The counts of the hours starting in [since_s, until_s), by hour then cell."""
        sql = (
            "SELECT hour_s, cell, aircraft, degraded, spoofed, claimed FROM interference"
            " WHERE hour_s >= ? AND hour_s < ? ORDER BY hour_s, cell"
        )
        with self._reader() as conn:
            rows = conn.execute(sql, (since_s, until_s)).fetchall()
        return [InterferenceCount(*row) for row in rows]

    def interference_hours(self) -> tuple[int, int] | None:
        """The first and last hour stored (unix seconds), or None."""
        with self._reader() as conn:
            sql = "SELECT min(hour_s), max(hour_s) FROM interference"
            first, last = conn.execute(sql).fetchone()
        return None if first is None else (int(first), int(last))

    def set_zones(self, features: list[dict[str, Any]]) -> None:
        """Record the zones being watched (GeoJSON features), replacing the previous set.

        Every version of a zone is kept (zone_versions): a zone unchanged since an earlier
        watch keeps its version, an edited one gets the next. Events record the version in
        force when they were stored, so a later zone set never rewrites an old event's zone."""
        texts = [json.dumps(f, allow_nan=False) for f in features]

        def op(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("DELETE FROM zones")
            for text in texts:
                feature = json.loads(text)
                zone_id = feature["properties"]["id"]
                versions = conn.execute(
                    "SELECT version, feature FROM zone_versions WHERE id = ?", (zone_id,)
                ).fetchall()
                same = [v for v, old in versions if json.loads(old) == feature]
                if same:
                    version = same[0]
                    conn.execute(
                        "UPDATE zone_versions SET last_seen = ? WHERE id = ? AND version = ?",
                        (now, zone_id, version),
                    )
                else:
                    version = max((v for v, _ in versions), default=0) + 1
                    conn.execute(
                        "INSERT INTO zone_versions VALUES (?, ?, ?, ?, ?)",
                        (zone_id, version, text, now, now),
                    )
                conn.execute("INSERT INTO zones VALUES (?, ?, ?)", (zone_id, text, version))

        self._submit(op)

    def aircraft(self) -> list[dict[str, Any]]:
        with self._reader() as conn:
            rows = conn.execute("SELECT record FROM aircraft ORDER BY icao24").fetchall()
        return [json.loads(r) for (r,) in rows]

    def zones(self) -> list[dict[str, Any]]:
        """The zones watched now, each with its `zone_version` among its properties."""
        sql = "SELECT feature, version FROM zones ORDER BY id"
        with self._reader() as conn:
            rows = conn.execute(sql).fetchall()
        return [_versioned(text, version) for text, version in rows]

    def zone_ids(self) -> list[str]:
        """Every zone id this store knows: watched now, once watched, or named by an event (a
        rule's event, an emergency squawk, names none: its zone id is empty)."""
        sql = (
            "SELECT id FROM zone_versions UNION SELECT zone_id FROM events WHERE zone_id != ''"
            " ORDER BY 1"
        )
        with self._reader() as conn:
            return [zone_id for (zone_id,) in conn.execute(sql).fetchall()]

    def event_zone(self, event_id: str) -> dict[str, Any] | None:
        """The zone as it was when the event was stored (its version then), or, for an event
        stored before zones were recorded, the zone of that id watched now; else None."""
        sql = (
            "SELECT coalesce(v.feature, z.feature), coalesce(v.version, z.version)"
            " FROM events e LEFT JOIN zone_versions v ON v.id = e.zone_id"
            " AND v.version = e.zone_version LEFT JOIN zones z ON z.id = e.zone_id"
            " WHERE e.id = ?"
        )
        with self._reader() as conn:
            row = conn.execute(sql, (event_id,)).fetchone()
        return None if row is None or row[0] is None else _versioned(row[0], row[1])

    def sources(self) -> list[dict[str, Any]]:
        with self._reader() as conn:
            rows = conn.execute("SELECT record FROM sources ORDER BY name").fetchall()
        return [json.loads(r) for (r,) in rows]

    def positions(
        self, icao24: str, since: float, until: float, limit: int = 20_000
    ) -> list[dict[str, Any]]:
        """The logged fixes of one aircraft with `since <= time_s <= until`, in time order."""
        sql = (
            "SELECT icao24, time_s, callsign, lat, lon, altitude_ft, gs_kt, track_deg, trusted,"
            " reason FROM positions WHERE icao24 = ? AND time_s BETWEEN ? AND ?"
            " ORDER BY time_s LIMIT ?"
        )
        with self._reader() as conn:
            rows = conn.execute(sql, (icao24, since, until, limit)).fetchall()
        return [_position_record(row) for row in rows]

    def acknowledge(self, event_id: str, by: str, note: str = "") -> StoredEvent:
        """Mark an event seen by someone; the first acknowledgement stands. Raises
        `EventNotFoundError` for an unknown event. `by` and `note` come from outside (the API):
        stored with their controls and bidirectional overrides escaped (`skyfence.text`)."""
        sql = "INSERT OR IGNORE INTO acknowledgements VALUES (?, ?, ?, ?)"
        by, note = escape_controls(by), escape_controls(note)

        def op(conn: sqlite3.Connection) -> bool:
            if conn.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone() is None:
                return False
            conn.execute(sql, (event_id, time.time(), by, note))
            return True

        if not self._submit(op, retry_s=self._ack_patience_s):
            raise EventNotFoundError(event_id, self.path)
        record = self.get(event_id)
        assert record is not None  # events are never deleted
        return record

    def prune_positions(
        self, before_s: float, keep_around_events_s: float = 1800.0, *, wait: bool = True
    ) -> int | None:
        """Delete logged fixes older than `before_s`, except those near an event of the same
        aircraft (an incident report needs them); returns how many went. `wait=False` (the
        watch loop): queued and not waited for, so that a store busy with another program's
        lock holds nothing up; returns None."""
        sql = (
            "DELETE FROM positions WHERE time_s < ? AND NOT EXISTS (SELECT 1 FROM events e"
            " WHERE e.icao24 = positions.icao24 AND e.time_s BETWEEN positions.time_s - ?"
            " AND positions.time_s + ?)"
        )

        def op(conn: sqlite3.Connection) -> sqlite3.Cursor:
            return conn.execute(sql, (before_s, *[keep_around_events_s] * 2))

        if not wait:
            self._enqueue(op)
            return None
        return int(self._submit(op).rowcount)

    def count(self, which: EventFilter | None = None) -> int:
        """How many events `query` would page through with the same filter."""
        where, params = (which or EventFilter()).where()
        with self._reader() as conn:
            (n,) = conn.execute("SELECT count(*) FROM events" + where, params).fetchone()
        return int(n)

    # -- the webhook outbox -----------------------------------------------------------------

    def due_deliveries(self, url: str, now: float, limit: int = 100) -> list[Delivery]:
        """Undelivered events for `url` whose next attempt is due, the longest-waiting first."""
        sql = (
            f"SELECT o.event_id, o.url, o.attempts, {', '.join(STORED_COLUMNS)}"
            f" FROM outbox o JOIN events e ON e.id = o.event_id {WITH_ACKNOWLEDGEMENT}"
            " WHERE o.url = ? AND o.delivered_at IS NULL AND o.next_attempt_at <= ?"
            " ORDER BY o.next_attempt_at, e.time_s, e.id LIMIT ?"
        )
        with self._reader() as conn:
            rows = conn.execute(sql, (url, now, limit)).fetchall()
        return [Delivery(r[0], r[1], r[2], StoredEvent.from_row(r[3:])) for r in rows]

    def next_delivery_at(self, url: str) -> float | None:
        """When the next undelivered event for `url` is due (None: nothing pending)."""
        sql = "SELECT min(next_attempt_at) FROM outbox WHERE url = ? AND delivered_at IS NULL"
        with self._reader() as conn:
            (at,) = conn.execute(sql, (url,)).fetchone()
        return None if at is None else float(at)

    def outbox_counts(self, url: str | None = None) -> OutboxCounts:
        sql = "SELECT count(*) - count(delivered_at), count(delivered_at) FROM outbox"
        with self._reader() as conn:
            if url is None:
                pending, delivered = conn.execute(sql).fetchone()
            else:
                pending, delivered = conn.execute(sql + " WHERE url = ?", (url,)).fetchone()
        return OutboxCounts(int(pending), int(delivered))

    def outbox_health(self) -> list[OutboxHealth]:
        """Per destination with deliveries waiting, and per webhook URL of this store (with
        nothing waiting): for `/metrics`, `/healthz` and the map's footer."""
        sql = (
            "SELECT o.url, count(*), min(e.inserted_at), (SELECT w.last_error FROM outbox w"
            " WHERE w.url = o.url AND w.delivered_at IS NULL AND w.last_error IS NOT NULL"
            " ORDER BY w.next_attempt_at DESC LIMIT 1)"
            " FROM outbox o JOIN events e ON e.id = o.event_id"
            " WHERE o.delivered_at IS NULL GROUP BY o.url ORDER BY o.url"
        )
        with self._reader() as conn:
            rows = conn.execute(sql).fetchall()
        found = {r[0]: OutboxHealth(r[0], int(r[1]), r[2], r[3]) for r in rows}
        idle = [OutboxHealth(u, 0, None, None) for u in self.outbox_keys if u not in found]
        return [*found.values(), *idle]

    @property
    def failure(self) -> StoreError | None:
        """Why commits fail, while they do (None once one succeeds again)."""
        return self._failure

    @property
    def busy(self) -> StoreError | None:
        """While commits wait for another program's write lock, and are retried (for
        `busy_patience_s`, then they fail): why. None once one succeeds again."""
        return self._busy

    def add_latency_listener(self, listener: Callable[[float], None]) -> None:
        """Call `listener` (in the writer thread: it must not block) after each commit with
        the seconds its oldest work waited in the queue until it was on disk."""
        with self._lock:
            self._latency_listeners.append(listener)

    def mark_delivered(self, event_id: str | Sequence[str], url: str, at: float) -> None:
        """Record a successful delivery (of one event, or of several in one message, as a
        storm's summary); returns once committed."""
        sql = (
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1"
            " WHERE event_id = ? AND url = ? AND delivered_at IS NULL"
        )
        rows = [(at, i, url) for i in _ids(event_id)]
        self._submit(lambda conn: conn.executemany(sql, rows))

    def record_failure(
        self, event_id: str | Sequence[str], url: str, error: str, next_attempt_at: float
    ) -> None:
        """Record a failed attempt and when to try again; returns once committed."""
        sql = (
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE event_id = ? AND url = ? AND delivered_at IS NULL"
        )
        rows = [(error, next_attempt_at, i, url) for i in _ids(event_id)]
        self._submit(lambda conn: conn.executemany(sql, rows))

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` (in the writer thread: it must not block) after each commit that
        queued new deliveries, so a delivery worker wakes at once instead of polling."""
        with self._lock:
            self._listeners.append(listener)

    def remove_commit_listener(self, listener: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # -- internals --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A fresh read-only connection: readers never share the writer's, nor each other's."""
        if self._closed:
            raise StoreError(self.path, "the event store is closed")
        try:
            with contextlib.closing(
                sqlite3.connect(self._read_uri, uri=True, timeout=self._busy_timeout_s)
            ) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise StoreError(self.path, f"cannot read the event store: {exc}") from exc

    def _check(self) -> None:
        """Raise the pending failure, if any (call with the lock held)."""
        if self._closed:
            raise StoreError(self.path, "the event store is closed")
        error = self._failure or self._unreported
        self._unreported = None
        if error is not None:
            raise StoreError(error.path, error.reason) from error.__cause__

    def _submit(
        self,
        op: Callable[[sqlite3.Connection], Any],
        timeout: float | None = None,
        *,
        check: bool = False,
        retry_s: float = 0.0,
    ) -> Any:
        """Run `op` on the write connection, in the writer's next transaction; wait for it.
        While the database is locked by another process, retry for `retry_s` seconds."""
        future: Future[Any] = Future()
        with self._lock:
            if check:
                self._check()
            elif self._closed:
                raise StoreError(self.path, "the event store is closed")
            retry_until = time.monotonic() + retry_s if retry_s > 0 else -math.inf
            self._queue.put(_Job(op=op, future=future, retry_until=retry_until))
        try:
            return future.result(timeout)
        except StoreError:
            with self._lock:
                self._unreported = None  # raised here: reported
            raise

    def _enqueue(self, op: Callable[[sqlite3.Connection], Any]) -> None:
        """Run `op` in the writer's next transaction without waiting for it."""
        with self._lock:
            if self._closed:
                raise StoreError(self.path, "the event store is closed")
            self._queue.put(_Job(op=op))

    def _run(self) -> None:
        """The writer thread: take what is queued, commit it as one transaction, repeat."""
        retained: list[_Job] = []  # event rows of failed commits, retried first
        failures = 0
        stopping = False
        while not stopping:
            if retained:
                self._retry_wake.wait(min(_RETRY_FIRST_S * 2 ** (failures - 1), _RETRY_MAX_S))
            jobs, stopping = self._take(block=not retained)
            jobs = retained + jobs
            if not jobs:
                continue
            # event rows first, alone: they never wait behind a picture (or its fsync); if
            # they fail, everything is tried together, and fails together, as one commit
            rows = [job for job in jobs if job.rows]
            if rows and len(rows) < len(jobs) and self._commit(rows):
                jobs = [job for job in jobs if not job.rows]
            if self._commit(jobs):
                self._committed(jobs)
                retained, failures = [], 0
            else:
                retained = [job for job in jobs if job.rows or job.future is not None]
                failures += 1
        self._unwritten = [row for job in retained for row in job.rows]
        for job in retained:
            if job.future is not None:
                job.future.set_exception(StoreError(self.path, "the event store was closed"))

    def _committed(self, jobs: list[_Job]) -> None:
        now = time.monotonic()
        self.last_commit_at = now
        waited = now - min(job.queued_at for job in jobs)
        for listener in self._latency_listeners:
            try:
                listener(waited)
            except Exception:  # someone else's bug must not stop the writer
                log.exception("event store %s: latency listener failed", self.path)

    def _take(self, *, block: bool) -> tuple[list[_Job], bool]:
        jobs: list[_Job] = []
        try:
            item = self._queue.get() if block else self._queue.get_nowait()
            while True:
                if item is None:
                    return jobs, True
                jobs.append(item)
                if len(jobs) >= _MAX_JOBS_PER_COMMIT:
                    return jobs, False
                item = self._queue.get_nowait()
        except queue.Empty:
            return jobs, False

    def _commit(self, jobs: list[_Job]) -> bool:
        """One transaction for all `jobs`; on failure, everything is rolled back and reported."""
        conn = self._conn
        inserted = ignored = queued = 0
        try:
            # only the picture and interference counts (nobody waits, no event) skip the fsync
            durable = any(job.rows or job.future is not None for job in jobs)
            synchronous = "FULL" if durable else "NORMAL"
            if synchronous != self._synchronous:
                conn.execute(f"PRAGMA synchronous = {synchronous}")
                self._synchronous = synchronous
            conn.execute("BEGIN IMMEDIATE")
            now = time.time()
            for job in jobs:
                for row in job.rows:
                    if conn.execute(INSERT_EVENT, (*row, now)).rowcount == 1:
                        inserted += 1
                        if self.outbox_keys:
                            conn.executemany(
                                _INSERT_OUTBOX, [(row[0], key, now) for key in self.outbox_keys]
                            )
                            queued += 1
                    else:
                        ignored += 1
                if job.op is not None:
                    job.result = job.op(conn)
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = StoreError(self.path, f"cannot write events: {exc}")
            error.__cause__ = exc
            locked = isinstance(exc, sqlite3.Error) and (exc.sqlite_errorcode & 0xFF) in _LOCKED
            now_m = time.monotonic()
            if not locked:
                self._busy_since = None
            elif self._busy_since is None:
                self._busy_since = now_m
            since = self._busy_since
            patient = since is not None and now_m - since < self._busy_patience_s
            with self._lock:
                if patient:
                    # another program holds the lock: said, and the same commit is retried
                    self._busy = StoreError(
                        self.path,
                        f"store busy: {exc} (another program holds the write lock); retrying"
                        f" for up to {self._busy_patience_s:g} s",
                    )
                else:
                    self._busy = None
                    self._failure = self._unreported = error
            self.stats.failed_commits += 1
            for job in jobs:
                if job.future is None:
                    continue
                if patient or (locked and time.monotonic() < job.retry_until):
                    job.result = None  # retried with the next commit
                else:
                    job.future.set_exception(error)
                    job.future = None
            return False
        with self._lock:
            self._failure = self._busy = self._busy_since = None
            listeners = list(self._listeners) if queued else []
        self.stats.inserted += inserted
        self.stats.ignored += ignored
        self.stats.commits += 1
        self._checkpoint_wake.set()
        for job in jobs:
            if job.future is not None:
                job.future.set_result(job.result)
        for listener in listeners:
            try:
                listener()
            except Exception:  # someone else's bug must not stop the writer
                log.exception("event store %s: commit listener failed", self.path)
        return True

    def _checkpoint_loop(self) -> None:
        """Copy the log into the database file after commits, at most every CHECKPOINT_EVERY_S,
        from this thread's own connection: a PASSIVE checkpoint never blocks the writer."""
        conn: sqlite3.Connection | None = None
        try:
            while not self._checkpoint_stop.is_set():
                self._checkpoint_wake.wait()
                if self._checkpoint_stop.is_set():
                    return
                self._checkpoint_wake.clear()
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # a damaged file: the writer reports it
                    log.warning("event store %s: checkpoint failed: %s", self.path, exc)
                self._checkpoint_stop.wait(CHECKPOINT_EVERY_S)
        finally:
            if conn is not None:
                conn.close()

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except StoreError as exc:
            print(f"skyfence: {exc}", file=sys.stderr)


def _ids(event_id: str | Sequence[str]) -> list[str]:
    return [event_id] if isinstance(event_id, str) else list(event_id)


_INSERT_POSITION = "INSERT OR IGNORE INTO positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_POSITION_COLUMNS = (
    "icao24",
    "time_s",
    "callsign",
    "lat",
    "lon",
    "altitude_ft",
    "gs_kt",
    "track_deg",
    "trusted",
    "reason",
)


def _position_record(row: Sequence[Any]) -> dict[str, Any]:
    record = dict(zip(_POSITION_COLUMNS, row, strict=True))
    record["trusted"] = bool(record["trusted"])
    record["time"] = iso_time(record["time_s"])
    return record


def _versioned(text: str, version: int | None) -> dict[str, Any]:
    feature: dict[str, Any] = json.loads(text)
    feature["properties"]["zone_version"] = version
    return feature
