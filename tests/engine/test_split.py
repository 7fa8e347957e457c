"""The audit split over two processes gives the single engine's events, in its order, with its
statistics: on real traffic (the `traffic` quickstart, 213 aircraft around Paris), with the
rules beyond areas, in batches, and with aircraft heard again after a long silence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from skyfence.auditing import run_audit
from skyfence.engine import split
from skyfence.engine.engine import Engine, in_engine_order
from skyfence.engine.events import Event
from skyfence.engine.split import SplitEngine, theirs
from skyfence.rules import RuleSet
from skyfence.rules.squawk import EmergencySquawks
from skyfence.rules.watchlist import WatchedAircraft, WatchList
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones

QUICKSTART = "collections/quickstart.json.gz"
HEADER = "$ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category"


def rules(tmp_path: Path) -> RuleSet:
    listed = tmp_path / "watch.csv"
    listed.write_text(f"{HEADER}\n39CF08,,Air France,,,Civ,,,,Airlines\n")
    watched = WatchedAircraft(WatchList.load([listed]), frozenset({"CDG-10NM"}))
    return RuleSet([EmergencySquawks(), watched])


def audited(
    samples: Path, zones_path: Path, tmp_path: Path, split_min_bytes: int, batch_rows: int
) -> tuple[list[dict[str, object]], Engine]:
    events: list[Event] = []
    zones = load_zones(zones_path) + load_zones("ukraine")
    engine = Engine(zones, rules=rules(tmp_path))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(split, "SPLIT_MIN_BYTES", split_min_bytes)
        patch.setattr(split, "idle_cores", lambda: 3.0)  # whatever else runs on this machine
        chosen = split.split_for(engine, [samples / QUICKSTART])
        assert (chosen is not None) == (split_min_bytes == 0)
        if chosen is not None:
            chosen.close()
        run_audit(
            [samples / QUICKSTART], engine, [], batch_rows=batch_rows, on_events=events.extend
        )
    return [e.to_dict() for e in events], engine


@pytest.mark.parametrize("batch_rows", [200_000, 30_000])
def test_split_audit_equals_single_engine(
    samples: Path, paris_zones_path: Path, tmp_path: Path, batch_rows: int
) -> None:
    single, one = audited(samples, paris_zones_path, tmp_path, 10**15, batch_rows)
    both, two = audited(samples, paris_zones_path, tmp_path, 0, batch_rows)
    assert len(single) > 500
    kinds = {"entry", "exit", "predicted_entry", "lost_contact", "watched_aircraft"}
    assert {e["kind"] for e in single} >= kinds
    assert both == single  # same events, same ids, same times, same order
    assert two.stats == one.stats
    assert two.rules is not None  # given back to the engine


def test_aircraft_back_after_a_long_silence(samples: Path, paris_zones_path: Path) -> None:
    """The same aircraft again three hours later, in the same batch: the engine processes the
    batch as two (forgetting them in between); split, each half does the same."""
    sv = StateVectors.concat(list(read_recording(samples / QUICKSTART)))
    later = replace(sv, t_s=sv.t_s + 3 * 3600.0, t_pos_s=sv.t_pos_s + 3 * 3600.0)
    batch = in_engine_order(StateVectors.concat([sv, later]))
    zones = load_zones(paris_zones_path)
    single = Engine(zones)
    expected = single.process(batch) + single.finish()

    engine = Engine(zones)
    both = SplitEngine(engine)
    try:
        fed = list(both.feed(iter([(batch, [])])))
        found = both.process(fed[0][0]) + both.finish()
    finally:
        both.close()
    assert len(expected) > 100
    assert [e.to_dict() for e in found] == [e.to_dict() for e in expected]
    assert engine.stats == single.stats


def test_both_engines_get_aircraft(samples: Path) -> None:
    """The hash spreads real addresses (one registry's blocks) over both processes."""
    sv = StateVectors.concat(list(read_recording(samples / QUICKSTART)))
    addresses = np.unique(sv.icao24)
    share = theirs(addresses).mean()
    assert 0.35 < share < 0.65


def test_a_used_engine_is_not_split(paris_zones_path: Path, samples: Path) -> None:
    engine = Engine(load_zones(paris_zones_path))
    engine.process(next(iter(read_recording(samples / QUICKSTART, batch_rows=1_000))))
    with pytest.raises(ValueError, match="fresh engine"):
        SplitEngine(engine)
