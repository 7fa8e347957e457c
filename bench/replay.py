"""A busy feed replayed at 20x real time through `watch`: does a backlog grow?

    python -m bench.replay [--speed 20] [--minutes 10]

quickstart's 213 aircraft around Paris (real OpenSky state vectors, `--copies` times under other
addresses: 2,130 aircraft by default, a busy receiver's sky) are replayed by the stock
`ReplaySource` at `--speed` times real time through `run_watch`, the engine, the live picture and
the event store (WAL, fsync), as `skyfence watch --speed 20` runs them. At every tick the lag is
how far the engine's clock is behind what the replay has made due; a watcher that keeps up has a
lag bounded by one tick, one that does not sees it grow. The trend is the slope of the lag over
the run (seconds of lag per minute of wall time).

    python -m bench.replay --against-audit [--runs 3]

`skyfence watch --speed 0` (as fast as possible, into an event store) against `skyfence audit` on
the same recording (quickstart, the Paris and Ukraine zones), both as whole processes, interleaved,
best of `--runs`: the target is a replay at least half as fast as the audit, with the same events.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.workload import samples
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore
from skyfence.watching import LivePicture, ReplaySource, run_watch
from skyfence.zones.geojson import load_zones

ZONES = Path(__file__).parents[1] / "tests" / "data" / "paris_zones.geojson"


def against_audit(runs: int) -> None:
    recording = samples() / "collections/quickstart.json.gz"
    zones = ["-z", str(ZONES), "-z", "ukraine"]
    best = {"audit": float("inf"), "watch --speed 0": float("inf")}
    counts: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            store = ["--store", str(Path(tmp) / f"events-{run}.sqlite")]
            commands = {
                "audit": ["audit", str(recording), *zones, "--show", "0"],
                "watch --speed 0": ["watch", "-s", str(recording), *zones, "--speed", "0", *store],
            }
            for name, args in commands.items():
                started = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-m", "skyfence", *args],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                best[name] = min(best[name], time.perf_counter() - started)
                found = re.findall(r"([\d,]+) event", out)
                counts[name] = found[-1] if found else "?"
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; best of {runs}")
    print("| command | wall s | events |")
    print("| --- | ---: | --- |")
    for name, seconds in best.items():
        print(f"| skyfence {name} | {seconds:.2f} | {counts[name]} |")
    ratio = best["audit"] / best["watch --speed 0"]
    verdict = "met" if ratio >= 0.5 else "NOT met"
    print(f"- the replay runs at {ratio:.2f}x the audit's speed (target >= 0.5x: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--minutes", type=float, default=10.0, help="of recording time")
    parser.add_argument("--copies", type=int, default=10, help="of the traffic, relabelled")
    parser.add_argument("--against-audit", action="store_true", help="watch --speed 0 vs audit")
    parser.add_argument("--runs", type=int, default=3, help="with --against-audit")
    args = parser.parse_args()
    if args.against_audit:
        against_audit(args.runs)
        return
    sv = StateVectors.concat(list(read_recording(samples() / "collections/quickstart.json.gz")))
    busy = StateVectors.concat(  # the same real tracks under other addresses: a busier sky
        [dataclasses.replace(sv, icao24=sv.icao24 ^ np.uint32(k << 20)) for k in range(args.copies)]
    )
    source = ReplaySource(busy, speed=args.speed)
    first = source.first_s
    engine = Engine(load_zones(ZONES) + load_zones("ukraine"), keep_judged=True)
    wall: list[float] = []
    lag: list[float] = []
    rows = events = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(Path(tmp) / "events.sqlite")
        picture = LivePicture(engine, [source], store)
        started = time.monotonic()
        stop_at = started + args.minutes * 60 / args.speed

        def on_tick(new: list[Event]) -> None:
            nonlocal events
            picture.tick(new)
            events += len(new)
            now = time.monotonic()
            due = first + (now - started) * args.speed
            wall.append(now - started)
            lag.append(max(0.0, due - engine.clock_s) if np.isfinite(engine.clock_s) else 0.0)

        result = run_watch(
            [source],
            engine,
            [store],
            tick_s=0.1,
            should_stop=lambda: time.monotonic() > stop_at,
            on_tick=on_tick,
        )
        rows = result.rows
        store.close()
    w, g = np.array(wall), np.array(lag)
    half = len(g) // 2
    slope = np.polyfit(w, g, 1)[0] * 60 if len(g) > 2 else 0.0
    elapsed = w[-1] if len(w) else 0.0
    print(
        f"replay at {args.speed:g}x for {args.minutes:g} min of recording "
        f"({elapsed:.1f} s wall): {rows:,} state vectors ({rows / max(elapsed, 1e-9):,.0f}/s), "
        f"{events} events, {len(g)} ticks"
    )
    print(
        f"lag behind the replay (recording seconds): median {np.median(g):.2f}, "
        f"p99 {np.percentile(g, 99):.2f}, max {g.max():.2f}; first half max "
        f"{g[:half].max():.2f}, second half max {g[half:].max():.2f}; "
        f"trend {slope:+.3f} s per wall minute"
    )


if __name__ == "__main__":
    main()
