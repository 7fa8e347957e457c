"""Webhook delivery: every stored event POSTed to a URL at least once, whatever the endpoint does.

The outbox loop (`skyfence.alerts.outbox`) does the queueing, retries and backoff: a delivery is
done when a 2xx answer is committed as delivered. A POST that succeeded but whose "delivered"
mark was lost (a crash in between, an answer slower than the timeout) is sent again, with the
same `Idempotency-Key` (the event id) for the receiver to recognise it. Failures are a refused
connection, a timeout, a dropped connection, any non-2xx status.

`timeout_s` bounds a whole delivery, not each socket read: an endpoint that drips its answer a
byte every few seconds would never trip a per-read timeout, so a timer shuts the connection
down at the deadline. `close` shuts down the request in flight the same way and leaves its row
pending, untouched, for the next run: stopping never waits on an endpoint.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from typing import Unpack
from urllib.parse import SplitResult

from skyfence.alerts.destinations import url_parts
from skyfence.alerts.outbox import (
    CLOSE_TIMEOUT_S,
    DeliveryStats,
    Message,
    OutboxWorker,
    WorkerOptions,
)
from skyfence.store.events import EventStore

__all__ = ["CLOSE_TIMEOUT_S", "DeliveryStats", "WebhookDelivery", "check_webhook_url"]

MAX_RESPONSE_BYTES = 64 * 1024  # what we read of an answer before closing: only its status counts


class WebhookDelivery(OutboxWorker):
    """A worker thread POSTing the store's pending events for `url`; `close` stops it.

    One worker per URL and store: two would send each event twice. The options (timeout,
    backoff, jitter) are `OutboxWorker`'s.
    """

    kind = "webhook"

    def __init__(self, store: EventStore, url: str, **worker: Unpack[WorkerOptions]) -> None:
        parts = check_webhook_url(url)
        super().__init__(store, url, name=url, **worker)
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._in_flight: http.client.HTTPConnection | None = None  # for `close` to cut
        self.start()

    def cut(self) -> None:
        with self._lock:
            conn = self._in_flight
        if conn is not None:
            _cut(conn)

    def send(self, message: Message) -> str | None:
        """POST one event record; None on a 2xx answer, else what went wrong."""
        (delivery,) = message.deliveries
        body = json.dumps(delivery.event.to_json(), ensure_ascii=False).encode()
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
    """The URL's parts, or an InputError saying what is wrong with it."""
    return url_parts(url, ("http", "https"), "webhook URL", "http(s)://HOST[:PORT]/PATH")


def _cut(conn: http.client.HTTPConnection) -> None:
    """Shut the connection's socket down: a read blocked on it returns at once."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
