"""The event store's file: its schema, and opening a write connection on it.

Why WAL and `synchronous=FULL`, and why the writer issues its own BEGIN IMMEDIATE, is told in
`skyfence.store.events`, which owns the one write connection `open_connection` returns.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from skyfence.store.errors import StoreError

APPLICATION_ID = 0x536B7946  # "SkyF": tells our files from other SQLite databases

# One tuple of statements per schema version; `PRAGMA user_version` is the number applied.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            zone_id TEXT NOT NULL,
            icao24 TEXT NOT NULL,
            callsign TEXT NOT NULL,
            country TEXT NOT NULL,
            time TEXT NOT NULL,
            time_s REAL NOT NULL,
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            altitude_ft INTEGER,
            details TEXT NOT NULL CHECK (json_valid(details)),
            inserted_at REAL NOT NULL
        )""",
        "CREATE INDEX events_time ON events (time_s)",
        "CREATE INDEX events_zone_time ON events (zone_id, time_s)",
        "CREATE INDEX events_icao24_time ON events (icao24, time_s)",
        """CREATE TABLE outbox (
            event_id TEXT NOT NULL REFERENCES events (id),
            url TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            delivered_at REAL,
            PRIMARY KEY (event_id, url)
        ) WITHOUT ROWID""",
        "CREATE INDEX outbox_due ON outbox (url, next_attempt_at) WHERE delivered_at IS NULL",
        f"PRAGMA application_id = {APPLICATION_ID}",
    ),
    (  # 2: what the map and incident reports show beside the events
        """CREATE TABLE positions (
            icao24 TEXT NOT NULL,
            time_s REAL NOT NULL,
            callsign TEXT NOT NULL,
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            altitude_ft REAL,
            gs_kt REAL,
            track_deg REAL,
            trusted INTEGER NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (icao24, time_s)
        ) WITHOUT ROWID""",
        "CREATE INDEX positions_time ON positions (time_s)",
        """CREATE TABLE aircraft (
            icao24 TEXT PRIMARY KEY,
            record TEXT NOT NULL CHECK (json_valid(record))
        )""",
        """CREATE TABLE zones (
            id TEXT PRIMARY KEY,
            feature TEXT NOT NULL CHECK (json_valid(feature))
        )""",
        """CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            record TEXT NOT NULL CHECK (json_valid(record))
        )""",
        """CREATE TABLE acknowledgements (
            event_id TEXT PRIMARY KEY REFERENCES events (id),
            at REAL NOT NULL,
            by TEXT NOT NULL,
            note TEXT NOT NULL
        )""",
    ),
    (  # 3: every version of a zone that was watched, and the one in force at each event
        """CREATE TABLE zone_versions (
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            feature TEXT NOT NULL CHECK (json_valid(feature)),
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (id, version)
        ) WITHOUT ROWID""",
        # the zones recorded before versions existed become version 1 of each
        """INSERT INTO zone_versions SELECT id, 1, feature,
            (julianday('now') - 2440587.5) * 86400.0, (julianday('now') - 2440587.5) * 86400.0
            FROM zones""",
        "ALTER TABLE zones ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE events ADD COLUMN zone_version INTEGER",
        # older events: the version recorded when the store was migrated (the best known)
        "UPDATE events SET zone_version = 1 WHERE zone_id IN (SELECT id FROM zones)",
    ),
    (  # 4: the interference picture: distinct aircraft per hour and H3 cell
        """CREATE TABLE interference (
            hour_s INTEGER NOT NULL,
            cell TEXT NOT NULL,
            aircraft INTEGER NOT NULL,
            degraded INTEGER NOT NULL,
            spoofed INTEGER NOT NULL,
            claimed INTEGER NOT NULL,
            PRIMARY KEY (hour_s, cell)
        ) WITHOUT ROWID""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def open_connection(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """The write connection, on a file in WAL mode with the current schema."""
    if str(path) == ":memory:" or str(path).startswith("file:"):
        raise StoreError(path, "the event store must be a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(path, f"cannot create its folder: {exc}") from exc
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout_s,
            isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
            check_same_thread=False,  # opened here, then used by the writer thread only
        )
        check_identity(path, conn)
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            raise StoreError(path, f"cannot use WAL journal mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise StoreError(path, f"cannot open the event store: {exc}") from exc
    except StoreError:
        if conn is not None:
            conn.close()
        raise
    return conn


def check_identity(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse another program's database rather than add our tables to it."""
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if app_id not in (0, APPLICATION_ID):
        raise StoreError(path, "not a skyfence event store (another application's)")
    if app_id == 0:
        (tables,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if tables:
            raise StoreError(path, "not a skyfence event store (it has other tables)")
    if version > SCHEMA_VERSION:
        raise StoreError(
            path,
            f"schema version {version} is newer than this skyfence's ({SCHEMA_VERSION})",
        )


def migrate(conn: sqlite3.Connection) -> None:
    """Apply missing schema versions, each with its version number in one transaction
    (read inside it, so two processes opening a new store at once do not both migrate)."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                return
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
