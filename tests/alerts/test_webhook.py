"""Webhook delivery to a real HTTP server on 127.0.0.1 that fails in every way, then accepts.

The events are the engine's findings on a real recording; the server records every request it
gets (its Idempotency-Key, its body, and what it answered), so the tests can tell an event
delivered twice after a failure (allowed: at-least-once) from one accepted twice (not allowed,
except for the one request in flight when a worker is killed with SIGKILL).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakes import free_port

from skyfence.alerts.webhook import DeliveryStats, WebhookDelivery
from skyfence.engine.events import Event
from skyfence.store.events import EventStore, OutboxCounts

TIMEOUT_S = 0.5  # the worker's; a hanging request sleeps longer than that
DRIP_S = TIMEOUT_S / 3  # a dripping answer sends a byte this often: no read ever times out


@pytest.fixture(scope="module")
def events(quickstart_events: list[Event]) -> list[Event]:
    return quickstart_events


@dataclass(frozen=True, slots=True)
class Receipt:
    key: str | None
    content_type: str | None
    body: dict[str, Any]
    answer: str  # "ok" (a 200 the client saw), "500", "close" (no answer), "hang" or "drip"


class Receiver:
    """An HTTP endpoint that fails the first requests as `faults` says, then answers 200."""

    def __init__(self, faults: list[str], port: int = 0) -> None:
        self.faults = collections.deque(faults)
        self.receipts: list[Receipt] = []
        self.busy = 0  # requests being handled
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with receiver.lock:
                    receiver.busy += 1
                try:
                    self.answer()
                finally:
                    with receiver.lock:
                        receiver.busy -= 1

            def answer(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    answer = receiver.faults.popleft() if receiver.faults else "ok"
                    receiver.receipts.append(
                        Receipt(
                            self.headers["Idempotency-Key"],
                            self.headers["Content-Type"],
                            body,
                            answer,
                        )
                    )
                if answer == "close":
                    self.close_connection = True  # hang up without a word
                    return
                if answer == "hang":
                    time.sleep(TIMEOUT_S * 2.5)  # then answers, too late: the client gave up
                if answer == "drip":  # a byte of the status line at a time, until hung up on
                    with contextlib.suppress(OSError):
                        for byte in b"HTTP/1.1 200 OK\r\n" * 1000:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(DRIP_S)
                    return
                self.send_response(500 if answer == "500" else 200)
                self.send_header("Content-Length", "0")
                with contextlib.suppress(OSError):
                    self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/skyfence?v=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def idle(self) -> bool:
        with self.lock:
            return self.busy == 0

    def accepted(self) -> list[str]:
        with self.lock:
            return [r.body["id"] for r in self.receipts if r.answer == "ok"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def receiving(faults: list[str], port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(faults, port)
    try:
        yield receiver
    finally:
        receiver.close()


def fast_worker(store: EventStore, url: str, seed: int) -> WebhookDelivery:
    """Backoffs of a few ms, so that failures cost little time in tests."""
    return WebhookDelivery(
        store,
        url,
        timeout_s=TIMEOUT_S,
        max_backoff_s=0.05,
        base_backoff_s=0.01,
        rng=random.Random(seed),
        poll_s=0.05,
    )


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def check_receipts(
    receiver: Receiver, events: list[Event], store: EventStore, cut: int = 0
) -> None:
    """Every event accepted once, as its stored record, with its id as the key; every other
    request was answered by a failure, so sending it again was right. `cut`: how many workers
    were closed mid-run; each may have cut a request the endpoint had already answered "ok",
    which stays pending and is sent again (at-least-once): one more copy at most per close."""
    accepted = collections.Counter(receiver.accepted())
    assert set(accepted) == {e.id for e in events}
    assert sum(accepted.values()) - len(events) <= cut, accepted.most_common(3)
    for receipt in receiver.receipts:
        assert receipt.key == receipt.body["id"]
        assert receipt.content_type == "application/json"
    records = {e.id: e.to_dict() for e in events}
    assert all(r.body == records[r.body["id"]] for r in receiver.receipts)
    assert store.outbox_counts() == OutboxCounts(pending=0, delivered=len(events))


def test_every_event_is_delivered_through_failures_and_restarts(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    faults = ["500", "close", "hang"] * 3
    with receiving(faults) as receiver:
        store = EventStore(path, [receiver.url])
        store.write(events)
        store.flush(timeout=10)
        first = fast_worker(store, receiver.url, seed=1)
        try:
            wait_for(lambda: len(receiver.accepted()) >= 300, 20, "300 deliveries")
        finally:
            first.close(timeout=10)
        stats = first.stats
        assert stats.failed_attempts == len(faults)  # each fault cost one attempt, no more
        # the request in flight at `close` may have been answered, yet not marked delivered
        assert len(receiver.accepted()) - stats.sent in (0, 1)
        assert 0 < stats.pending == len(events) - stats.sent  # stopped half-way
        store.close()

        # A new process, in effect: the pending deliveries are in the file, and resume.
        receiver.faults.extend(["close", "500"])
        store = EventStore(path, [receiver.url])
        second = fast_worker(store, receiver.url, seed=2)
        try:
            wait_for(lambda: second.stats.pending == 0, 20, "every delivery")
        finally:
            second.close(timeout=10)
        assert second.stats.sent + stats.sent == len(events)
        assert second.stats.failed_attempts == 2
        check_receipts(receiver, events, store, cut=1)
        failures = collections.Counter(r.body["id"] for r in receiver.receipts if r.answer != "ok")
        assert sum(failures.values()) == len(faults) + 2
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT event_id, attempts, last_error FROM outbox").fetchall()
    for event_id, attempts, last_error in rows:
        assert attempts == failures[event_id] + 1  # each failure recorded, then the success
        assert (last_error is not None) == (failures[event_id] > 0)
    errors = {error.split(":")[0] for _, _, error in rows if error}
    assert errors == {"HTTP 500 Internal Server Error", "RemoteDisconnected", "TimeoutError"}


def test_a_refusing_endpoint_is_retried_until_it_comes_up(
    events: list[Event], tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there yet: connections are refused
    url = f"http://127.0.0.1:{port}/hook"
    with EventStore(tmp_path / "events.db", [url]) as store:
        delivery = fast_worker(store, url, seed=3)
        try:
            store.write(events[:200])  # written after the worker started: it is woken
            wait_for(lambda: delivery.stats.failed_attempts >= 3, 10, "refused attempts")
            assert delivery.stats.sent == 0
            assert delivery.stats.pending == 200
            with contextlib.closing(sqlite3.connect(store.path)) as conn:
                sql = "SELECT DISTINCT last_error FROM outbox WHERE last_error IS NOT NULL"
                errors = [row[0] for row in conn.execute(sql)]
            assert errors and all(e.startswith("ConnectionRefusedError") for e in errors), errors
            with receiving([], port) as receiver:
                wait_for(lambda: delivery.stats.pending == 0, 20, "every delivery")
                check_receipts(receiver, events[:200], store)
            assert delivery.stats.sent == 200
        finally:
            delivery.close(timeout=10)


def test_a_worker_stops_when_its_store_is_closed(events: list[Event], tmp_path: Path) -> None:
    """Its deliveries could no longer be marked: going on would resend them forever."""
    path = tmp_path / "events.db"
    with receiving([]) as receiver:
        store = EventStore(path, [receiver.url])
        store.write(events[:100])
        delivery = fast_worker(store, receiver.url, seed=5)
        try:
            wait_for(lambda: len(receiver.accepted()) >= 10, 10, "some deliveries")
            store.close()
            wait_for(lambda: not delivery.running, 10, "the worker to stop")
        finally:
            delivery.close(timeout=10)
        assert max(collections.Counter(receiver.accepted()).values()) == 1
        with EventStore(path, [receiver.url]) as store:
            delivery = fast_worker(store, receiver.url, seed=6)
            try:
                wait_for(lambda: delivery.stats.pending == 0, 10, "every delivery")
            finally:
                delivery.close(timeout=10)
        accepted = collections.Counter(receiver.accepted())
        assert set(accepted) == {e.id for e in events[:100]}
        assert sum(accepted.values()) <= 101  # the one in flight at the close may come twice


def test_an_answer_dripped_a_byte_at_a_time_fails_at_the_delivery_deadline(
    events: list[Event], tmp_path: Path
) -> None:
    """Each byte comes before the socket's timeout: only a deadline on the whole delivery ends
    the attempt, which is then retried and delivered."""
    with (
        receiving(["drip", "drip"]) as receiver,
        EventStore(tmp_path / "e.db", [receiver.url]) as store,
    ):
        store.write(events[:3])
        store.flush(timeout=10)
        delivery = fast_worker(store, receiver.url, seed=7)
        try:
            wait_for(lambda: delivery.stats.pending == 0, 20, "every delivery")
        finally:
            delivery.close()
        assert delivery.stats.failed_attempts == 2
        check_receipts(receiver, events[:3], store)
    with contextlib.closing(sqlite3.connect(tmp_path / "e.db")) as conn:
        errors = [row[0] for row in conn.execute("SELECT last_error FROM outbox") if row[0]]
    assert set(errors) == {f"TimeoutError: no complete answer within {TIMEOUT_S:g} s"}


def test_close_cuts_the_request_in_flight_and_leaves_it_pending(
    events: list[Event], tmp_path: Path
) -> None:
    """A delivery with a minute's deadline, dripped: `close` ends the worker at once (it does
    not merely give up waiting for it), and the event stays pending as it was, then is
    delivered by the next worker."""
    with receiving(["drip"]) as receiver, EventStore(tmp_path / "e.db", [receiver.url]) as store:
        store.write(events[:1])
        store.flush(timeout=10)
        delivery = WebhookDelivery(store, receiver.url, timeout_s=60)
        wait_for(lambda: len(receiver.receipts) == 1, 10, "the request to be in flight")
        delivery.close(timeout=10)
        assert not delivery.running
        assert delivery.stats == DeliveryStats(sent=0, failed_attempts=0, pending=1)
        delivery = fast_worker(store, receiver.url, seed=8)
        try:
            wait_for(lambda: delivery.stats.pending == 0, 10, "the delivery")
        finally:
            delivery.close()
        check_receipts(receiver, events[:1], store)


def test_backoff_is_full_jitter_under_a_doubling_cap(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/hook"
    with EventStore(tmp_path / "events.db", [url]) as store:
        a = WebhookDelivery(store, url, max_backoff_s=300, rng=random.Random(7))
        b = WebhookDelivery(store, url, max_backoff_s=300, rng=random.Random(7))
        a.close(timeout=10)
        b.close(timeout=10)
        delays = [[a._backoff(n) for _ in range(200)] for n in range(1, 13)]
        assert delays == [[b._backoff(n) for _ in range(200)] for n in range(1, 13)]  # seeded
        for n, draws in enumerate(delays, start=1):
            cap = min(300.0, 2.0 ** (n - 1))
            assert all(0 <= d <= cap for d in draws)
            assert max(draws) > 0.8 * cap and min(draws) < 0.2 * cap  # the whole range is used
        with pytest.raises(ValueError, match="not one of the store's delivery destinations"):
            WebhookDelivery(store, "http://127.0.0.1:9/other")


WORKER = """
import sys, time
from skyfence.alerts.webhook import DeliveryStats, WebhookDelivery
from skyfence.store.events import EventStore

path, url = sys.argv[1:3]
store = EventStore(path, [url])
WebhookDelivery(store, url, timeout_s=1, max_backoff_s=0.05, base_backoff_s=0.01, poll_s=0.05)
time.sleep(60)  # delivering, until killed
"""


def test_a_worker_killed_mid_delivery_resumes_with_at_most_one_duplicate(
    events: list[Event], tmp_path: Path
) -> None:
    path = tmp_path / "events.db"
    with receiving([]) as receiver:
        with EventStore(path, [receiver.url]) as store:
            store.write(events)
        child = subprocess.Popen([sys.executable, "-c", WORKER, str(path), receiver.url])
        try:
            wait_for(lambda: len(receiver.accepted()) >= 300, 20, "300 deliveries")
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        time.sleep(0.1)  # a request sent just before the kill reaches its handler ...
        wait_for(receiver.idle, 10, "the request in flight, if any, to end")  # ... and ends
        before = collections.Counter(receiver.accepted())
        assert max(before.values()) == 1

        store = EventStore(path, [receiver.url])
        delivered = _delivered(path)
        assert delivered <= set(before)  # marked delivered: was accepted
        assert len(set(before) - delivered) <= 1  # accepted, mark lost: only the one in flight
        delivery = fast_worker(store, receiver.url, seed=4)
        try:
            wait_for(lambda: delivery.stats.pending == 0, 20, "every delivery")
        finally:
            delivery.close(timeout=10)
        accepted = collections.Counter(receiver.accepted())
        assert set(accepted) == {e.id for e in events}
        twice = [event_id for event_id, n in accepted.items() if n > 1]
        assert set(twice) == set(before) - delivered  # sent again, with the same key
        assert all(r.key == r.body["id"] for r in receiver.receipts)
        store.close()


def _delivered(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        sql = "SELECT event_id FROM outbox WHERE delivered_at IS NOT NULL"
        return {row[0] for row in conn.execute(sql)}
