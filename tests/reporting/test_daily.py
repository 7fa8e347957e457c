"""Summaries of a period on the store the demo writes (real flights)."""

from __future__ import annotations

import base64
import io
import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from skyfence.engine.events import EVENT_KINDS
from skyfence.reporting.daily import summary_report
from skyfence.store.events import EventStore
from skyfence.store.rows import EventFilter

JULY_6 = datetime.fromisoformat("2024-07-06T00:00:00+00:00").timestamp()
SEPTEMBER_18 = datetime.fromisoformat("2024-09-18T00:00:00+00:00").timestamp()


def images(page: str) -> list[np.ndarray]:
    return [imread(io.BytesIO(base64.b64decode(m))) for m in re.findall(r"base64,([^\"]+)", page)]


@pytest.fixture(scope="module")
def store(demo_store_path: Path) -> EventStore:
    return EventStore(demo_store_path)


def test_a_summary_counts_events_per_zone_and_kind(store: EventStore) -> None:
    records = store.query(EventFilter(JULY_6, SEPTEMBER_18))
    page = summary_report(store, JULY_6, SEPTEMBER_18)
    assert f"{len(records)} events" in page and "THY9BP" in page
    table = page.split("<h2>Per zone and kind</h2>")[1].split("</table>")[0]
    counts = Counter((r.zone_id, r.kind) for r in records)
    for zone in {z for z, _ in counts}:
        row = re.search(rf"<tr><th>{zone}</th>(.*?)</tr>", table)
        assert row is not None, zone
        cells = re.findall(r"<td>(\d*)</td>", row.group(1))
        assert cells == [str(counts[(zone, k)] or "") for k in EVENT_KINDS]
    for record in records:
        assert record.id in page and record.time_iso in page
    (chart,) = images(page)
    assert chart.shape[:2] == (350, 900)


def test_a_quiet_period_has_no_chart(store: EventStore) -> None:
    page = summary_report(store, JULY_6 - 86_400, JULY_6)
    assert "0 events" in page and "base64," not in page


def test_a_year_is_summarised_quickly(store: EventStore) -> None:
    """A bar per hour of a year, most of them empty, once took minutes to draw."""
    start = time.perf_counter()
    summary_report(store, JULY_6, JULY_6 + 366 * 86_400)
    assert time.perf_counter() - start < 10


def bar_columns(chart: np.ndarray) -> int:
    """Pixel columns with a coloured bar at the foot of the plot (the legend sits higher)."""
    rgb = chart[..., :3]
    coloured = (rgb.max(axis=2) - rgb.min(axis=2)) > 0.3
    rows = np.flatnonzero(coloured.any(axis=1))
    return int(coloured[rows.max()].sum()) if len(rows) else 0


def test_a_long_period_is_drawn_per_day_and_its_bars_stay_visible(store: EventStore) -> None:
    """Two and a half months of hourly bars are a third of a pixel wide each: they vanished."""
    page = summary_report(store, JULY_6, SEPTEMBER_18)
    assert "<h2>Events per day</h2>" in page
    (chart,) = images(page)
    # two busy days (6 July, 17 September), each bar about 900 px / 74 days wide
    assert bar_columns(chart) >= 2 * 8
    day = summary_report(store, JULY_6, JULY_6 + 86_400)
    assert "<h2>Events per hour</h2>" in day
