"""Prometheus metrics of a running watch, served at `/metrics`.

The numbers are those the watch keeps anyway (its result, the feeds' status, the engine's,
decoder's and store's counters, the outbox), read when Prometheus scrapes: a collector, not
counters incremented beside the real ones, so they cannot drift from what the watch prints.
Only the store's write latency is observed as it happens (a histogram needs every value).

Each watch has its own `CollectorRegistry`, not prometheus_client's global one: two watches in
one process (the tests) would otherwise collide on the metric names.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from skyfence.alerts.destinations import destination_name
from skyfence.monitoring.monitor import WatchMonitor, feed_state
from skyfence.store.events import StoreError
from skyfence.watching import FeedAdapter, source_status

# seconds from queueing to on disk: one fsync is milliseconds, a lock held elsewhere seconds
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WatchMetrics:
    """The registry of one watch; `render` gives the body and content type of `/metrics`."""

    def __init__(self, monitor: WatchMonitor) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_WatchCollector(monitor))
        self.write_latency = Histogram(
            "skyfence_store_write_latency_seconds",
            "Time from queueing work for the event store to its commit on disk.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        monitor.store.add_latency_listener(self.write_latency.observe)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _WatchCollector:
    def __init__(self, monitor: WatchMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        m = self.monitor
        result, stats = m.result, m.engine.stats
        yield _counter("state_vectors", "State vectors taken from the sources.", result.rows)
        yield _counter("positions", "Fresh positions judged by the tracker.", stats.fixes)
        yield _counter(
            "positions_quarantined",
            "Fresh positions the integrity checks did not trust.",
            stats.suspect,
        )
        events = CounterMetricFamily("skyfence_events", "Events found, by kind.", labels=["kind"])
        for kind, n in sorted(result.by_kind.items()):
            events.add_metric([kind], n)
        yield events
        yield from self._sources()
        yield from self._outbox()
        failed = m.store.stats.failed_commits
        yield _counter("store_failed_commits", "Event store commits that failed.", failed)
        healthy, _ = m.health()
        yield GaugeMetricFamily("skyfence_healthy", "1 when /healthz answers 200.", int(healthy))

    def _sources(self) -> Iterator[Metric]:
        labels = ["source"]
        received = CounterMetricFamily(
            "skyfence_frames_received",
            "Messages received: Mode S frames (Beast, AVR), MSG lines (SBS), fixes (aircraft.json),"
            " state vectors replayed (recordings).",
            labels=labels,
        )
        decoded = CounterMetricFamily(
            "skyfence_frames_decoded", "Mode S frames decoded into state vectors.", labels=labels
        )
        malformed = CounterMetricFamily(
            "skyfence_frames_malformed",
            "Messages dropped: garbage, refused by the decoder, cut by a lost connection.",
            labels=labels,
        )
        duplicates = CounterMetricFamily(
            "skyfence_frames_duplicate",
            "Frames another receiver of the watch delivered first.",
            labels=labels,
        )
        connected = GaugeMetricFamily(
            "skyfence_feed_connected", "1 while the feed is connected.", labels=labels
        )
        reconnects = CounterMetricFamily(
            "skyfence_feed_reconnects", "Connections made after the first.", labels=labels
        )
        refused = CounterMetricFamily(
            "skyfence_feed_connect_failures",
            "Connection attempts (or polls) that failed.",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "skyfence_feed_lag_seconds",
            "How far the newest fix is behind this machine's clock, at the last picture.",
            labels=labels,
        )
        lags = {s["name"]: s.get("lag_s") for s in self.monitor.picture.status}
        for source in self.monitor.sources:
            status = source_status(source)
            name = [source.name]
            received.add_metric(name, status["messages"])
            malformed.add_metric(name, status["dropped"])
            if isinstance(source, FeedAdapter) and source.feed.spec.kind != "sbs":
                decoded.add_metric(name, source.feed.decoder.stats.used)
            if "duplicates" in status:
                duplicates.add_metric(name, status["duplicates"])
            if "reconnects" in status:
                reconnects.add_metric(name, status["reconnects"])
            state = feed_state(source)
            if state is not None:
                connected.add_metric(name, int(state.connected))
                refused.add_metric(name, state.failed_attempts)
                behind = lags.get(source.name)
                if behind is not None:
                    lag.add_metric(name, float(behind))
        yield from (received, decoded, malformed, duplicates, connected, reconnects, refused, lag)

    def _outbox(self) -> Iterator[Metric]:
        labels = ["destination"]
        pending = GaugeMetricFamily(
            "skyfence_outbox_pending", "Deliveries waiting in the outbox.", labels=labels
        )
        oldest = GaugeMetricFamily(
            "skyfence_outbox_oldest_pending_age_seconds",
            "Age of the oldest waiting delivery's event in the store (0: none waiting).",
            labels=labels,
        )
        now = time.time()
        try:
            backlog = self.monitor.store.outbox_health()
        except StoreError:  # the store failing: the other metrics matter all the more
            backlog = []
        for row in backlog:
            name = [destination_name(row.url)]
            pending.add_metric(name, row.pending)
            at = row.oldest_pending_at
            oldest.add_metric(name, 0.0 if at is None else max(0.0, now - at))
        failed = CounterMetricFamily(
            "skyfence_delivery_failed_attempts", "Failed delivery attempts.", labels=labels
        )
        for delivery in self.monitor.deliveries:
            failed.add_metric([destination_name(delivery.key)], delivery.failed_attempts)
        yield from (pending, oldest, failed)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"skyfence_{name}", documentation, value=value)
