"""One absurd time in a real recording must not touch the other aircraft: the row is refused,
counted and reported by its line, and the audit is the audit of the file without it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
from fakes import sbs_line
from test_recordings import opensky_table

from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.sources.timefence import outside
from skyfence.zones.geojson import load_zones

YEAR_5138 = 99_999_999_999.0  # seconds: 5138-11-16 (from 1e11 on, times are read as ms)


@pytest.fixture(scope="module")
def quickstart(samples: Path) -> StateVectors:
    """traffic's quickstart (Paris, 2021-10-07), in time order."""
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    return sv.take(np.argsort(sv.t_s, kind="stable"))


def audit(path: Path, zones: Path) -> tuple[list[Event], list[str], float, float]:
    result = run_audit([path], Engine(load_zones(zones)), [], batch_rows=50_000)
    events: list[Event] = []
    run_audit([path], Engine(load_zones(zones)), [], on_events=events.extend)
    problems = [p for _, ps in result.skipped.values() for p in ps]
    return sorted(events, key=Event.sort_key), problems, result.first_s, result.last_s


@pytest.mark.parametrize(
    ("column", "stamp", "shown"),
    [
        ("time", YEAR_5138, "5138-11-16T09:46:39Z"),
        ("time", 0.0, "1970-01-01T00:00:00Z"),
        ("time", 4102444800.0, "2100-01-01T00:00:00Z"),
        ("lastposupdate", YEAR_5138, "5138-11-16T09:46:39Z"),
    ],
)
def test_one_row_stamped_far_away_is_refused_and_changes_no_other_event(
    quickstart: StateVectors,
    paris_zones_path: Path,
    tmp_path: Path,
    column: str,
    stamp: float,
    shown: str,
) -> None:
    """The row is in the middle of the day; the clean file is the file without it."""
    zones = load_zones(paris_zones_path)
    row = len(quickstart) // 2
    table = opensky_table(quickstart)
    clean = tmp_path / "clean.csv"
    pacsv.write_csv(table.filter(np.arange(len(table)) != row), str(clean))
    values = table.column(column).to_numpy().copy()
    values[row] = stamp
    attacked = tmp_path / "attacked.csv"
    index = table.schema.get_field_index(column)
    pacsv.write_csv(table.set_column(index, column, [values]), str(attacked))

    want, _, first, last = audit(clean, paris_zones_path)
    got, problems, got_first, got_last = audit(attacked, paris_zones_path)
    assert [e.to_dict() for e in got] == [e.to_dict() for e in want]
    assert (got_first, got_last) == (first, last)  # the summary's span
    assert problems == [f"line {row + 2}: stamped {shown}, far outside the recording's time "
                        "(refused)"]  # fmt: skip

    if column == "time" and stamp > last:  # the attack, unfenced: the clock jumps mid-way
        sv = StateVectors.concat(list(read_recording(clean)))
        half = len(sv) // 2
        bogus = dataclasses.replace(sv.take(np.array([half])), t_s=np.array([stamp]))
        engine = Engine(zones)
        unfenced = engine.process(sv.take(np.arange(half))) + engine.process(bogus)
        unfenced += engine.process(sv.take(np.arange(half, len(sv)))) + engine.finish()
        lost = {e.icao24 for e in unfenced if e.kind == "lost_contact" and e.t_s > last}
        assert lost - {f"{int(sv.icao24[half]):06x}"}  # other aircraft lost, in the future


def test_an_sbs_message_stamped_in_5138_is_refused(
    quickstart: StateVectors, tmp_path: Path
) -> None:
    """SBS lines (decoded positions with a date) of the real recording's first 500 fixes; the
    250th stamped in 5138: refused, reported, the rest read."""
    sv = quickstart.take(np.flatnonzero(np.isfinite(quickstart.lat_deg))[:500])
    times = sv.t_s.copy()
    times[249] = YEAR_5138
    lines = [
        sbs_line(3, int(sv.icao24[r]), float(times[r]),
                 {14: f"{sv.lat_deg[r]:.5f}", 15: f"{sv.lon_deg[r]:.5f}", 11: "30000"})
        for r in range(len(sv))
    ]  # fmt: skip
    path = tmp_path / "feed.sbs"
    path.write_text("\r\n".join(lines) + "\r\n")
    reader = read_recording(path)
    got = StateVectors.concat(list(reader))
    assert len(got) == 499 and got.t_s.max() == np.delete(sv.t_s, 249).max()
    assert reader.stats.rows_skipped == 1
    assert reader.stats.problems == [
        "decoded fixes 1-500: stamped 5138-11-16T09:46:39Z, far outside the recording's time "
        "(refused)"
    ]


def test_legs_days_apart_are_kept() -> None:
    """A trace flown on two days a week apart, mostly on the first: nothing is refused."""
    day1 = 1_633_600_000.0 + np.arange(0.0, 3600.0, 1.0)
    day8 = day1[:100] + 6.5 * 86_400
    assert not outside(np.concatenate([day1, day8]), now_s=2e9).any()
    assert outside(np.concatenate([day1, [day1[0] + 400 * 86_400]]), now_s=2e9)[-1]
