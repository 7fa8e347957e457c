"""A watch list in Plane-Alert's layout against real traffic (the `traffic` quickstart: 213
aircraft around Paris on 7 October 2021)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.rules import RuleSet
from skyfence.rules.watchlist import WatchedAircraft, WatchList, WatchListError, read_watchlist
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones

HEADER = (
    "$ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category,$#Link"
)
LISTED = [
    "39CF08,,Air France,Airbus,,Civ,Flag carrier,,,Airlines,",
    "39c82b,,Pan Europeenne Air Service,,,Civ,Business jet,Charter,,Business,https://example.org",
    "0A0B0C,,Nobody,,,Mil,Never heard,,,Test,",  # an address the recording does not hold
]
QUICKSTART = "collections/quickstart.json.gz"


def watchlist(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "plane-alert-db.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def audit(samples: Path, zones: Path | None, rules: RuleSet | None) -> list[Event]:
    events: list[Event] = []
    engine = Engine(load_zones(zones) if zones else [], rules=rules)
    run_audit([samples / QUICKSTART], engine, [], on_events=events.extend)
    return sorted(events, key=Event.sort_key)


def test_plane_alert_rows_are_read_by_position(tmp_path: Path) -> None:
    rows = read_watchlist(watchlist(tmp_path, LISTED))
    assert [r.address for r in rows] == [0x39CF08, 0x39C82B, 0x0A0B0C]
    assert rows[1].details() == {
        "registration": "",
        "operator": "Pan Europeenne Air Service",
        "type": "",
        "icao_type": "",
        "cmpg": "Civ",
        "tags": ["Business jet", "Charter"],
        "category": "Business",
        "link": "https://example.org",
        "list": "plane-alert-db.csv:3",
    }


def test_listed_aircraft_are_reported_once_when_first_heard(samples: Path, tmp_path: Path) -> None:
    """Once per visit: PEA501 (39c82b) lands, is silent for over an hour (forget_after_s) and
    flies again, so it is reported twice, at the first fix of each visit."""
    listed = WatchList.load([watchlist(tmp_path, LISTED)])
    events = audit(samples, None, RuleSet([WatchedAircraft(listed)]))
    watched = [e for e in events if e.kind == "watched_aircraft"]
    assert {e.icao24 for e in watched} == {"39c82b", "39cf08"}  # not the unheard row
    sv = StateVectors.concat(list(read_recording(samples / QUICKSTART)))
    for address in ("39c82b", "39cf08"):
        mine = (sv.icao24 == int(address, 16)) & np.isfinite(sv.lat_deg)
        t = np.sort(sv.fix_time_s()[mine])
        visits = t[np.append(True, np.diff(t) > 3600.0)]
        assert [e.t_s for e in watched if e.icao24 == address] == visits.tolist()
    assert len(watched) == 3
    assert all(e.zone_id == "" for e in watched)
    row = {e.icao24: e.details["watchlist"] for e in watched}["39cf08"]
    assert (row["operator"], row["tags"], row["list"]) == (
        "Air France", ["Flag carrier"], "plane-alert-db.csv:2",
    )  # fmt: skip


def test_a_row_that_matches_nothing_raises_nothing(samples: Path, tmp_path: Path) -> None:
    listed = WatchList.load([watchlist(tmp_path, LISTED[2:])])
    assert audit(samples, None, RuleSet([WatchedAircraft(listed)])) == []


def test_a_watched_only_zone_reports_the_listed_aircraft_inside_it(
    samples: Path, tmp_path: Path, paris_zones_path: Path
) -> None:
    """CDG-10NM restricted to the list: its events are those of the listed aircraft the
    unrestricted audit found, carrying the list's row; the other zones are untouched."""
    everything = audit(samples, paris_zones_path, None)
    listed = WatchList.load([watchlist(tmp_path, LISTED)])
    rule = WatchedAircraft(listed, frozenset({"CDG-10NM"}))
    restricted = [e for e in audit(samples, paris_zones_path, RuleSet([rule])) if e.zone_id]
    mine = {"39cf08", "39c82b"}
    want = [e for e in everything if e.zone_id != "CDG-10NM" or e.icao24 in mine]
    assert [e.id for e in restricted] == [e.id for e in want]
    cdg = [e for e in restricted if e.zone_id == "CDG-10NM"]
    assert Counter(e.kind for e in cdg)["entry"] >= 2
    assert all(e.details["watchlist"]["operator"] for e in cdg)
    assert all("watchlist" in e.details for e in restricted if e.icao24 in mine)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("39CF0,,Air France,,,,,,,,", "'39CF0' is not an ICAO address"),
        ("39CF08,,Air France,,,,,,,,,extra", "12 columns, Plane-Alert's layout has 11"),
    ],
)
def test_a_bad_row_is_named_by_file_and_line(tmp_path: Path, row: str, problem: str) -> None:
    path = watchlist(tmp_path, [LISTED[0], "", "# a comment", row])
    with pytest.raises(WatchListError, match=f"plane-alert-db.csv:5: {problem}"):
        read_watchlist(path)
