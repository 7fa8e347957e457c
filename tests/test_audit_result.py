"""One result type and one tally of events, on the real recordings skyfence ships."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path

from fakes import audited

from skyfence.alerts.files import open_sink
from skyfence.audit_result import AuditResult, EventCounts, deliver
from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.zones.geojson import load_zones
from skyfence.zones.model import Zone

SAMPLES = Path(str(files("skyfence") / "samples"))
AFR_FRAMES = SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz"
THY9BP = SAMPLES / "thy9bp_spoofing_2024-09-17.json.gz"


def zones() -> list[Zone]:
    return load_zones("demo") + load_zones("ukraine")


def test_counts_per_kind_and_total_come_from_the_counts_per_zone_and_kind() -> None:
    events: list[Event] = []
    result = run_audit([AFR_FRAMES, THY9BP], Engine(zones()), [], on_events=events.extend)
    assert len(events) >= 7 and {e.kind for e in events} >= {"entry", "suspect_position"}
    assert result.counts.per_zone_kind == Counter((e.zone_id, e.kind) for e in events)
    assert result.counts.by_kind == Counter(e.kind for e in events)
    assert result.events == result.counts.total == len(events)
    assert (result.path, result.inputs, set(result.formats)) == (
        "files", 2, {str(AFR_FRAMES), str(THY9BP)}
    )  # fmt: skip
    assert result.rows > result.fixes >= result.trusted and result.suspect > 0
    assert len(result.aircraft) >= 2 and result.first_s < result.last_s


def test_delivered_events_are_counted_written_and_shown_once(tmp_path: Path) -> None:
    events: list[Event] = []
    run_audit([AFR_FRAMES], Engine(zones()), [], on_events=events.extend)
    counts, shown = EventCounts(), []
    written = open_sink(tmp_path / "events.jsonl")
    for part in (events[:3], [], events[3:]):
        deliver(part, counts, [written], shown.extend)
    written.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [e.id for e in events]
    assert shown == events
    assert counts.total == len(events) and counts.by_kind == Counter(e.kind for e in events)


def test_engines_merged_equal_one_engine_over_aircraft_that_never_meet() -> None:
    """How the folder's workers and Spark's partitions add up: two engines over two
    recordings of different aircraft, merged, are the one engine over both."""
    whole = run_audit([AFR_FRAMES, THY9BP], Engine(zones()), [], on_events=lambda _: None)
    merged = AuditResult("folder")
    for path in (AFR_FRAMES, THY9BP):
        part = run_audit([path], Engine(zones()), [])
        part.peak_rss_mb = 100.0 if path == AFR_FRAMES else 50.0
        merged.merge(part)
    assert audited(merged) == audited(whole)
    assert merged.peak_rss_mb == 100.0  # the largest worker's
