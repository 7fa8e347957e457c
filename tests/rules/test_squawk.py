"""Emergency squawks on a real flight (Air France 393322, CDG, rs1090 frames from `traffic`)
whose identity replies were re-encoded to 7700 for a stretch, as its transponder would send it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import SQUAWKING_FLIGHT, squawking

from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event, iso_time
from skyfence.rules import RuleSet
from skyfence.rules.squawk import EmergencySquawks
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording

FLIGHT = SQUAWKING_FLIGHT


def squawk_events(path: Path, batch_rows: int = 200_000) -> list[Event]:
    events: list[Event] = []
    engine = Engine([], rules=RuleSet([EmergencySquawks()]))
    run_audit([path], engine, [], batch_rows=batch_rows, on_events=events.extend)
    return [e for e in events if e.kind == "emergency_squawk"]


def state_vectors(path: Path) -> StateVectors:
    return StateVectors.concat(list(read_recording(path)))


def test_a_stretch_of_7700_raises_one_event_when_the_second_reply_confirms_it(
    samples: Path, tmp_path: Path
) -> None:
    times = squawking(samples, tmp_path / "flight.jsonl", [range(300, 400)])
    events = squawk_events(tmp_path / "flight.jsonl")
    assert len(events) == 1
    (e,) = events
    # the decoder believes a reply once a second one agrees: the first state vector from then on
    sv = state_vectors(samples / FLIGHT)
    assert e.t_s == sv.t_s[sv.t_s >= times[1]].min()
    assert (e.icao24, e.zone_id, e.details["squawk"], e.details["meaning"]) == (
        "393322", "", "7700", "emergency",
    )  # fmt: skip
    assert e.details["confirmed"] >= iso_time(e.t_s + 10)
    assert np.isfinite([e.lat, e.lon]).all()


def test_the_same_events_whatever_the_batches(samples: Path, tmp_path: Path) -> None:
    squawking(samples, tmp_path / "flight.jsonl", [range(300, 400), range(600, 700)])
    whole = [e.to_dict() for e in squawk_events(tmp_path / "flight.jsonl")]
    assert len(whole) == 2
    assert [e.to_dict() for e in squawk_events(tmp_path / "flight.jsonl", 997)] == whole


def test_one_garbled_reply_raises_nothing(samples: Path, tmp_path: Path) -> None:
    """One reply saying 7700 among replies saying 1000 is a corrupted reply, not an emergency:
    no state vector carries the code, and no event."""
    squawking(samples, tmp_path / "flight.jsonl", [range(300, 301)])
    assert "7700" not in state_vectors(tmp_path / "flight.jsonl").squawk
    assert squawk_events(tmp_path / "flight.jsonl") == []


def test_raised_again_only_after_another_code_held_for_a_while(
    samples: Path, tmp_path: Path
) -> None:
    """Back to 1000 for about a minute and a half (20 replies), then 7700 again: the same
    episode. Back for about fifteen minutes (200 replies): a new one, dated when it began."""
    squawking(samples, tmp_path / "short.jsonl", [range(300, 400), range(420, 520)])
    assert len(squawk_events(tmp_path / "short.jsonl")) == 1
    times = squawking(samples, tmp_path / "long.jsonl", [range(300, 400), range(600, 700)])
    again = squawk_events(tmp_path / "long.jsonl")
    assert len(again) == 2 and again[1].t_s > times[100] > again[0].t_s


def test_each_emergency_code_has_its_meaning(samples: Path, tmp_path: Path) -> None:
    for code, meaning in (("7500", "hijack"), ("7600", "radio failure")):
        squawking(samples, tmp_path / f"{code}.jsonl", [range(300, 400)], code)
        (e,) = squawk_events(tmp_path / f"{code}.jsonl")
        assert (e.details["squawk"], e.details["meaning"]) == (code, meaning)


def test_a_code_carried_on_a_few_state_vectors_is_not_confirmed(samples: Path) -> None:
    """A source that repeats the last code on every row (SBS, aircraft.json) can show one bad
    code on several rows for a few seconds: held less than confirm_s, it raises nothing."""
    sv = state_vectors(samples / FLIGHT)
    start = float(sv.t_s[2000])
    for held_s, expected in ((5.0, 0), (60.0, 1)):
        squawk = sv.squawk.copy()
        squawk[(sv.t_s >= start) & (sv.t_s < start + held_s)] = "7700"
        changed = StateVectors(**{**{f: getattr(sv, f) for f in sv.__slots__}, "squawk": squawk})
        rule = EmergencySquawks()
        events = rule.batch(changed, changed.fix_time_s())
        assert len(events) == expected
        assert all(e.t_s == start for e in events)
