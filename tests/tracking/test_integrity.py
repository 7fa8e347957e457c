"""Integrity verdicts on real tracks: what is a fix, what is trusted, what is quarantined."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from skyfence.engine.zoneset import EngineSettings
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.tracking.integrity import (
    IMPOSSIBLE_JUMP,
    LOW_INTEGRITY,
    OUTSIDE_ENVELOPE,
    TrackIntegrity,
    Verdicts,
    assess_batch,
    plausible_altitudes,
)


def read_all(path: Path) -> StateVectors:
    sv = StateVectors.concat(list(read_recording(path)))
    return sv.take(np.lexsort((sv.t_s, sv.fix_time_s(), sv.icao24)))


def judge(sv: StateVectors, states: dict[int, TrackIntegrity] | None = None) -> Verdicts:
    states = {} if states is None else states
    return assess_batch(sv, sv.fix_time_s(), sv.altitude_ft(), states, EngineSettings())


def test_spoofed_flight(samples: Path) -> None:
    sv = read_all(samples / "noisy/noisy_spoofing.json.gz")
    v = judge(sv)
    # repeated stale positions are not fixes: about half the rows of this recording
    assert 0.4 < v.fresh.mean() < 0.6
    spoofed = v.fresh & (sv.lat_deg > 49.5) & (sv.lon_deg > 23.5) & (sv.lon_deg < 24.5)
    assert spoofed.sum() > 500 and not v.trusted[spoofed].any()
    assert set(v.reason[spoofed]) == {OUTSIDE_ENVELOPE}
    assert v.suspect_start.sum() == 1
    # before and after the episode the real track is trusted
    real = v.fresh & ~spoofed
    assert v.trusted[real].mean() > 0.999


def test_low_nic_is_quarantined_and_the_track_recovers(samples: Path) -> None:
    sv = read_all(samples / "featured/dreamliner_airfrance.json.gz")
    one = sv.take(sv.icao24 == sv.icao24[0])
    nic = np.full(len(one), 8, np.int8)
    nic[1000:1030] = 0  # thirty seconds of jamming
    v = judge(replace(one, nic=nic))
    jammed = np.zeros(len(one), bool)
    jammed[1000:1030] = True
    assert not v.trusted[jammed & v.fresh].any()
    assert set(v.reason[jammed & v.fresh]) == {LOW_INTEGRITY}
    assert v.suspect_start.sum() == 1
    assert v.trusted[~jammed & v.fresh].all()
    jammed_flight = replace(one, nic=nic)
    states: dict[int, TrackIntegrity] = {}
    parts = [
        judge(jammed_flight.take(np.arange(i, min(i + 333, len(one)))), states)
        for i in range(0, len(one), 333)
    ]
    assert np.array_equal(np.concatenate([p.trusted for p in parts]), v.trusted)


def test_a_jump_is_quarantined_and_batches_do_not_matter(samples: Path) -> None:
    sv = read_all(samples / "featured/dreamliner_airfrance.json.gz")
    one = sv.take(sv.icao24 == sv.icao24[0])
    lat = one.lat_deg.copy()
    lat[2000:2005] += 2.0  # 220 km away for five fixes, then back: a bad decode
    bad = replace(one, lat_deg=lat)
    whole = judge(bad)
    assert set(whole.reason[2000:2005][whole.fresh[2000:2005]]) == {IMPOSSIBLE_JUMP}
    states: dict[int, TrackIntegrity] = {}
    parts = [
        judge(bad.take(np.arange(i, min(i + 777, len(bad)))), states)
        for i in range(0, len(bad), 777)
    ]
    assert np.array_equal(np.concatenate([p.trusted for p in parts]), whole.trusted)
    assert np.array_equal(np.concatenate([p.suspect_start for p in parts]), whole.suspect_start)


def test_a_wrong_first_position_does_not_blind_the_track(samples: Path) -> None:
    sv = read_all(samples / "featured/dreamliner_airfrance.json.gz")
    one = sv.take(sv.icao24 == sv.icao24[0])
    lat = one.lat_deg.copy()
    lat[0] += 3.0  # the very first fix is garbage
    v = judge(replace(one, lat_deg=lat))
    assert v.trusted[0]  # nothing to compare it with yet...
    assert v.trusted[v.fresh][20:].all()  # ...but ten consistent fixes re-anchor the track


def test_altitude_bit_errors_are_discarded(samples: Path) -> None:
    """An A320 landing at Orly reports FL253 for one second, then 'on ground' at 4,050 ft."""
    sv = read_all(samples / "collections/quickstart.json.gz")
    alt = sv.altitude_ft()
    ok = plausible_altitudes(sv.icao24, sv.t_s, alt, sv.on_ground, {})
    spike = (sv.icao24 == 0x4BC844) & (alt > 25_000) & (sv.t_s < 1633615560)
    assert spike.sum() == 1 and not ok[spike].any()
    ground_glitch = (sv.icao24 == 0x06A1E7) & sv.on_ground & (sv.t_s < 1633609800)
    assert ground_glitch.sum() >= 1 and not ok[ground_glitch].any()
    known = np.isfinite(alt) | sv.on_ground
    assert ok[known].mean() > 0.999  # the rest is believed


def test_equipment_that_never_reports_good_integrity_is_judged_by_kinematics(
    samples: Path,
) -> None:
    """Light aircraft with uncertified GNSS send NIC 0 all the time: quarantining them all
    would miss every one of their incursions. Only a drop from a good value marks jamming."""
    sv = read_all(samples / "featured/dreamliner_airfrance.json.gz")
    one = sv.take(sv.icao24 == sv.icao24[0])
    v = judge(replace(one, nic=np.zeros(len(one), np.int8)))
    assert v.trusted[v.fresh].all()
    assert v.suspect_start.sum() == 0
