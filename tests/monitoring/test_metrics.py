"""The metrics of a watch on a real Beast feed are the watch's own numbers, and two watches in
one process keep their own registries."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fakes import AFR_CROSSING_ZONE, PacedBeast
from prometheus_client.parser import text_string_to_metric_families

from skyfence.engine.engine import Engine
from skyfence.monitoring.metrics import WatchMetrics
from skyfence.monitoring.monitor import WatchMonitor
from skyfence.store.events import EventStore
from skyfence.watching import FeedAdapter, LivePicture, WatchResult, run_watch
from skyfence.zones.geojson import load_zones


def samples(metrics: WatchMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_the_metrics_of_a_real_beast_feed_are_the_watch_s_own_numbers(tmp_path: Path) -> None:
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(AFR_CROSSING_ZONE))
    feed = PacedBeast()
    source = FeedAdapter(f"beast://127.0.0.1:{feed.port}")
    engine = Engine(load_zones(zones), keep_judged=True)
    store = EventStore(tmp_path / "events.db")
    picture = LivePicture(engine, [source], store)
    result = WatchResult()
    monitor = WatchMonitor(engine, [source], store, picture, result)
    metrics = WatchMetrics(monitor)
    other = WatchMetrics(monitor)  # a second registry in the same process: no collision
    deadline = time.monotonic() + 60

    def tick(events: list[object]) -> None:
        picture.tick(events)  # type: ignore[arg-type]
        monitor.tick(events)

    def done() -> bool:
        return source.feed.status.frames >= feed.frames or time.monotonic() > deadline

    try:
        run_watch([source], engine, [store], should_stop=done, on_tick=tick, result=result)
        store.flush()
        found = samples(metrics)
        again = samples(other)
    finally:
        feed.close()
        store.close()
    name = (("source", source.name),)
    status, decoded = source.feed.status, source.feed.decoder.stats
    assert found[("skyfence_frames_received_total", name)] == status.frames == feed.frames
    assert found[("skyfence_frames_decoded_total", name)] == decoded.used > 0
    assert found[("skyfence_frames_malformed_total", name)] == status.malformed == 0
    assert found[("skyfence_state_vectors_total", ())] == result.rows > 0
    assert found[("skyfence_positions_total", ())] == engine.stats.fixes > 0
    assert found[("skyfence_positions_quarantined_total", ())] == engine.stats.suspect
    kinds = {dict(k[1])["kind"]: v for k, v in found.items() if k[0] == "skyfence_events_total"}
    assert kinds == result.by_kind and kinds["entry"] == 1
    assert found[("skyfence_store_write_latency_seconds_count", ())] >= 1
    assert again[("skyfence_store_write_latency_seconds_count", ())] >= 1
