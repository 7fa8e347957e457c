"""The one delivery loop of the store's outbox, whatever carries the message (webhook, Apprise).

The queue is the store's outbox, filled in the same transaction as the events, so a delivery
is pending from the moment its event is committed until its success is committed as delivered,
across crashes and restarts. The cost of that is at-least-once: a message that went out but
whose "delivered" mark was lost (a crash in between, an answer slower than the timeout) is sent
again.

Failures are recorded on the rows, which are retried after an exponential backoff with full
jitter, capped at `max_backoff_s`. The worker also pauses the whole destination for such a
backoff after each failure in a row, so a receiver that is down is probed now and then instead
of sent every pending event.

A transport (a subclass) says how the due rows become messages (`plan`: one per event for a
webhook; for a notifier, none for a filtered event and one summary for a storm) and sends one
(`send`). `close` stops the worker, cuts what the transport can cut, and leaves every row not
yet marked delivered pending for the next run: stopping never waits on an endpoint.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self, TypedDict

from skyfence.errors import InputError
from skyfence.store.events import Delivery, EventStore

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0  # `close` waits this long at most for the worker (the store's last call)


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """Outbox rows delivered, failed attempts, and deliveries still pending in the store."""

    sent: int
    failed_attempts: int
    pending: int
    messages: int = 0  # messages sent: fewer than `sent` when a storm was summarised


@dataclass(frozen=True, slots=True)
class Message:
    """What one send covers: the rows marked delivered when it succeeds. `send=False`: rows
    nothing needs to be sent for (filtered out), marked delivered at once."""

    deliveries: Sequence[Delivery]
    send: bool = True


class WorkerOptions(TypedDict, total=False):
    """What a transport passes on to `OutboxWorker` as it is (see there)."""

    timeout_s: float
    max_backoff_s: float
    base_backoff_s: float
    rng: random.Random | None
    poll_s: float
    batch: int


class OutboxWorker:
    """A worker thread delivering the store's pending rows for `key`; `close` stops it.

    One worker per key and store: two would send each event twice. `rng` (seed it in tests)
    draws the jitter; `base_backoff_s` is the cap of the first retry's delay, doubled on each
    further failure of the same event up to `max_backoff_s`; `timeout_s` bounds one send.
    The checks every transport needs are made here, once: a key the store queues nothing for
    would wait forever without a word.
    """

    kind = "delivery"  # for the thread's name and the log

    def __init__(
        self,
        store: EventStore,
        key: str,
        *,
        name: str,
        timeout_s: float = 5.0,
        max_backoff_s: float = 300,
        base_backoff_s: float = 1.0,
        rng: random.Random | None = None,
        poll_s: float = 1.0,
        batch: int = 100,
    ) -> None:
        if key not in store.outbox_keys:
            raise InputError(
                f"{self.kind} {name}: not one of the store's delivery destinations (webhook URLs"
                " and notifiers): its events are never queued for it"
            )
        if timeout_s <= 0:
            raise InputError("timeout_s must be > 0")
        if base_backoff_s <= 0 or max_backoff_s < 0 or poll_s <= 0:
            raise InputError("base_backoff_s and poll_s must be > 0, max_backoff_s >= 0")
        self.store = store
        self.key = key
        self.name = name  # what logs show: never a secret
        self.timeout_s = float(timeout_s)
        self.max_backoff_s = float(max_backoff_s)
        self.base_backoff_s = float(base_backoff_s)
        self.poll_s = float(poll_s)
        self.batch = batch
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._sent = 0
        self._messages = 0
        self._failed = 0
        self._streak = 0  # failures in a row, whichever events: the endpoint's health
        self._last_error: str | None = None  # of the last attempt, None once one succeeds
        self._pause_s = 0.0  # the endpoint's pause after the last failure
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker (the subclass calls it once it is ready to send)."""
        self.store.add_commit_listener(self._wake.set)
        self._thread = threading.Thread(
            target=self._run,
            name=f"skyfence-{self.kind}:{self.name}",
            daemon=True,  # pending rows persist
        )
        self._thread.start()

    @property
    def stats(self) -> DeliveryStats:
        with self._lock:
            sent, failed, messages = self._sent, self._failed, self._messages
        return DeliveryStats(sent, failed, self.store.outbox_counts(self.key).pending, messages)

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
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float | None = CLOSE_TIMEOUT_S) -> None:
        """Stop now: the send in flight is cut if the transport can, its rows and every other
        pending row stay pending for the next run. Waits `timeout` seconds at most."""
        self._stop.set()
        self._wake.set()
        self.store.remove_commit_listener(self._wake.set)
        self.cut()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a transport provides ----------------------------------------------------------

    def plan(self, due: Sequence[Delivery]) -> list[Message]:
        """The messages for the due rows, in order (by default one per row); none while a rate
        limit holds them back (the worker waits `ready_in`)."""
        return [Message([delivery]) for delivery in due]

    def send(self, message: Message) -> str | None:
        """Send one message; None on success, else what went wrong."""
        raise NotImplementedError

    def cut(self) -> None:
        """Abort the send in flight, if the transport can (called by `close`)."""

    def ready_in(self) -> float:
        """Seconds before the transport may send again (a rate limit); 0: now or unknown."""
        return 0.0

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # the store failing, most likely: keep trying
                log.warning("%s %s: %s", self.kind, self.name, exc)
                self._stop.wait(self.poll_s)

    def _step(self) -> None:
        """Send what is due, in order; after a failure, pause the endpoint and look again."""
        if self.store.closed:  # nothing could be marked delivered: it would send forever
            log.warning("%s %s: the event store is closed; stopping", self.kind, self.name)
            self._stop.set()
            return
        self._wake.clear()  # before looking, so a commit after the look still wakes us
        now = time.time()
        due = self.store.due_deliveries(self.key, now, self.batch)
        if not due:
            at = self.store.next_delivery_at(self.key)
            self._wake.wait(self.poll_s if at is None else min(max(at - now, 0.0), self.poll_s))
            return
        messages = self.plan(due)
        if not messages:  # rate-limited: what is due keeps (and grows into one summary)
            self._stop.wait(self.ready_in() or self.poll_s)
            return
        for message in messages:
            if self._stop.is_set():
                return
            ids = [d.event_id for d in message.deliveries]
            error = self.send(message) if message.send else None
            if self._stop.is_set() and error is not None:  # cut by `close`: left as it was
                return
            if error is None:
                with self._lock:
                    self._sent += len(ids)
                    self._messages += int(message.send)
                    self._streak = 0
                    self._last_error = None
                self.store.mark_delivered(ids, self.key, time.time())
                continue
            with self._lock:
                self._failed += 1
                self._streak += 1
                streak = self._streak
            log.info("%s %s: event %s: %s", self.kind, self.name, ids[0], error)
            attempts = max(d.attempts for d in message.deliveries)
            retry_at = time.time() + self._backoff(attempts + 1)
            self.store.record_failure(ids, self.key, error, retry_at)
            pause = self._backoff(streak)
            with self._lock:
                self._last_error, self._pause_s = error, pause
            self._stop.wait(pause)
            return

    def _backoff(self, failures: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^(failures - 1))]."""
        cap = min(self.max_backoff_s, self.base_backoff_s * 2.0 ** min(failures - 1, 60))
        return self._rng.uniform(0.0, cap)
