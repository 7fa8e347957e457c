"""The API under load: 100 concurrent clients against the real server over the demo's store.

    python -m bench.api [--clients 100] [--seconds 20]

The server is `skyfence serve` in its own process on 127.0.0.1, the clients run in this one on
an asyncio loop (httpx): client and server share the 2 cores, so the figures are a floor for a
server with a machine of its own. Each client loops over what the map asks for: the live
aircraft, the newest events, one event with its track, the zones, the status.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from typer.testing import CliRunner

from skyfence.cli import app
from skyfence.store.events import EventStore
from skyfence.store.rows import EventFilter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client(
    base: str, event_id: str, until: float, latencies: dict[str, list[float]], errors: list[str]
) -> None:
    paths = {
        "aircraft": "api/aircraft",
        "events": "api/events?limit=50",
        "event": f"api/events/{event_id}",
        "zones": "api/zones",
        "status": "api/status",
    }
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.perf_counter() < until:
            for name, path in paths.items():
                started = time.perf_counter()
                response = await http.get(path)
                latencies[name].append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(f"{path}: {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.sqlite"
        run = CliRunner().invoke(app, ["demo", "--no-web", "--store", str(path)])
        assert run.exit_code == 0, run.output
        with EventStore(path) as store:
            event_id = store.query(EventFilter(kind="suspect_position"))[0].id
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        server = subprocess.Popen(
            [sys.executable, "-m", "skyfence", "serve", "--store", str(path), "--port", str(port)],
            stdout=subprocess.DEVNULL,
        )
        while True:
            try:
                httpx.get(base + "api/status", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        latencies: dict[str, list[float]] = {
            k: [] for k in ("aircraft", "events", "event", "zones", "status")
        }
        errors: list[str] = []
        until = time.perf_counter() + args.seconds

        async def everyone() -> None:
            await asyncio.gather(
                *(client(base, event_id, until, latencies, errors) for _ in range(args.clients))
            )

        started = time.perf_counter()
        asyncio.run(everyone())
        elapsed = time.perf_counter() - started
        server.terminate()
        server.wait()
    every = np.concatenate([np.array(v) for v in latencies.values()]) * 1000
    print(f"{args.clients} clients for {elapsed:.1f} s: {len(every):,} requests, "
          f"{len(every) / elapsed:,.0f} requests/s, {len(errors)} errors")  # fmt: skip
    print(f"{'endpoint':10} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in [*latencies.items(), ("all", list(every / 1000))]:
        ms = np.array(values) * 1000
        print(
            f"{name:10} {len(ms):9,} {np.percentile(ms, 50):8.1f} {np.percentile(ms, 99):8.1f} "
            f"{ms.max():8.1f}"
        )


if __name__ == "__main__":
    main()
