"""Live pipeline benchmark: `python -m bench.live` (add `--quick` for a run under a minute).

Issue 3, item 8 asks for the sustained frames/s through decode + track + detect, the p99 delay
from a frame's arrival to its event in the store, and a ratio against a per-message pyModeS
loop, all on the same real frames. So everything here starts from the real samples of the
`traffic` package, and every figure of one run is measured in that run:

1. Frames. `rs1090/full_flight_short.jsonl` (one Air France flight, Paris-CDG to Toulouse,
   57,793 raw frames over 80 minutes) and `dump1090/sample_dump1090.bin` (239 frames of a real
   Beast capture near Toulouse, whose DF11 all-calls the flight file lacks), looped in time. The
   flight file stores short replies padded to 28 digits: they are cut to 14, as a receiver sends.
2. Throughput. The looped frames are encoded as a Beast stream and pushed through the stages of
   the live pipeline (`BeastParser`, `FrameDecoder`, `Engine.process`) in batches, each stage
   timed alone and then all together; the pyModeS loops decode the same frames one by one.
3. Cost of one batch. The live loop decodes each socket read as a batch, so the fixed cost of
   a small batch, and how it grows with the aircraft tracked, sets its CPU use and latency.
4. Latency. A Beast server in another process replays a fleet (copies of the flight under
   other addresses, spread along the route, so that many aircraft fly at once, each at real
   speed) over TCP on 127.0.0.1 into the real `watch` pipeline (FeedSource, run_watch,
   EventStore in a temporary folder). The server logs when it wrote each frame; the store
   stamps each event row (`inserted_at`); a commit listener gives the time the commit was on
   disk.

Why a fleet rather than one flight at K times real time for latency: the live pipeline stamps
frames with their arrival time, so one aircraft sped up K times would move K times faster than
its reported ground speed, and the integrity checks would rightly quarantine it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

from bench.live.latency import latency
from bench.live.report import (
    batch_table,
    commit,
    latency_table,
    load_average,
    machine,
    pct,
    throughput_table,
)
from bench.live.throughput import E2E, LOOP, batch_costs, profile, profile_small_batches, throughput
from bench.live.workload import RESULTS, Workload, check_encoder, fleet_size


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer loops, shorter replays")
    parser.add_argument("--loops", type=int, help="flight loops for throughput (10; quick 2)")
    parser.add_argument("--batch", type=int, default=50_000, help="frames per decode batch")
    parser.add_argument("--rate", type=float, default=2_000.0, help="realistic frames/s")
    parser.add_argument("--stress-rate", type=float, default=20_000.0, help="stressed frames/s")
    parser.add_argument("--seconds", type=float, help="seconds of each replay (60; quick 10)")
    parser.add_argument("--tick", type=float, default=0.5, help="run_watch tick_s (its default)")
    parser.add_argument("--flush", type=float, default=0.01, help="server write interval, s")
    parser.add_argument("--store-dir", help="folder for the temporary event store")
    parser.add_argument("--profile", action="store_true", help="only cProfile one pass")
    parser.add_argument("--write", action="store_true", help=f"append the results to {RESULTS}")
    args = parser.parse_args(argv)
    loops = args.loops or (2 if args.quick else 10)
    seconds = args.seconds or (10.0 if args.quick else 60.0)

    check_encoder()
    started = datetime.now(UTC)
    header = f"{machine()}; load average {load_average()} at the start; skyfence {commit()}"
    print(f"skyfence live benchmark: {header}")
    w = Workload.load()
    if args.profile:
        print(f"## one end-to-end pass, {loops} loops, batches of {args.batch:,}, replies='all'")
        print(profile(w, loops, args.batch, "all"))
        aircraft = fleet_size(w.flight, w.route, args.rate)
        print(f"## {aircraft} aircraft at {args.rate:g} frames/s, 10-frame batches, live decoder")
        print(profile_small_batches(w, aircraft, 10))
        return

    tp = throughput(w, loops, 1 if args.quick else 3, 1 if args.quick else 3, args.batch)
    lines = throughput_table(tp, w.zone_count)
    print("\n" + "\n".join(lines))
    sizes = (10, 100, 1_000) if args.quick else (10, 100, 1_000, 10_000)
    fleets = [fleet_size(w.flight, w.route, r) for r in (args.rate, args.stress_rate)]
    costs = batch_costs(w, fleets, sizes, 0.5 if args.quick else 2.0)
    cost_lines = batch_table(costs)
    print("\n" + "\n".join(cost_lines))
    runs = [
        latency(label, w, rate, seconds, args.tick, args.flush, args.store_dir)
        for label, rate in (("realistic", args.rate), ("stressed", args.stress_rate))
    ]
    lat_lines = latency_table(runs)
    print("\n" + "\n".join(lat_lines))

    e2e = tp.rates[E2E]
    p99 = {r.label: pct(r.to_row_ms, 99) for r in runs}
    verdict = [
        "",
        f"- end to end, the live configuration (replies='all') {e2e:,.0f} frames/s: target "
        f">= 500,000 {'met' if e2e >= 500_000 else 'NOT met'}",
        f"- against the pyModeS loop on the same frames: {e2e / tp.rates[LOOP]:.2f}x: target "
        f">= 2x {'met' if e2e >= 2 * tp.rates[LOOP] else 'NOT met'}",
        *(
            f"- p99 frame written -> event row, {label}: {value:.1f} ms: target < 100 ms "
            f"{'met' if value < 100 else 'NOT met'}"
            for label, value in p99.items()
        ),
        f"- load average at the end: {load_average()}",
    ]
    print("\n".join(verdict))
    if args.write:
        command = "python -m bench.live" + (" --quick" if args.quick else "")
        section = [
            "",
            f"## Live pipeline, {started:%Y-%m-%d %H:%M} UTC: `{command}`",
            "",
            f"{header}.",
            "",
            "### Throughput",
            "",
            *lines,
            "",
            "### Cost of one batch",
            "",
            *cost_lines,
            "",
            f"### Latency ({seconds:g} s replays, tick_s {args.tick:g}, the server writes "
            f"every {args.flush * 1000:g} ms)",
            "",
            *lat_lines,
            *verdict,
            "",
        ]
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n".join(section))


if __name__ == "__main__":
    main()
