"""Trust, both sides: false spoofing alarms on clean traffic, and spoofers caught.

    python -m bench.trust [--quick]

Clean traffic: traffic's `quickstart` (213 aircraft around Paris, OpenSky, 1 s) and `switzerland`
samples, as recorded and resampled to 5, 10 and 60 s the way OpenSky's state vectors are: at
each multiple of the sample the row carries the newest position whose update reached the
network, which is up to one sample old (a uniform lag), with its own time (`lastposupdate`) in
one variant and stamped with the sample's time in the other. Every quarantined fix there is a
false alarm: reported are suspect episodes (what a `suspect_position` is raised for near a zone)
per 1,000 flights and the share of fixes quarantined.

Spoofing: scenarios built on the longest real flights of quickstart, each switched on at the
middle of the flight: a jump to a fixed point (THY9BP's pattern), a position frozen while the
velocity says the aircraft moves, a slow walk-off at a plausible speed, a circle around a
distant point, and the address in two places at once (another real flight replayed under it).
Each reports how many flights were detected (a suspect episode, what raises a
`suspect_position`), how many spoofed fixes were trusted, and the time from onset to the
episode.

Look-ahead: the share of `predicted_entry` warnings followed by an entry of the same aircraft
into the same zone within five minutes, and their lead time, on quickstart against the Paris
test zones, with the vertical rate ignored (level flight), with it, and with descending paths
ending at the ground (landings). The receiver, for
the receiver-range check, is put at Paris (where quickstart's traffic was heard).
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.workload import samples
from skyfence.arrays import F64
from skyfence.engine import prediction
from skyfence.engine.engine import Engine
from skyfence.schema import StateVectors
from skyfence.sources.receiver import Receiver
from skyfence.sources.recordings import read_recording
from skyfence.tracking.horizon import beyond_horizon
from skyfence.tracking.integrity import REASONS
from skyfence.zones.geojson import load_zones

ZONES = Path(__file__).parents[1] / "tests" / "data" / "paris_zones.geojson"
SAMPLINGS = (1.0, 5.0, 10.0, 60.0)
PARIS = (48.8566, 2.3522)  # lat, lon
RECEIVER = Receiver(*PARIS, 100.0)  # the receiver of the scenarios, a roof in Paris
SEED = 11


def clean(name: str) -> StateVectors:
    sv = StateVectors.concat(list(read_recording(samples() / "collections" / name)))
    return sv.take(np.lexsort((sv.t_s, sv.icao24)))


def resample(sv: StateVectors, step_s: float, pos_time: bool, seed: int = SEED) -> StateVectors:
    """OpenSky-like state vectors every `step_s` from 1 s rows sorted by (icao24, t_s).

    Each aircraft gets a row at every multiple of `step_s` in its span: velocity and altitude
    of the newest row at that time, the position of the newest row at least a random lag
    (uniform over one sample) earlier. `pos_time` keeps that position's own time in `t_pos_s`;
    otherwise the position is stamped with the sample's time, as a source without
    `lastposupdate` gives it."""
    # the recording repeats a position until a new one arrives: a fix's own time is the time
    # of the first row that carries it
    moved = np.ones(len(sv), bool)
    moved[1:] = (
        (sv.icao24[1:] != sv.icao24[:-1])
        | (sv.lat_deg[1:] != sv.lat_deg[:-1])
        | (sv.lon_deg[1:] != sv.lon_deg[:-1])
    )
    own_t = sv.t_s[np.maximum.accumulate(np.where(moved, np.arange(len(sv)), 0))]
    own_t = np.where(np.isfinite(sv.t_pos_s), sv.t_pos_s, own_t)  # a scenario's own fix times
    if step_s <= 1.0:
        return replace(sv, t_pos_s=own_t if pos_time else np.full(len(sv), np.nan))
    rng = np.random.default_rng(seed)
    starts = np.flatnonzero(np.append(True, sv.icao24[1:] != sv.icao24[:-1]))
    ends = np.append(starts[1:], len(sv))
    picks_v: list[npt.NDArray[np.int64]] = []
    picks_p: list[npt.NDArray[np.int64]] = []
    grid: list[F64] = []
    for lo, hi in zip(starts, ends, strict=True):  # once per aircraft
        t = sv.t_s[lo:hi]
        at = np.arange(math.ceil(t[0] / step_s) * step_s, t[-1] + 1e-9, step_s)
        if len(at) == 0:
            continue
        lag = rng.uniform(0.0, step_s, len(at))
        v = np.searchsorted(t, at, side="right") - 1
        p = np.searchsorted(t, at - lag, side="right") - 1
        ok = p >= 0
        picks_v.append(lo + v[ok])
        picks_p.append(lo + p[ok])
        grid.append(at[ok])
    v_rows, p_rows, t_at = np.concatenate(picks_v), np.concatenate(picks_p), np.concatenate(grid)
    out = sv.take(v_rows)
    return replace(
        out,
        t_s=t_at,
        lat_deg=sv.lat_deg[p_rows],
        lon_deg=sv.lon_deg[p_rows],
        squawk=sv.squawk[p_rows],  # a scenario's mark of a spoofed position goes with it
        t_pos_s=own_t[p_rows] if pos_time else np.full(len(p_rows), np.nan),
    )


@dataclass
class Run:
    fixes: int
    quarantined: int
    episodes: int
    aircraft: int
    first_suspect: dict[int, float]  # address -> time of its first suspect episode
    reasons: dict[str, int]  # reasons of those episodes
    leaked: int  # spoofed fixes trusted


def run(
    sv: StateVectors,
    since: dict[int, float] | None = None,
    receiver: Receiver | None = None,
) -> Run:
    """The engine over `sv` in 60 s batches (as a watch would), counting verdicts."""
    engine = Engine(load_zones(ZONES), keep_judged=True)
    order = np.argsort(sv.t_s, kind="stable")
    sv = sv.take(order)
    cuts = np.searchsorted(sv.t_s, np.arange(sv.t_s[0], sv.t_s[-1] + 60.0, 60.0))
    for lo, hi in zip(cuts[:-1], np.append(cuts[1:-1], len(sv)), strict=True):
        if hi > lo:
            batch = sv.take(np.arange(lo, hi))
            engine.process(batch, None if receiver is None else beyond_horizon(batch, receiver))
    engine.finish()
    result = Run(0, 0, 0, len(np.unique(sv.icao24)), first_suspect={}, reasons={}, leaked=0)
    for j in engine.take_judged():
        v = j.verdicts
        result.fixes += int(v.fresh.sum())
        bad = v.fresh & ~v.trusted
        result.quarantined += int(bad.sum())
        result.episodes += int(v.suspect_start.sum())
        if since is None:
            continue
        result.leaked += int((v.trusted & (j.sv.squawk == TAG)).sum())
        for r in np.flatnonzero(v.suspect_start):
            a = int(j.sv.icao24[r])
            onset = since.get(a)
            if onset is None or j.t_fix[r] < onset:
                continue
            if a not in result.first_suspect:
                why = REASONS[int(v.reason[r])]
                result.reasons[why] = result.reasons.get(why, 0) + 1
            result.first_suspect[a] = min(result.first_suspect.get(a, math.inf), j.t_fix[r])
    return result


# -- spoofing scenarios, on 1 s rows of one aircraft (sorted by time) ----------------------

M_PER_DEG = 111_320.0


def offset(lat: F64, lon: F64, north_m: F64, east_m: F64) -> tuple[F64, F64]:
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * np.cos(np.radians(lat)))


def jump(sv: StateVectors, on: npt.NDArray[np.bool_]) -> StateVectors:
    """THY9BP: the position moves to one place (here 150 km north-east), with metres of noise."""
    rng = np.random.default_rng(SEED)
    n = int(on.sum())
    lat0, lon0 = offset(
        sv.lat_deg[on][:1], sv.lon_deg[on][:1], np.array([1.06e5]), np.array([1.06e5])
    )
    lat, lon = offset(
        np.full(n, lat0[0]), np.full(n, lon0[0]), rng.normal(0, 5, n), rng.normal(0, 5, n)
    )
    return _spoofed(sv, on, lat, lon)


def frozen(sv: StateVectors, on: npt.NDArray[np.bool_]) -> StateVectors:
    """The position stops where it was at onset; speed and track go on as before."""
    first = np.flatnonzero(on)[0]
    n = int(on.sum())
    spoofed = _spoofed(sv, on, np.full(n, sv.lat_deg[first]), np.full(n, sv.lon_deg[first]))
    # each repeat is sent as a new fix: with its own time where the source has one
    return replace(spoofed, t_pos_s=np.where(on, sv.t_s, np.nan))


def walk_off(sv: StateVectors, on: npt.NDArray[np.bool_], kt: float = 150.0) -> StateVectors:
    """The position drifts away from the receiver at `kt` on top of the true motion: every
    step plausible for an airliner (1.5 x ground speed + 100 kt allowed)."""
    t = sv.t_s[on] - sv.t_s[on][0]
    lat, lon = sv.lat_deg[on], sv.lon_deg[on]
    north, east = (
        (lat - PARIS[0]) * M_PER_DEG,
        (lon - PARIS[1]) * M_PER_DEG * math.cos(math.radians(PARIS[0])),
    )
    away = np.hypot(north, east)
    d = kt * 1852 / 3600 * t
    lat, lon = offset(lat, lon, d * north / away, d * east / away)
    return _spoofed(sv, on, lat, lon)


def circle(sv: StateVectors, on: npt.NDArray[np.bool_]) -> StateVectors:
    """Positions on a 10 km circle, flown at 250 kt, around a point 120 km south-west."""
    t = sv.t_s[on] - sv.t_s[on][0]
    lat_c, lon_c = offset(
        sv.lat_deg[on][:1], sv.lon_deg[on][:1], np.array([-8.5e4]), np.array([-8.5e4])
    )
    angle = t * (250 * 1852 / 3600) / 10_000.0
    lat, lon = offset(
        np.full(len(t), lat_c[0]),
        np.full(len(t), lon_c[0]),
        1e4 * np.cos(angle),
        1e4 * np.sin(angle),
    )
    return _spoofed(sv, on, lat, lon)


TAG = "7777"  # the squawk of spoofed rows, to count those the engine trusted


def _spoofed(sv: StateVectors, on: npt.NDArray[np.bool_], lat: F64, lon: F64) -> StateVectors:
    la, lo = sv.lat_deg.copy(), sv.lon_deg.copy()
    la[on], lo[on] = lat, lon
    return replace(sv, lat_deg=la, lon_deg=lo, squawk=np.where(on, TAG, sv.squawk))


Scenario = Callable[[StateVectors, npt.NDArray[np.bool_]], StateVectors]
SCENARIOS: dict[str, Scenario] = {
    "jump to a fixed point": jump,
    "frozen position": frozen,
    "walk-off at 150 kt": walk_off,
    "circle around a point": circle,
}


def victims(sv: StateVectors, count: int) -> list[StateVectors]:
    """The `count` longest airborne stretches without a gap of a minute, one per aircraft
    (the same every run): a spoofer switched on at mid-stretch meets an established track."""
    air = sv.take(~sv.on_ground & np.isfinite(sv.lat_deg))
    cut = np.append(True, (air.icao24[1:] != air.icao24[:-1]) | (np.diff(air.t_s) > 60.0))
    bounds = np.append(np.flatnonzero(cut), len(air))
    stretches = sorted(
        (
            (int(hi - lo), int(air.icao24[lo]), int(lo), int(hi))
            for lo, hi in itertools.pairwise(bounds)
        ),
        reverse=True,
    )
    chosen: dict[int, tuple[int, int]] = {}
    for _, address, lo, hi in stretches:
        if address not in chosen and len(chosen) < count:
            chosen[address] = (lo, hi)
    return [air.take(np.arange(lo, hi)) for lo, hi in chosen.values()]


def scenario_rows(
    flights: list[StateVectors], name: str, step_s: float, pos_time: bool
) -> tuple[StateVectors, dict[int, float]]:
    out, since = [], {}
    for k, f in enumerate(flights):
        onset = float(f.t_s[len(f) // 2])
        on = f.t_s >= onset
        if name == "two places at once":
            other = flights[(k + 1) % len(flights)]
            shift = onset - float(other.t_s[len(other) // 3])
            twin = replace(
                other,
                icao24=f.icao24[: len(other)]
                if len(f) >= len(other)
                else np.full(len(other), f.icao24[0]),
                t_s=other.t_s + shift,
            )
            twin = twin.take(twin.t_s >= onset)
            twin = replace(twin, squawk=np.full(len(twin), TAG))
            out += [resample(f, step_s, pos_time), resample(twin, step_s, pos_time, SEED + 1)]
        else:
            out.append(resample(SCENARIOS[name](f, on), step_s, pos_time))
        since[int(f.icao24[0])] = onset
    return StateVectors.concat(out), since


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="quickstart only, 5 flights a scenario"
    )
    args = parser.parse_args()
    sets = {"quickstart": clean("quickstart.json.gz")}
    if not args.quick:
        sets["switzerland"] = clean("switzerland.json.gz")
    print("## clean traffic: false suspect episodes per 1,000 flights, share of fixes quarantined")
    print("| data | sampling | position time | flights | fixes | episodes /1,000 | quarantined |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for name, sv in sets.items():
        for step in SAMPLINGS:
            for pos_time in (True, False):
                r = run(
                    resample(sv, step, pos_time),
                    receiver=RECEIVER if name == "quickstart" else None,
                )
                print(
                    f"| {name} | {step:g} s | {'own' if pos_time else 'sample'} | {r.aircraft} "
                    f"| {r.fixes:,} | {1000 * r.episodes / r.aircraft:.1f} "
                    f"| {100 * r.quarantined / max(r.fixes, 1):.3f} % |"
                )
    look_ahead(sets["quickstart"])
    flights = victims(sets["quickstart"], 5 if args.quick else 20)
    print()
    print("## spoofing scenarios on real flights (onset at mid-flight)")
    print(
        "| scenario | sampling | position time | detected | spoofed fixes trusted "
        "| to detection (median, max) | first reason |"
    )
    print("| --- | --- | --- | ---: | ---: | --- | --- |")
    for name in [*SCENARIOS, "two places at once"]:
        for step in SAMPLINGS:
            for pos_time in (True, False):
                rows, since = scenario_rows(flights, name, step, pos_time)
                r = run(rows, since, receiver=RECEIVER)
                delays = [r.first_suspect[a] - since[a] for a in since if a in r.first_suspect]
                timing = f"{np.median(delays):.0f} s, {max(delays):.0f} s" if delays else "-"
                print(
                    f"| {name} | {step:g} s | {'own' if pos_time else 'sample'} "
                    f"| {len(delays)}/{len(since)} | {r.leaked:,} | {timing} "
                    f"| {', '.join(sorted(r.reasons))} |"
                )


def warnings_followed(sv: StateVectors) -> tuple[int, int, float]:
    """(warnings, warnings followed by an entry within 300 s, median lead time of those)."""
    engine = Engine(load_zones(ZONES))
    events = engine.process(sv) + engine.finish()
    entries: dict[tuple[str, str], list[float]] = {}
    for e in events:
        if e.kind == "entry":
            entries.setdefault((e.icao24, e.zone_id), []).append(e.t_s)
    warnings = [e for e in events if e.kind == "predicted_entry"]
    leads = []
    for w in warnings:
        later = [t for t in entries.get((w.icao24, w.zone_id), []) if w.t_s <= t <= w.t_s + 300]
        if later:
            leads.append(later[0] - w.t_s)
    return len(warnings), len(leads), float(np.median(leads)) if leads else math.nan


def look_ahead(sv: StateVectors) -> None:
    print()
    print("## look-ahead: warnings followed by an entry (quickstart, Paris test zones)")
    print("| look-ahead | warnings | followed by an entry | share | median lead |")
    print("| --- | ---: | ---: | ---: | ---: |")
    level = replace(sv, vrate_fpm=np.full(len(sv), np.nan))
    ground = prediction.GROUND_FT
    try:
        prediction.GROUND_FT = -math.inf  # the path never ends: the look-ahead before
        runs = [("level flight assumed", level), ("vertical rate, path never ends", sv)]
        rows = [(name, *warnings_followed(data)) for name, data in runs]
    finally:
        prediction.GROUND_FT = ground
    rows.append(("vertical rate, path ends at the ground", *warnings_followed(sv)))
    for name, n, hits, lead in rows:
        print(f"| {name} | {n} | {hits} | {100 * hits / max(n, 1):.0f} % | {lead:.0f} s |")


if __name__ == "__main__":
    main()
