"""The interference counts in the event store: a running hour's counts replace themselves."""

from __future__ import annotations

from pathlib import Path

from skyfence.store.events import EventStore
from skyfence.store.records import InterferenceCount

CELL = "841e76dffffffff"


def test_counts_replace_per_hour_and_cell_and_read_by_window(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.sqlite") as store:
        assert store.interference_hours() is None
        store.write_interference([(3600, CELL, 1, 0, 0, 0), (7200, CELL, 2, 1, 0, 1)])
        store.write_interference([(3600, CELL, 5, 1, 1, 0)])  # the hour grew
        store.flush()
        assert store.interference_hours() == (3600, 7200)
        assert store.interference(0, 7200) == [
            InterferenceCount(hour_s=3600, cell=CELL, aircraft=5, degraded=1, spoofed=1, claimed=0)
        ]
        assert [r.hour_s for r in store.interference(0, 1e10)] == [3600, 7200]
