"""`skyfence watch` as a service, measured: `python -m bench.service` (a few minutes).

docs/deploy.md gives the memory and CPU a receiver's computer needs. They are measured here on
the process an operator runs, `python -m skyfence watch --web`, fed over TCP by the realistic
receiver of `bench/live.py`: a fleet of copies of the real AFR flight at 2,000 frames/s, each
aircraft at real speed, served by another process as readsb would (`bench.live._serve`), with
the route's 45 zones. Sampled every second from /proc: the resident memory (and its peak,
VmHWM) and the CPU time of the whole process (all threads); at the end `/metrics` gives what
the watch itself counted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from bench.live.latency import _serve as serve_fleet
from bench.live.report import commit, load_average, machine
from bench.live.workload import Workload, beast_stream, fleet, fleet_size, route_zones
from skyfence.zones.geojson import zone_display_feature

ZONE_KEYS = ("id", "name", "floor", "ceiling", "lookahead_s", "buffer_m", "radius_m")
CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def zones_file(w: Workload, path: Path) -> None:
    features = []
    for zone in route_zones(w.route):
        feature = zone_display_feature(zone)
        feature["properties"] = {
            k: v for k, v in feature["properties"].items() if k in ZONE_KEYS and v is not None
        }
        features.append(feature)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def proc(pid: int) -> tuple[float, float, float]:
    """Resident MiB, peak resident MiB, CPU seconds (user + system) of `pid`."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rss = int(status["VmRSS"].split()[0]) / 1024
    hwm = int(status["VmHWM"].split()[0]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return rss, hwm, cpu


def metrics(url: str) -> dict[str, float]:
    text = httpx.get(url, timeout=10).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + (
                "{" + ",".join(f"{v}" for v in s.labels.values()) + "}" if s.labels else ""
            )
            out[key] = s.value
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.service", description=__doc__)
    parser.add_argument("--rate", type=float, default=2_000.0, help="frames/s of the feed")
    parser.add_argument("--seconds", type=float, default=300.0, help="seconds of feed")
    parser.add_argument("--port", type=int, default=18_931, help="the watch's web port")
    args = parser.parse_args(argv)
    print(f"skyfence service benchmark: {machine()}; load average {load_average()}; {commit()}")
    w = Workload.load()
    aircraft = fleet_size(w.flight, w.route, args.rate)
    fl = fleet(w.flight, w.route, aircraft, args.seconds)
    data, ends = beast_stream(fl.frames)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "feed.beast").write_bytes(data)
        np.savez(folder / "schedule.npz", ends=ends, due=fl.frames.t - fl.frames.t[0])
        zones_file(w, folder / "zones.geojson")
        ctx = mp.get_context("spawn")
        here, there = ctx.Pipe()
        server = ctx.Process(
            target=serve_fleet,
            args=(str(folder / "feed.beast"), str(folder / "schedule.npz"), 0.01, there),
        )
        server.start()
        feed_port = here.recv()
        lat, lon = fl.receiver
        source = f"beast://127.0.0.1:{feed_port}?receiver={lat:.4f},{lon:.4f}"
        command = [sys.executable, "-m", "skyfence", "watch", "-z", str(folder / "zones.geojson"),
                   "-s", source, "--store", str(folder / "events.sqlite"), "--web",
                   "--port", str(args.port)]  # fmt: skip
        started = time.monotonic()
        with (folder / "watch.out").open("w") as out:
            watch = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        samples = []
        url = f"http://127.0.0.1:{args.port}/metrics"
        during: dict[str, float] = {}
        while time.monotonic() - started < args.seconds + 20:
            time.sleep(1.0)
            samples.append((time.monotonic() - started, *proc(watch.pid)))
            if not during and samples[-1][0] > 0.8 * args.seconds:  # the feed still flowing
                during = metrics(url)
        final = metrics(url)
        health = httpx.get(f"http://127.0.0.1:{args.port}/healthz", timeout=10).status_code
        watch.send_signal(signal.SIGTERM)
        watch.wait(60)
        here.recv()
        here.send("done")
        server.join(10)
        print((folder / "watch.out").read_text()[-400:])
    t, rss, hwm, cpu = (np.array(c) for c in zip(*samples, strict=True))
    steady = t >= 30.0  # after start-up and the first minute of aircraft appearing
    share = np.diff(cpu[steady]) / np.diff(t[steady])
    received = sum(v for k, v in final.items() if k.startswith("skyfence_frames_received_total"))
    print(f"fleet: {aircraft} aircraft, {len(fl.frames):,} frames over {args.seconds:g} s")
    print(f"frames received (metrics): {received:,.0f}; healthz at the end: {health}")
    print(f"events: { {k: v for k, v in final.items() if k.startswith('skyfence_events_total')} }")
    lag = [v for k, v in during.items() if k.startswith("skyfence_feed_lag_seconds")]
    print(f"feed lag with the feed flowing (metrics, at 80 % of it): {lag} s")
    print(f"resident memory: start-up done {rss[min(5, len(rss) - 1)]:.0f} MiB, "
          f"end {rss[-1]:.0f} MiB, peak (VmHWM) {hwm.max():.0f} MiB")  # fmt: skip
    print(f"CPU of one core, steady state: mean {share.mean() * 100:.0f} %, "
          f"p95 {np.percentile(share, 95) * 100:.0f} %, max {share.max() * 100:.0f} %")  # fmt: skip
    count = final.get("skyfence_store_write_latency_seconds_count", 0.0)
    total = final.get("skyfence_store_write_latency_seconds_sum", 0.0)
    print(f"store write latency: {count:.0f} commits, mean {total / max(count, 1) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
