"""Integrity verdicts on real tracks: what is a fix, what is trusted, what is quarantined."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings
from skyfence.sources.recordings import read_recording
from skyfence.tracking.integrity import (
    FROZEN_POSITION,
    IMPOSSIBLE_JUMP,
    LOW_INTEGRITY,
    OUTSIDE_ENVELOPE,
    TrackIntegrity,
    Verdicts,
    assess,
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


def test_a_flight_level_straight_after_ground_reports_is_discarded(samples: Path) -> None:
    """Aircraft taxiing at Orly and CDG report FL280-FL390 at the taxiway for a few replies:
    believed, they made false exits from a zone above the airport (bench/peer.py's Paris
    circle). An aircraft on the ground climbs from its airfield: the ground report is the
    reference, and real take-offs stay believed."""
    sv = read_all(samples / "collections/quickstart.json.gz")
    sv = sv.take(np.lexsort((sv.t_s, sv.fix_time_s(), sv.icao24)))
    alt = sv.altitude_ft()
    ok = plausible_altitudes(sv.icao24, sv.fix_time_s(), alt, sv.on_ground, {})
    same = np.append(False, sv.icao24[1:] == sv.icao24[:-1])
    # right after an on-ground report believed (a glitch of the flag at cruise is not)
    ground = np.append(False, (sv.on_ground & ok)[:-1])
    after_ground = same & ground & ~sv.on_ground & np.isfinite(alt)
    jumps = after_ground & (alt > 25_000)
    taxiing = {0x44093E, 0x4BC844, 0x4CAC5E}
    assert taxiing <= set(sv.icao24[jumps].tolist())
    assert not ok[jumps].any()
    take_offs = after_ground & (alt < 2_000)
    assert take_offs.sum() >= 10 and ok[take_offs].all()
    known = np.isfinite(alt) | sv.on_ground
    assert ok[known].mean() > 0.999


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


def sampled(sv: StateVectors, step_s: float) -> StateVectors:
    """One row per aircraft every `step_s`, carrying the newest position of the 1 s rows at
    least a random lag (up to one sample) earlier, stamped with the sample's time: OpenSky
    state vectors without `lastposupdate`."""
    rng = np.random.default_rng(11)
    at = np.floor(sv.t_s / step_s) * step_s
    keep = np.append(True, (sv.icao24[1:] != sv.icao24[:-1]) | (at[1:] != at[:-1]))
    rows = np.flatnonzero(keep)
    t = at[rows] + step_s
    lag = rng.uniform(0.0, step_s, len(rows))
    key = sv.icao24.astype(np.float64) * 1e10 + sv.t_s
    pos = np.searchsorted(key, sv.icao24[rows] * 1e10 + t - lag, side="right") - 1
    ok = sv.icao24[pos] == sv.icao24[rows]
    rows, pos, t = rows[ok], pos[ok], t[ok]
    return replace(sv.take(rows), t_s=t, lat_deg=sv.lat_deg[pos], lon_deg=sv.lon_deg[pos])


def test_sampled_state_vectors_raise_no_false_alarm(samples: Path) -> None:
    """quickstart's 213 aircraft every 10 s, positions stamped with the sample's time (up to
    10 s older than it): taken as exact, the times make cruising airliners jump; the sampling
    interval taken as the time uncertainty leaves no suspect episode."""
    sv = sampled(read_all(samples / "collections/quickstart.json.gz"), 10.0)
    v = judge(sv)
    assert v.fresh.sum() > 20_000
    assert v.suspect_start.sum() == 0
    # quarantined without an episode: the recording's own one-fix decode errors
    assert (v.fresh & ~v.trusted).sum() < 1e-3 * v.fresh.sum()
    exact = assess(sv.icao24, sv.t_s, sv.t_s, sv.lat_deg, sv.lon_deg, sv.altitude_ft(),
                   sv.gs_kt, sv.on_ground, sv.nic, sv.nacp, {}, EngineSettings(),
                   own_time=np.ones(len(sv), bool))  # fmt: skip
    assert exact.suspect_start.sum() > 20  # what the same rows gave before


def test_a_frozen_position_is_quarantined(samples: Path) -> None:
    """The position stops while the fix time moves on and the ground speed says 480 kt."""
    sv = read_all(samples / "featured/dreamliner_airfrance.json.gz")
    one = sv.take(sv.icao24 == sv.icao24[0])
    lat, lon = one.lat_deg.copy(), one.lon_deg.copy()
    lat[3000:3120], lon[3000:3120] = lat[3000], lon[3000]
    # the spoofer sends them as new fixes (the recording's own repeats are stale, not fixes)
    own_time = np.where(
        (np.arange(len(one)) >= 3000) & (np.arange(len(one)) < 3120), one.t_s, np.nan
    )
    frozen = replace(one, lat_deg=lat, lon_deg=lon, t_pos_s=own_time)
    v = judge(frozen)
    assert v.trusted[:3001].all()
    assert set(v.reason[3001:3120][v.fresh[3001:3120]]) == {FROZEN_POSITION}
    assert v.fresh[3001:3120].sum() > 100 and not v.trusted[3001:3120].any()
    assert v.suspect_start.sum() == 1 and v.trusted[3120:][v.fresh[3120:]].all()
    # without its own fix time, a repeated position is OpenSky repeating the last one: no fix
    stale = judge(replace(frozen, t_pos_s=np.full(len(one), np.nan)))
    assert not stale.fresh[3001:3120].any() and stale.suspect_start.sum() == 0


def test_a_spoofed_fixed_point_never_ends_its_episode(samples: Path) -> None:
    """Jumped to a point 150 km away and held there (metres of noise) for half an hour: once
    the point is within reach of the last trusted fix, it is still not believed, since it
    does not move while the reported ground speed says 480 kt."""
    sv = read_all(samples / "featured/dreamliner_airfrance.json.gz")
    one = sv.take(sv.icao24 == sv.icao24[0])
    rng = np.random.default_rng(1)
    lat, lon = one.lat_deg.copy(), one.lon_deg.copy()
    n = len(one) - 3000
    lat[3000:] = lat[3000] + 1.35 + rng.normal(0, 5e-5, n)
    lon[3000:] = lon[3000] + rng.normal(0, 5e-5, n)
    v = judge(replace(one, lat_deg=lat, lon_deg=lon))
    spoofed = v.fresh & (np.arange(len(one)) >= 3000)
    assert spoofed.sum() > 1700 and not v.trusted[spoofed].any()
    assert {IMPOSSIBLE_JUMP, FROZEN_POSITION} <= set(v.reason[spoofed])
    assert v.suspect_start.sum() == 1


def test_one_address_in_two_places_at_once(samples: Path) -> None:
    """Another real flight sent under the same address, at the same one-second times."""
    sv = read_all(samples / "collections/quickstart.json.gz")
    addresses, counts = np.unique(sv.icao24, return_counts=True)
    a, b = addresses[np.argsort(-counts)[1:3]]
    real, other = sv.take(sv.icao24 == a), sv.take(sv.icao24 == b)
    twin = other.take(np.flatnonzero(~other.on_ground)[1000:1300])
    twin = replace(twin, icao24=np.full(300, a, np.uint32), t_s=real.t_s[600:900])
    both = StateVectors.concat([real, twin])
    both = both.take(np.lexsort((both.t_s, both.icao24)))
    v = judge(both)
    assert v.suspect_start.sum() >= 1
    assert (v.fresh & ~v.trusted).sum() >= 250  # one of the two, nearly every second


def test_a_glitch_of_one_fix_is_quarantined_without_an_episode(samples: Path) -> None:
    """quickstart's two bad decodes (AFR35YQ 3.6 km off, AFR45HR 1.5 km off, each for one
    fix) are not trusted but raise no suspect episode: spoofing lasts."""
    sv = read_all(samples / "collections/quickstart.json.gz")
    v = judge(sv)
    bad = v.fresh & ~v.trusted
    assert set(sv.icao24[bad].tolist()) == {0x3944EE, 0x3991E0} and bad.sum() == 2
    assert set(v.reason[bad]) == {IMPOSSIBLE_JUMP}
    assert v.suspect_start.sum() == 0
