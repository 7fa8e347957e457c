"""skyfence benchmark: `python -m bench` (add `--quick` for a short run; `--live` runs the live
pipeline benchmark of bench/live.py instead).

Everything is measured in one run, on the same arrays, and reported as ratios, never as absolute
targets: the engine (integrity, containment, state machine, prediction) against traffic's
`Flight.clip` doing the same containment work, a per-point shapely loop, and the floor: a bare
numpy bounding-box test of every point against every zone.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import shapely

from bench.workload import Workload, best_of, workload
from skyfence.engine.collection import fewer_collections
from skyfence.engine.containment import Fixes, evaluate
from skyfence.engine.engine import Engine
from skyfence.engine.zoneset import ZoneSet
from skyfence.settings import EngineSettings
from skyfence.zones.countries import country_of


def bbox_floor(w: Workload) -> float:
    bounds = np.array([z.geometry.bounds for z in w.zones])
    lon, lat = w.sv.lon_deg, w.sv.lat_deg

    def run() -> int:
        hits = 0
        for west, south, east, north in bounds:
            hits += int(
                np.count_nonzero((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
            )
        return hits

    return len(w.sv) / best_of(3, run)


def compile_seconds(w: Workload) -> float:
    return best_of(1, lambda: ZoneSet.compile(w.zones, EngineSettings()))


def engine_rate(w: Workload) -> float:
    """The whole audit of the workload; zones are compiled once, as for any run."""
    zones = ZoneSet.compile(w.zones, EngineSettings())

    def run() -> None:
        with fewer_collections():  # as `skyfence audit` runs the engine
            engine = Engine(zones)
            engine.process(w.sv)
            engine.finish()

    return len(w.sv) / best_of(3, run)


def kernel_rate(w: Workload) -> float:
    """Containment alone (grid look-up, exact tests, band, period, applicability)."""
    zs = ZoneSet.compile(w.zones, EngineSettings())
    sv = w.sv
    alt = np.where(sv.on_ground, -np.inf, sv.alt_baro_ft)
    fx = Fixes(
        sv.t_s,
        sv.lat_deg,
        sv.lon_deg,
        alt,
        sv.gs_kt,
        sv.track_deg,
        sv.vrate_fpm,
        sv.icao24,
        sv.callsign,
        country_of(sv.icao24),
        np.zeros(len(sv), bool),
    )
    return len(sv) / best_of(3, lambda: evaluate(zs, fx, EngineSettings()))


def shapely_loop_rate(w: Workload, points: int) -> float:
    shapes = [z.geometry for z in w.zones]
    for s in shapes:
        shapely.prepare(s)
    idx = np.linspace(0, len(w.sv) - 1, points).astype(int)
    lon, lat = w.sv.lon_deg[idx], w.sv.lat_deg[idx]

    def run() -> int:
        hits = 0
        for x, y in zip(lon, lat, strict=True):
            p = shapely.Point(x, y)
            for s in shapes:
                hits += s.contains(p)
        return hits

    return points / best_of(1, run)


def clip_rate(w: Workload, flights: int) -> float:
    """traffic's way: Flight.clip of each flight to each zone (laterally only, as clip does)."""
    import pandas as pd
    from traffic.core import Flight

    sv = w.sv
    starts = np.flatnonzero(np.append(True, sv.icao24[1:] != sv.icao24[:-1]))
    ends = np.append(starts[1:], len(sv))
    chosen = np.linspace(0, len(starts) - 1, flights).astype(int)
    frames = []
    for g in chosen:
        s = slice(starts[g], ends[g])
        frames.append(
            Flight(
                pd.DataFrame(
                    {
                        "timestamp": pd.to_datetime(sv.t_s[s], unit="s", utc=True),
                        "icao24": [f"{a:06x}" for a in sv.icao24[s]],
                        "callsign": sv.callsign[s],
                        "latitude": sv.lat_deg[s],
                        "longitude": sv.lon_deg[s],
                        "altitude": sv.alt_baro_ft[s],
                    }
                )
            )
        )
    rows = sum(len(f) for f in frames)
    shapes = [z.geometry for z in w.zones]

    def run() -> None:
        for f in frames:
            for shape in shapes:
                f.clip(shape)

    return rows / best_of(1, run)


def report(place: str, quick: bool) -> dict[str, float]:
    w = workload(place)
    aircraft = len(np.unique(w.sv.icao24))
    print(
        f"\n## {place}: {len(w.sv):,} real state vectors of {aircraft} aircraft, "
        f"{len(w.zones)} zones (Ukraine's 6 + 50 others)\n"
    )
    compile_s = compile_seconds(w)
    floor = bbox_floor(w)
    engine = engine_rate(w)
    kernel = kernel_rate(w)
    loop = shapely_loop_rate(w, 2_000 if quick else 10_000)
    clip = clip_rate(w, 5 if quick else 20)
    rows = [
        ("numpy bounding-box floor", floor),
        ("skyfence containment kernel", kernel),
        ("skyfence engine (full audit)", engine),
        ("per-point shapely loop", loop),
        ("traffic Flight.clip", clip),
    ]
    print(f"| {'method':<30} | {'state vectors/s':>16} | {'engine is':>12} |")
    print(f"| {'-' * 30} | {'-' * 15}: | {'-' * 11}: |")
    for name, rate in rows:
        print(f"| {name:<30} | {rate:>16,.0f} | {engine / rate:>11.2f}x |")
    print()
    print(f"- engine vs traffic's Flight.clip: {engine / clip:,.0f}x faster (target >= 150x)")
    print(f"- engine vs bounding-box floor: {floor / engine:.1f}x slower (target <= 10x)")
    print(f"- containment kernel vs floor: {floor / kernel:.1f}x slower")
    print(f"- zone compilation, once per run: {compile_s:.2f} s")
    return {"engine": engine, "floor": floor, "clip": clip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer flights for the slow baselines")
    parser.add_argument(
        "--live",
        action="store_true",
        help="run the live pipeline benchmark instead (bench/live.py; see python -m bench.live "
        "--help: its other options are passed on)",
    )
    args, rest = parser.parse_known_args()
    if args.live:
        from bench.live import main as live_main

        live_main([*rest, *(["--quick"] if args.quick else [])])
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    print(
        f"skyfence benchmark: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}, shapely {shapely.__version__}"
    )
    for place in ("border", "dense"):
        report(place, args.quick)


if __name__ == "__main__":
    main()
