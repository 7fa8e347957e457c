"""The air picture on real flights: states an analyst sees follow the events, tracks are thinned
but keep every quarantined fix."""

from __future__ import annotations

import itertools
from importlib.resources import files
from pathlib import Path

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.watching import LivePicture, ReplaySource, run_watch
from skyfence.zones.geojson import load_zones

SAMPLES = Path(str(files("skyfence") / "samples"))


def replay(path: Path, zones: str) -> tuple[list[tuple[str, str]], LivePicture, list[Event]]:
    """Replay a recording and note the state of its aircraft whenever it changes."""
    engine = Engine(load_zones(zones), keep_judged=True)
    source = ReplaySource(path)
    ticks = itertools.count()
    picture = LivePicture(engine, [source], clock=lambda: float(next(ticks)))
    states: list[tuple[str, str]] = []
    events: list[Event] = []

    def on_tick(new: list[Event]) -> None:
        picture.tick(new)
        events.extend(new)
        for plane in picture.aircraft:
            state = (plane["state"], ",".join(plane["zones"]))
            if not states or states[-1] != state:
                states.append(state)

    run_watch([source], engine, [], on_tick=on_tick)
    return states, picture, events


def test_states_follow_warning_entry_and_exit_on_a_real_flight() -> None:
    states, picture, events = replay(SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz", "demo")
    assert [e.kind for e in events] == ["predicted_entry", "entry", "exit"] * 2
    assert states == [
        ("normal", ""),
        ("warning", "DEMO-TRA-CENTRE"),
        ("inside", "DEMO-TRA-CENTRE"),
        ("normal", ""),
        ("warning", "DEMO-R-APPROACH"),
        ("inside", "DEMO-R-APPROACH"),
        ("normal", ""),
    ]
    (plane,) = picture.aircraft
    assert plane["callsign"] == "AFR34ZG" and plane["country"] == "FR"
    assert abs(plane["lat"] - 43.63) < 0.01  # at the gate in Toulouse


def test_a_spoofed_flight_is_shown_suspect_and_its_evidence_kept() -> None:
    engine = Engine(load_zones("ukraine"), keep_judged=True)
    source = ReplaySource(SAMPLES / "thy9bp_spoofing_2024-09-17.json.gz")
    picture = LivePicture(engine, [source])
    logged = []
    seen_states = set()

    def on_tick(new: list[Event]) -> None:
        logged.extend(picture.picture.update(engine.take_judged(), new))
        seen_states.update(a["state"] for a in picture.picture.snapshot(engine))

    run_watch([source], engine, [], on_tick=on_tick)
    quarantined = [row for row in logged if row[8] == 0]
    trusted = [row for row in logged if row[8] == 1]
    # the first is the last real position re-sent 88 s later with a new fix time: frozen
    assert len(quarantined) == engine.stats.suspect == 741
    assert {row[9] for row in quarantined} <= {
        "frozen_position",
        "outside_flight_envelope",
        "impossible_jump",
    }
    # trusted fixes are thinned to one per aircraft per 5 s, across one-second batches
    steps = [int(row[1] // 5) for row in trusted]
    assert len(steps) == len(set(steps))
    assert len(trusted) < engine.stats.trusted / 3
    assert seen_states == {"normal", "suspect"}  # never "inside" Lviv FIR
