"""Webhook delivery: every stored event POSTed to a URL at least once, whatever the endpoint does.

The queue is the store's outbox, filled in the same transaction as the events, so a delivery
is pending from the moment its event is committed until a 2xx answer is committed as delivered,
across crashes and restarts. The cost of that is at-least-once: a POST that succeeded but whose
"delivered" mark was lost (a crash in between, an answer slower than the timeout) is sent again,
with the same `Idempotency-Key` (the event id) for the receiver to recognise it.

Failures (refused connection, timeout, a dropped connection, any non-2xx status) are recorded
on the row, which is retried after an exponential backoff with full jitter, capped at
`max_backoff_s`. The worker also pauses the whole endpoint for such a backoff after each failure
in a row, so a receiver that is down is probed now and then instead of sent every pending event.

`timeout_s` bounds a whole delivery, not each socket read: an endpoint that drips its answer a
byte every few seconds would never trip a per-read timeout, so a timer shuts the connection
down at the deadline. `close` shuts down the request in flight the same way and leaves its row
pending, untouched, for the next run: stopping never waits on an endpoint.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from skyfence.store.events import Delivery, EventStore

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024  # what we read of an answer before closing: only its status counts
CLOSE_TIMEOUT_S = 5.0  # `close` waits this long at most for the worker (the store's last call)


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """2xx answers received, failed attempts, and deliveries still pending in the store."""

    sent: int
    failed_attempts: int
    pending: int


class WebhookDelivery:
    """A worker thread delivering the store's pending events for `url`; `close` stops it.

    One worker per URL and store: two would send each event twice. `rng` (seed it in tests)
    draws the jitter; `base_backoff_s` is the cap of the first retry's delay, doubled on each
    further failure of the same event up to `max_backoff_s`.
    """

    def __init__(
        self,
        store: EventStore,
        url: str,
        timeout_s: float = 5,
        max_backoff_s: float = 300,
        *,
        base_backoff_s: float = 1.0,
        rng: random.Random | None = None,
        poll_s: float = 1.0,
        batch: int = 100,
    ) -> None:
        if url not in store.webhook_urls:
            raise ValueError(
                f"{url!r} is not one of the store's webhook URLs {list(store.webhook_urls)}:"
                " its events are never queued for it"
            )
        if timeout_s <= 0 or base_backoff_s <= 0 or max_backoff_s < 0 or poll_s <= 0:
            raise ValueError("timeout_s, base_backoff_s and poll_s must be > 0, max_backoff_s >= 0")
        parts = check_webhook_url(url)
        self.store = store
        self.url = url
        self.timeout_s = float(timeout_s)
        self.max_backoff_s = float(max_backoff_s)
        self.base_backoff_s = float(base_backoff_s)
        self.poll_s = float(poll_s)
        self.batch = batch
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._sent = 0
        self._failed = 0
        self._streak = 0  # failures in a row, whichever events: the endpoint's health
        self._last_error: str | None = None  # of the last attempt, None once one succeeds
        self._pause_s = 0.0  # the endpoint's pause after the last failure
        self._in_flight: http.client.HTTPConnection | None = None  # for `close` to cut
        self._stop = threading.Event()
        self._wake = threading.Event()
        store.add_commit_listener(self._wake.set)
        self._thread = threading.Thread(
            target=self._run,
            name=f"skyfence-webhook:{url}",
            daemon=True,  # pending rows persist
        )
        self._thread.start()

    @property
    def stats(self) -> DeliveryStats:
        with self._lock:
            sent, failed = self._sent, self._failed
        return DeliveryStats(sent, failed, self.store.outbox_counts(self.url).pending)

    @property
    def failing(self) -> tuple[str, float] | None:
        """While the last attempt failed: its error and the pause before the next one. Read
        without the store, so a watch can look every tick."""
        with self._lock:
            return None if self._last_error is None else (self._last_error, self._pause_s)

    @property
    def failed_attempts(self) -> int:
        with self._lock:
            return self._failed

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float | None = CLOSE_TIMEOUT_S) -> None:
        """Stop now: the request in flight is cut, its row and every other pending row stay
        pending for the next run. Waits `timeout` seconds at most for the worker to end."""
        self._stop.set()
        self._wake.set()
        self.store.remove_commit_listener(self._wake.set)
        with self._lock:
            conn = self._in_flight
        if conn is not None:
            _cut(conn)
        self._thread.join(timeout)

    def __enter__(self) -> WebhookDelivery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # the store failing, most likely: keep trying
                log.warning("webhook %s: %s", self.url, exc)
                self._stop.wait(self.poll_s)

    def _step(self) -> None:
        """Send what is due, in order; after a failure, pause the endpoint and look again."""
        if self.store.closed:  # nothing could be marked delivered: it would send forever
            log.warning("webhook %s: the event store is closed; stopping", self.url)
            self._stop.set()
            return
        self._wake.clear()  # before looking, so a commit after the look still wakes us
        now = time.time()
        due = self.store.due_deliveries(self.url, now, self.batch)
        if not due:
            at = self.store.next_delivery_at(self.url)
            self._wake.wait(self.poll_s if at is None else min(max(at - now, 0.0), self.poll_s))
            return
        for delivery in due:
            if self._stop.is_set():
                return
            error = self._post(delivery)
            if self._stop.is_set() and error is not None:  # cut by `close`: left as it was
                return
            if error is None:
                with self._lock:
                    self._sent += 1
                    self._streak = 0
                    self._last_error = None
                self.store.mark_delivered(delivery.event_id, self.url, time.time())
                continue
            with self._lock:
                self._failed += 1
                self._streak += 1
                streak = self._streak
            log.info("webhook %s: event %s: %s", self.url, delivery.event_id, error)
            retry_at = time.time() + self._backoff(delivery.attempts + 1)
            self.store.record_failure(delivery.event_id, self.url, error, retry_at)
            pause = self._backoff(streak)
            with self._lock:
                self._last_error, self._pause_s = error, pause
            self._stop.wait(pause)
            return

    def _backoff(self, failures: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^(failures - 1))]."""
        cap = min(self.max_backoff_s, self.base_backoff_s * 2.0 ** min(failures - 1, 60))
        return self._rng.uniform(0.0, cap)

    def _post(self, delivery: Delivery) -> str | None:
        """POST one event record; None on a 2xx answer, else what went wrong."""
        body = json.dumps(delivery.event, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.event_id,
            "User-Agent": "skyfence-webhook",
        }
        connection_type = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = connection_type(self._host, self._port, timeout=self.timeout_s)
        expired = threading.Event()

        def expire() -> None:
            expired.set()  # before looking at the socket: `connect` below checks it after
            _cut(conn)

        timer = threading.Timer(self.timeout_s, expire)
        timer.daemon = True
        with self._lock:
            self._in_flight = conn
        timer.start()
        try:
            if self._stop.is_set():
                return "stopped"
            conn.connect()
            if expired.is_set():
                raise TimeoutError
            conn.request("POST", self._target, body=body, headers=headers)
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
        except (OSError, http.client.HTTPException) as exc:  # refused, timeout, cut, TLS
            if expired.is_set():
                return f"TimeoutError: no complete answer within {self.timeout_s:g} s"
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            timer.cancel()
            with self._lock:
                self._in_flight = None
            conn.close()
        if 200 <= response.status < 300:
            return None
        return f"HTTP {response.status} {response.reason}".strip()


def check_webhook_url(url: str) -> SplitResult:
    """The URL's parts, or a ValueError saying what is wrong with it: checked when `watch`
    starts, since a bad URL found at the first event would never deliver anything."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook URL {url!r}: expected http(s)://HOST[:PORT]/PATH")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"webhook URL {url!r}: the port is not a number from 1 to 65535") from None
    if port == 0:
        raise ValueError(f"webhook URL {url!r}: the port is not a number from 1 to 65535")
    return parts


def _cut(conn: http.client.HTTPConnection) -> None:
    """Shut the connection's socket down: a read blocked on it returns at once."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
