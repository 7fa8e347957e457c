"""`watch` replaying a recording gives exactly the events `audit` gives on it."""

from __future__ import annotations

from pathlib import Path

from skyfence.audit import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.store.events import EventStore
from skyfence.watch import ReplaySource, run_watch
from skyfence.zones.geojson import load_zones


class ListSink:
    """A sink that keeps what it is given: the test fake users may use too."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: list[Event]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        pass


def test_replay_through_watch_equals_audit(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    zones = load_zones(paris_zones_path) + load_zones("ukraine")
    recording = samples / "collections/quickstart.json.gz"
    audited = ListSink()
    run_audit([recording], Engine(zones), [audited])

    watched = ListSink()
    store = EventStore(tmp_path / "events.sqlite")
    result = run_watch([ReplaySource(recording)], Engine(zones), [watched, store])
    store.close()

    assert result.ticks > 10_000  # one-second micro-batches, as a live feed delivers them
    assert len(audited.events) > 1_000
    in_order = sorted(watched.events, key=Event.sort_key)
    assert [e.to_dict() for e in in_order] == [
        e.to_dict() for e in sorted(audited.events, key=Event.sort_key)
    ]
    reopened = EventStore(tmp_path / "events.sqlite")
    try:
        assert reopened.count() == len(audited.events)
        first = in_order[0]
        assert reopened.get(first.id) == first.to_dict()
    finally:
        reopened.close()


def test_replay_at_speed_follows_the_recording_clock(samples: Path) -> None:
    """At 600x, the spoofed flight's 8,734 s take 14.6 s of wall clock: here a fake clock
    advances 10 ms per poll (6 s of recording), so the replay takes about 1,460 polls."""
    now = [0.0]

    def clock() -> float:
        now[0] += 0.01
        return now[0]

    source = ReplaySource(samples / "noisy/noisy_spoofing.json.gz", speed=600.0, clock=clock)
    polls, rows = 0, 0
    while not source.exhausted:
        rows += len(source.next_batch(0.0))
        polls += 1
    assert rows == 8_681
    assert 1_400 < polls < 1_520
