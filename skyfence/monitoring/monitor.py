"""The state of a running watch, for its operator: read each tick, answered on request.

`WatchMonitor.tick` runs in the watch loop after each tick: it notes which feeds are connected
and writes the failure lines (`FailureLog`). `health` and the metrics are asked for by the web
server's thread; they only read numbers the watch keeps anyway (the feeds' status, the engine's
and the store's counters, the outbox), so nothing is counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skyfence.alerts.destinations import destination_name
from skyfence.alerts.outbox import OutboxWorker
from skyfence.engine.engine import Engine
from skyfence.monitoring.failures import LOG_EVERY_S, FailureLog, plain
from skyfence.sources.live import FeedStatus
from skyfence.store.events import EventStore, StoreError
from skyfence.watching import FeedAdapter, LivePicture, Source, WatchResult

UNHEALTHY_AFTER_S = 60.0  # a feed disconnected this long makes the watch unhealthy
STALL_S = 30.0  # no tick, or no commit, for this long: stalled (the picture commits every second)


@dataclass(frozen=True, slots=True)
class FeedState:
    """A live source's connection, as the failure log and the health check see it."""

    connected: bool
    error: str | None  # while not connected: why (None while a first attempt is under way)
    failed_attempts: int
    retry_s: float


def feed_state(source: Source) -> FeedState | None:
    """None for a recording: it has no connection to lose."""
    status: Any = source.feed.status if isinstance(source, FeedAdapter) else None
    status = status or getattr(source, "status", None)
    if isinstance(status, FeedStatus):
        failed = status.attempts - status.connects  # (an attempt under way counts already)
        error = None if status.connected else status.last_error
        return FeedState(status.connected, error, failed, status.retry_delay_s)
    if status is not None and hasattr(status, "failed_polls"):  # an aircraft.json poller
        connected = status.failures == 0 and status.ok > 0
        error = status.last_error if status.failures else None
        return FeedState(connected, error, status.failed_polls, status.retry_delay_s)
    return None


class WatchMonitor:
    """Health, metrics and failure lines of one watch. `say` gets the failure lines (None:
    nobody reads them, the live view shows the same); `clock` is monotonic."""

    def __init__(
        self,
        engine: Engine,
        sources: Sequence[Source],
        store: EventStore,
        picture: LivePicture,
        result: WatchResult,
        deliveries: Sequence[OutboxWorker] = (),
        *,
        say: Callable[[str], None] | None = None,
        unhealthy_after_s: float = UNHEALTHY_AFTER_S,
        stall_s: float = STALL_S,
        log_every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.sources = list(sources)
        self.store = store
        self.picture = picture
        self.result = result
        self.deliveries = list(deliveries)
        self.unhealthy_after_s = unhealthy_after_s
        self.stall_s = stall_s
        self._clock = clock
        self.failures = FailureLog(say, log_every_s, clock) if say is not None else None
        started = clock()
        self.started_at = started
        self.last_tick_at = started
        self.finished = False  # the watch loop has ended
        # when each live source was last seen connected (its start, until it connects)
        self.connected_at = {s.name: started for s in self.sources if feed_state(s) is not None}

    def tick(self, events: object = None) -> None:
        """After each tick of the watch loop (`on_tick` takes the tick's events)."""
        now = self._clock()
        self.last_tick_at = now
        for source in self.sources:
            state = feed_state(source)
            if state is None:
                continue
            if state.connected:
                self.connected_at[source.name] = now
            if self.failures is not None:
                self.failures.observe(
                    f"feed {source.name}", state.error, state.failed_attempts, state.retry_s
                )
        if self.failures is not None:
            for delivery in self.deliveries:
                failing = delivery.failing
                self.failures.observe(
                    f"{delivery.kind} {destination_name(delivery.key)}",
                    None if failing is None else failing[0],
                    delivery.failed_attempts,
                    None if failing is None else failing[1],
                )
            busy = self.store.busy  # a lock held by another program: said, then retried
            self.failures.observe(
                f"event store {self.store.path}",
                None if busy is None else busy.reason,
                self.store.stats.failed_commits,
            )

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy, and the body of `/healthz`: every feed connected within
        `unhealthy_after_s`, the store committing, the watch loop and the writer not stalled."""
        now = self._clock()
        reasons: list[str] = []
        feeds = []
        for source in self.sources:
            state = feed_state(source)
            if state is None:
                continue
            down_s = 0.0 if state.connected else now - self.connected_at[source.name]
            feeds.append(
                {
                    "name": source.name,
                    "connected": state.connected,
                    "down_s": round(down_s, 1),
                    "last_error": state.error,
                }
            )
            if down_s >= self.unhealthy_after_s:
                why = f": {plain(state.error, source.name)}" if state.error else ""
                reasons.append(f"feed {source.name} not connected for {down_s:.0f} s{why}")
        failure: StoreError | None = self.store.failure
        if failure is not None:
            reasons.append(f"event store: {failure.reason}")
        committed = self.store.last_commit_at
        since_commit = now - (self.started_at if committed is None else committed)
        if not self.finished and since_commit >= self.stall_s:
            reasons.append(f"event store writer: nothing committed for {since_commit:.0f} s")
        since_tick = now - self.last_tick_at
        if not self.finished and since_tick >= self.stall_s:
            reasons.append(f"watch loop: no tick for {since_tick:.0f} s")
        body = {
            "status": "ok" if not reasons else "unhealthy",
            "reasons": reasons,
            "feeds": feeds,
            "last_commit_s_ago": round(since_commit, 1),
            "last_tick_s_ago": round(since_tick, 1),
            "checked": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        return not reasons, body
