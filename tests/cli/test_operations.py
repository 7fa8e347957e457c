"""`watch` run as a service: `/metrics` and `/healthz` of a real Beast feed, and failures said
once on a piped stderr, not once per retry."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from fakes import AFR_CROSSING_ZONE, PacedBeast, WatchProcess, free_port
from prometheus_client.parser import text_string_to_metric_families

THY9BP = Path(__file__).parents[2] / "skyfence/samples/thy9bp_spoofing_2024-09-17.json.gz"


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5.0)
    except httpx.TransportError:  # not listening yet
        return None


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`, parsed by prometheus_client's own parser."""
    response = httpx.get(url, timeout=5.0)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_of_a_real_beast_feed_match_the_watch_and_health_follows_the_feed(
    tmp_path: Path, watches: list[WatchProcess]
) -> None:
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(AFR_CROSSING_ZONE))
    feed = PacedBeast()  # 20 s of the real AFR flight, crossing the zone's edge
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    uri = f"beast://127.0.0.1:{feed.port}"
    try:
        watch = WatchProcess(tmp_path, "-z", zones, "-s", uri, "--store", tmp_path / "events.db",
                      "--web", "--port", str(port), "--unhealthy-after", "2")  # fmt: skip
        watches.append(watch)
        watch.wait_for(lambda: (r := get(f"{base}/healthz")) is not None and r.status_code == 200,
                       "a healthy watch")  # fmt: skip
        source = (("source", uri),)

        def all_frames_in() -> bool:
            samples = scrape(f"{base}/metrics")
            return samples.get(("skyfence_frames_received_total", source)) == feed.frames

        watch.wait_for(all_frames_in, f"the feed's {feed.frames} frames")
        time.sleep(1.5)  # the last frames' fixes through the engine (ticks of 0.5 s)
        metrics = scrape(f"{base}/metrics")
        health = httpx.get(f"{base}/healthz", timeout=5.0)
        assert health.status_code == 200 and health.json()["reasons"] == []

        feed.close()  # the receiver goes away
        watch.wait_for(
            lambda: httpx.get(f"{base}/healthz").status_code == 503, "an unhealthy watch"
        )
        body = httpx.get(f"{base}/healthz", timeout=5.0).json()
        assert body["status"] == "unhealthy"
        assert body["reasons"][0].startswith(f"feed {uri} not connected for ")
        assert scrape(f"{base}/metrics")[("skyfence_feed_connected", source)] == 0
        assert watch.stop() == 0
    finally:
        feed.close()

    assert metrics[("skyfence_feed_connected", source)] == 1
    assert metrics[("skyfence_frames_decoded_total", source)] > 0
    assert metrics[("skyfence_frames_malformed_total", source)] == 0
    assert metrics[("skyfence_positions_total", ())] > 0
    assert metrics[("skyfence_store_write_latency_seconds_count", ())] > 0
    assert metrics[("skyfence_healthy", ())] == 1
    # the watch's own summary, printed when it stops, gives the same numbers
    rows = int(metrics[("skyfence_state_vectors_total", ())])
    kinds = {labels[0][1]: int(v) for (name, labels), v in metrics.items()
             if name == "skyfence_events_total"}  # fmt: skip
    assert kinds.get("entry") == 1
    by_kind = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    summary = f"{rows} state vectors, {sum(kinds.values())} events ({by_kind})."
    assert summary in watch.out.read_text(), watch.output()
    # the lost receiver, then refused connections: a line for each change seen at a tick, none
    # per retry (the first retry comes at once: a loaded machine may see it refused in the same
    # tick as the loss, and then only the refusal is a change)
    lost = watch.err.read_text().splitlines()
    assert 1 <= len(lost) <= 2, watch.output()
    assert lost[-1].startswith(f"feed {uri}: connection refused, retrying in ")
    assert lost[:-1] in ([], [f"feed {uri}: connection closed by the receiver, retrying in 0 s"])


def test_a_refused_feed_and_a_refused_webhook_are_one_line_each_not_a_flood(
    tmp_path: Path, watches: list[WatchProcess]
) -> None:
    feed_port, hook_port, metrics_port = free_port(), free_port(), free_port()
    uri, hook = f"beast://127.0.0.1:{feed_port}", f"http://127.0.0.1:{hook_port}/hook"
    watch = WatchProcess(tmp_path, "-z", "ukraine", "-s", uri, "-s", THY9BP, "--speed", "0",
                  "--webhook", hook, "--store", tmp_path / "events.db",
                  "--metrics-port", str(metrics_port))  # fmt: skip
    watches.append(watch)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    feed, destination = (("source", uri),), None

    def retried() -> bool:
        nonlocal destination
        samples = scrape(url) if get(url) is not None else {}
        failed = {
            k: v for k, v in samples.items() if k[0] == "skyfence_delivery_failed_attempts_total"
        }
        destination = next(iter(failed), None)
        return samples.get(("skyfence_feed_connect_failures_total", feed), 0) >= 4 and (
            sum(failed.values()) >= 3
        )

    watch.wait_for(retried, "retries of the feed and of the webhook")
    assert watch.stop() == 0
    lines = watch.err.read_text().splitlines()
    assert destination is not None
    name = dict(destination[1])["destination"]
    assert name.startswith(f"http://127.0.0.1:{hook_port}/…") and "hook" not in name
    feed_lines = [line for line in lines if line.startswith(f"feed {uri}:")]
    hook_lines = [line for line in lines if line.startswith(f"webhook {name}:")]
    assert len(feed_lines) == 1 and len(hook_lines) == 1, watch.output()
    assert feed_lines[0].startswith(f"feed {uri}: connection refused, retrying in ")
    assert hook_lines[0].startswith(f"webhook {name}: ConnectionRefusedError: ")
    assert len(lines) == 2, watch.output()  # nothing else on stderr
