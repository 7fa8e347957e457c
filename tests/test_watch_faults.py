"""`skyfence watch` as a real subprocess against real servers on 127.0.0.1, with real data.

A fake receiver serves SBS lines of traffic's quickstart recording (28 aircraft crossing the
Paris test zones over 15 minutes, with their real times); it drops the connection mid-line once
and ends the feed by hanging up, so the watcher's next connection proves it has read all of it.
A webhook fails (HTTP 500, or a connection closed without an answer) before it accepts. The
store is watched from outside with read-only SQLite connections, as another process would.

1. Faults in the feed and the webhook: every stored event is delivered, none stored twice.
2. kill -9 in the middle of the feed, then a restart: what was stored survives unchanged, the
   deliveries pending at the kill are made after the restart.
"""

from __future__ import annotations

import json
import math
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import CLOSE, HOLD, Receiver, WatchProcess, sbs_line

from skyfence.engine.engine import Engine
from skyfence.engine.events import iso_time
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones

WINDOW_S = (1_633_610_000.0, 1_633_610_900.0)  # 2021-10-07 12:33:20 to 12:48:20 UTC
AIRCRAFT = 28


# -- real data ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feed(samples: Path, paris_zones_path: Path) -> list[bytes]:
    """SBS lines (with their line ends), in time order, of aircraft that cross the zones."""
    recording = samples / "collections" / "quickstart.json.gz"
    sv = StateVectors.concat(list(read_recording(recording)))
    sv = sv.take(np.argsort(sv.t_s, kind="stable"))
    w0, w1 = WINDOW_S
    events = Engine(load_zones(paris_zones_path)).process(sv)
    crossing = sorted(
        {e.icao24 for e in events if e.kind in ("entry", "exit") and w0 <= e.t_s < w1}
    )
    assert len(crossing) >= AIRCRAFT
    picked = [int(a, 16) for a in crossing[:AIRCRAFT]]
    keep = (sv.t_s >= w0) & (sv.t_s < w1) & np.isin(sv.icao24, picked)
    sv = sv.take(keep & np.isfinite(sv.lat_deg) & np.isfinite(sv.lon_deg))
    lines = []
    for r in range(len(sv)):
        icao, t = int(sv.icao24[r]), float(sv.t_s[r])
        lines.append(sbs_line(1, icao, t, {10: str(sv.callsign[r])}))
        if math.isfinite(sv.gs_kt[r]) and math.isfinite(sv.track_deg[r]):
            speed = {12: f"{sv.gs_kt[r]:.1f}", 13: f"{sv.track_deg[r]:.1f}"}
            if math.isfinite(sv.vrate_fpm[r]):
                speed[16] = f"{sv.vrate_fpm[r]:.0f}"
            lines.append(sbs_line(4, icao, t, speed))
        position = {14: f"{sv.lat_deg[r]:.5f}", 15: f"{sv.lon_deg[r]:.5f}", 21: "0"}
        alt = sv.alt_baro_ft[r]
        position |= {11: f"{alt:.0f}"} if math.isfinite(alt) else {}
        lines.append(sbs_line(3, icao, t, position))
    return [(line + "\r\n").encode() for line in lines]


def line_time(line: bytes) -> float:
    fields = line.decode().split(",")
    when = datetime.strptime(f"{fields[6]} {fields[7]} +0000", "%Y/%m/%d %H:%M:%S.%f %z")
    return when.timestamp()


# -- servers -----------------------------------------------------------------------------------


class HookServer:
    """An HTTP endpoint on 127.0.0.1 that records the Idempotency-Key and body of what it
    accepts; a subclass's `respond` says how it answers each POST."""

    def __init__(self) -> None:
        self.requests = 0
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.lock:
                    before = hook.requests
                    hook.requests += 1
                hook.respond(self, before, body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def respond(self, handler: BaseHTTPRequestHandler, before: int, body: bytes) -> None:
        """Answer one POST; `before`: the number of requests before this one."""
        raise NotImplementedError

    def accept(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self.lock:
            self.accepted.append((handler.headers["Idempotency-Key"], json.loads(body)))
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def keys(self) -> set[str]:
        with self.lock:
            return {key for key, _ in self.accepted}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)


class Webhook(HookServer):
    """Fails (500, then a connection closed without an answer, in turn) while `failing()`
    says so, then accepts."""

    def __init__(self, failing: Callable[[int], bool]) -> None:
        self.failing = failing  # given the number of requests before this one
        self.failures = 0
        super().__init__()

    def respond(self, handler: BaseHTTPRequestHandler, before: int, body: bytes) -> None:
        if not self.failing(before):
            self.accept(handler, body)
            return
        with self.lock:
            self.failures += 1
            close = self.failures % 2 == 0
        if close:
            handler.close_connection = True  # no answer at all
            return
        handler.send_response(500)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@pytest.fixture
def servers() -> Iterator[list[Receiver | Webhook]]:
    started: list[Receiver | Webhook] = []
    yield started
    for server in started:
        server.close()


# -- the store, read from outside ----------------------------------------------------------------


def read_store(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a read-only query; [] while the watcher has not created the store yet."""
    if not path.exists():
        return []
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.OperationalError:
        return []
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError as exc:  # no tables yet: the schema is being created
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def stored_ids(path: Path) -> list[str]:
    return [row[0] for row in read_store(path, "SELECT id FROM events")]


def pending_ids(path: Path) -> set[str]:
    rows = read_store(path, "SELECT event_id FROM outbox WHERE delivered_at IS NULL")
    return {row[0] for row in rows}


def event_rows(path: Path) -> dict[str, tuple[Any, ...]]:
    """Every stored event's columns, but the time it was inserted at."""
    columns = [row[1] for row in read_store(path, "PRAGMA table_info(events)")]
    kept = [c for c in columns if c != "inserted_at"]
    rows = read_store(path, f"SELECT {', '.join(kept)} FROM events")
    return {row[0]: row for row in rows}


def integrity(path: Path) -> list[tuple[Any, ...]]:
    return read_store(path, "PRAGMA integrity_check")


def settled(path: Path, hook: Webhook) -> Callable[[], bool]:
    """Everything stored is delivered, and the store has not grown for half a second."""
    last: list[int] = [-1]
    since = [time.monotonic()]

    def done() -> bool:
        ids = stored_ids(path)
        if len(ids) != last[0]:
            last[0], since[0] = len(ids), time.monotonic()
            return False
        return (
            time.monotonic() - since[0] >= 0.5
            and bool(ids)
            and not pending_ids(path)
            and hook.keys() >= set(ids)
        )

    return done


def check_deliveries(path: Path, hook: Webhook) -> None:
    """Every stored event delivered at least once, each time with its stored record."""
    from skyfence.store.events import EventStore

    ids = stored_ids(path)
    assert len(ids) == len(set(ids))  # no event stored twice
    assert hook.keys() == set(ids)
    assert not pending_ids(path)
    store = EventStore(path)
    try:
        records = {r.id: r.to_json() for r in store.query(limit=len(ids))}
    finally:
        store.close()
    for key, body in hook.accepted:
        assert body == records[key]
        assert body["id"] == key


def watch_halves(
    feed: list[bytes],
    gate: threading.Event,
    zones: Path,
    store: Path,
    servers: list[Any],
    watches: list[WatchProcess],
) -> WatchProcess:
    """A watch of the feed's first half, once it has stored a few events; the second half comes
    when `gate` is set (after the test has done something to the store)."""
    half = len(feed) // 2
    receiver = Receiver([[b"".join(feed[:half]), gate, b"".join(feed[half:]), HOLD], [HOLD]])
    servers.append(receiver)
    watcher = WatchProcess(store.parent, "--zones", zones,
        "--source", f"sbs://127.0.0.1:{receiver.port}", "--store", store,
    )  # fmt: skip
    watches.append(watcher)
    watcher.wait_for(lambda: len(stored_ids(store)) >= 3, "events to be stored")
    return watcher


# -- the tests ---------------------------------------------------------------------------------


def test_watch_rides_out_a_dropped_feed_and_a_failing_webhook(
    feed: list[bytes],
    paris_zones_path: Path,
    tmp_path: Path,
    servers: list[Receiver | Webhook],
    watches: list[WatchProcess],
) -> None:
    text = b"".join(feed)
    cut_line = len(feed) * 2 // 5
    line_start = len(b"".join(feed[:cut_line]))
    mid_line = line_start + len(feed[cut_line]) // 2
    receiver = Receiver(
        [
            [text[:mid_line], CLOSE],  # the receiver drops us in the middle of a line ...
            [text[line_start:], CLOSE],  # ... starts afresh with the line it cut, ends
            [HOLD],  # connected, silent: the feed above was read to its end
        ]
    )
    hook = Webhook(failing=lambda n: n < 3)  # 500, no answer, 500, then 204s
    servers += [receiver, hook]
    store = tmp_path / "events.sqlite"
    out = tmp_path / "events.jsonl"
    watcher = WatchProcess(tmp_path, "--zones", paris_zones_path,
        "--source", f"sbs://127.0.0.1:{receiver.port}",
        "--store", store, "--webhook", hook.url, "--out", out,
    )  # fmt: skip
    watches.append(watcher)

    watcher.wait_for(lambda: receiver.accepted >= 3, "the whole feed to be read")
    watcher.wait_for(settled(store, hook), "the events to be stored and delivered")
    assert watcher.stop(signal.SIGTERM) == 0, watcher.output()

    assert hook.failures == 3
    assert integrity(store) == [("ok",)]
    check_deliveries(store, hook)
    rows = event_rows(store)
    assert len(rows) >= 20
    # events on both sides of the cut: the watcher carried on after reconnecting
    cut = iso_time(line_time(feed[cut_line]))
    times = [record["time"] for _, record in hook.accepted]
    assert min(times) < cut < max(times)
    kinds = {record["kind"] for _, record in hook.accepted}
    assert {"entry", "exit"} <= kinds
    # the event file agrees with the store (closed on SIGTERM)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(e["id"] for e in written) == sorted(rows)
    assert "events (" in watcher.out.read_text()  # the closing summary was printed


def test_watch_killed_mid_feed_then_restarted(
    feed: list[bytes],
    paris_zones_path: Path,
    tmp_path: Path,
    servers: list[Receiver | Webhook],
    watches: list[WatchProcess],
) -> None:
    half = len(feed) // 2
    first, rest = b"".join(feed[:half]), b"".join(feed[half:])
    killed = threading.Event()
    receiver = Receiver(
        [
            [first, killed, CLOSE],  # the first half, then silence until the kill
            [rest, CLOSE],  # the restarted watcher gets the rest
            [HOLD],
        ]
    )
    hook = Webhook(failing=lambda n: not killed.is_set())  # down until the kill
    servers += [receiver, hook]
    store = tmp_path / "events.sqlite"
    args = (
        "--zones", paris_zones_path, "--source", f"sbs://127.0.0.1:{receiver.port}",
        "--store", store, "--webhook", hook.url,
    )  # fmt: skip

    watcher = WatchProcess(tmp_path, *args, name="first")
    watches.append(watcher)
    watcher.wait_for(lambda: len(stored_ids(store)) >= 10, "events before the kill")
    watcher.wait_for(lambda: hook.failures >= 1, "a failed delivery before the kill")
    watcher.process.send_signal(signal.SIGKILL)
    assert watcher.process.wait(10.0) == -signal.SIGKILL
    assert receiver.accepted == 1  # killed while the feed was still open

    assert integrity(store) == [("ok",)]
    before = event_rows(store)
    pending = pending_ids(store)
    assert len(before) >= 10
    assert pending == set(before)  # the webhook accepted nothing: every delivery is pending
    assert hook.keys() == set()
    half_s = line_time(feed[half])
    assert max(row[0] for row in read_store(store, "SELECT time_s FROM events")) <= half_s

    killed.set()  # the webhook comes back; the feed's first connection ends
    watcher = WatchProcess(tmp_path, *args, name="restart")
    watches.append(watcher)
    watcher.wait_for(lambda: receiver.accepted >= 3, "the rest of the feed to be read")
    watcher.wait_for(settled(store, hook), "the events to be stored and delivered")
    assert watcher.stop(signal.SIGTERM) == 0, watcher.output()

    assert integrity(store) == [("ok",)]
    after = event_rows(store)
    assert {i: after[i] for i in before} == before  # what was stored before the kill, as it was
    assert len(after) > len(before)  # and the rest of the feed gave events too
    assert hook.keys() >= pending  # deliveries pending at the kill were made after the restart
    check_deliveries(store, hook)


class DrippingWebhook(HookServer):
    """An endpoint that answers one byte every 3 s while `dripping` is set (the attack: no
    socket read ever times out), and 204 with the key recorded once it is cleared."""

    def __init__(self) -> None:
        self.dripping = threading.Event()
        self.dripping.set()
        super().__init__()

    def respond(self, handler: BaseHTTPRequestHandler, before: int, body: bytes) -> None:
        if not self.dripping.is_set():
            self.accept(handler, body)
            return
        try:
            for byte in b"HTTP/1.1 204 No Content\r\n" * 100:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(3.0)
        except OSError:
            pass  # the client hung up
        handler.close_connection = True


def test_sigterm_stops_watch_while_a_webhook_drips_and_deliveries_resume_next_run(
    feed: list[bytes],
    paris_zones_path: Path,
    tmp_path: Path,
    servers: list[Any],
    watches: list[WatchProcess],
) -> None:
    """The attack: one byte every 3 s kept `watch` running 60 s after SIGTERM. Now SIGTERM cuts
    the delivery in flight, the watcher exits 0 (within the 20 s `stop` allows), and every
    event stays pending in the outbox; the next run delivers them all."""
    receiver = Receiver([[b"".join(feed), HOLD], [HOLD]])
    hook = DrippingWebhook()
    servers += [receiver, hook]
    store = tmp_path / "events.sqlite"
    args = (
        "--zones", paris_zones_path, "--source", f"sbs://127.0.0.1:{receiver.port}",
        "--store", store, "--webhook", hook.url,
    )  # fmt: skip
    watcher = WatchProcess(tmp_path, *args, name="dripped")
    watches.append(watcher)
    watcher.wait_for(lambda: len(stored_ids(store)) >= 10, "events to be stored")
    watcher.wait_for(lambda: hook.requests >= 1, "a delivery in flight")
    assert watcher.stop(signal.SIGTERM) == 0, watcher.output()
    assert "sent when watch runs again" in watcher.out.read_text()

    assert integrity(store) == [("ok",)]
    stored = stored_ids(store)
    assert hook.keys() == set() and pending_ids(store) == set(stored)

    hook.dripping.clear()
    watcher = WatchProcess(tmp_path, *args, name="resumed")
    watches.append(watcher)
    watcher.wait_for(lambda: hook.keys() >= set(stored), "the pending deliveries")
    assert watcher.stop(signal.SIGTERM) == 0, watcher.output()
    assert not pending_ids(store)


def test_garbage_written_into_the_store_stops_watch_clearly_and_saves_its_events(
    feed: list[bytes],
    paris_zones_path: Path,
    tmp_path: Path,
    servers: list[Any],
    watches: list[WatchProcess],
) -> None:
    """Another program writes garbage over the store while `watch` runs (every page but the
    first, after a checkpoint, so that the next commit must read it). Decided: `watch` cannot
    keep a damaged file as its record, so it stops with exit 2 and a message naming the file,
    no traceback; events no commit took are saved beside it (FILE.unwritten.jsonl)."""
    # the second half of the feed comes after the damage: the watch must write again to meet it
    # (a watch with nothing left to write never reads the damaged pages, however long it runs)
    damaged = threading.Event()
    store = tmp_path / "events.sqlite"
    watcher = watch_halves(feed, damaged, paris_zones_path, store, servers, watches)
    with sqlite3.connect(store, timeout=10) as conn:  # another program
        # until the whole log is in the file: a checkpoint that a reader held back leaves the
        # pages in the log, where the watch would go on reading them instead of the garbage
        deadline = time.monotonic() + 30.0
        while conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() != (0, 0, 0):
            assert time.monotonic() < deadline, "the store's log could not be checkpointed"
            time.sleep(0.05)
    size = store.stat().st_size
    with store.open("r+b") as f:
        f.seek(4096)
        f.write(np.random.default_rng(12).bytes(size - 4096))
    damaged.set()
    watcher.process.wait(60.0)  # the watch stops of itself
    assert watcher.process.returncode == 2, watcher.output()
    err = watcher.err.read_text().replace("\n", " ")
    assert f"{store}: cannot write events:" in err and "watch stopped" in err
    assert "Traceback" not in err
    rescue = tmp_path / "events.sqlite.unwritten.jsonl"
    saved = (
        [json.loads(line) for line in rescue.read_text().splitlines()] if rescue.exists() else []
    )
    assert all({"id", "kind", "zone_id", "time"} <= set(record) for record in saved)


def test_a_store_locked_by_another_program_past_its_busy_timeout_is_waited_out(
    feed: list[bytes],
    paris_zones_path: Path,
    tmp_path: Path,
    servers: list[Any],
    watches: list[WatchProcess],
) -> None:
    """Another program holds the store's write lock for 8 s, longer than the 5 s each commit
    waits for it, while the second half of the feed comes in. Decided: a lock is transient, so
    `watch` says "store busy" once, runs on, and commits what waited when the lock is let go
    (it would stop after 30 s); every event the engine found is stored."""
    release = threading.Event()
    store = tmp_path / "events.sqlite"
    watcher = watch_halves(feed, release, paris_zones_path, store, servers, watches)
    with sqlite3.connect(store, isolation_level=None, timeout=10) as other:  # another program
        other.execute("BEGIN IMMEDIATE")
        held_until = time.monotonic() + 8.0
        release.set()  # the rest of the feed, and its events, while the lock is held
        watcher.wait_for(lambda: "store busy" in watcher.err.read_text(), "a store busy line")
        while time.monotonic() < held_until:
            assert watcher.process.poll() is None, watcher.output()
            time.sleep(0.1)
        other.execute("ROLLBACK")
    other.close()
    watcher.wait_for(lambda: "working again" in watcher.err.read_text(), "the store to commit")
    time.sleep(1.5)  # the last fixes through the engine (ticks of 0.5 s) and the store
    assert watcher.stop() == 0, watcher.output()
    err = watcher.err.read_text().splitlines()
    busy = [line for line in err if line.startswith(f"event store {store}: ")]
    assert len(busy) == 2, watcher.output()  # said once, and once when it works again
    assert busy[0].endswith(
        ": store busy: database is locked (another program holds the write lock);"
        " retrying for up to 30 s"
    )
    assert busy[1].startswith(f"event store {store}: working again after ")
    found = re.search(r" state vectors, ([\d,]+) events? \(", watcher.out.read_text())
    assert found is not None, watcher.output()
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == int(found.group(1).replace(",", ""))
    assert integrity(store) == [("ok",)]
