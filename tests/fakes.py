"""Fakes the tests share: a scripted receiver on 127.0.0.1, SBS lines from state vectors, gzip
bombs, and `watch` run as a real subprocess."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

if TYPE_CHECKING:
    from skyfence.schema import StateVectors

HOLD = "hold"  # end of a script: keep the connection open (silent) until the server stops
CLOSE = "close"  # hang up at once (the script's end does too)
Step = bytes | str | threading.Event


class Receiver:
    """A receiver on a 127.0.0.1 port (a free one by default): connection i plays scripts[i]
    (the last script again for any later connection)."""

    def __init__(self, scripts: list[list[Step]], port: int = 0) -> None:
        self.scripts = scripts
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.accepted = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            script = self.scripts[min(self.accepted, len(self.scripts) - 1)]
            self.accepted += 1
            worker = threading.Thread(target=self._play, args=(conn, script), daemon=True)
            self.threads.append(worker)
            worker.start()

    def _play(self, conn: socket.socket, script: list[Step]) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            try:
                for step in script:
                    if isinstance(step, threading.Event):
                        step.wait(60.0)
                    elif step == HOLD:
                        self.stop.wait(60.0)
                    elif step == CLOSE:
                        return
                    elif isinstance(step, bytes):
                        conn.sendall(step)
            except OSError:  # the client went away (killed): its end is gone
                pass

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5.0)
        self.listener.close()


def sbs_line(kind: int, icao: int, t: float, fields: dict[int, str]) -> str:
    when = datetime.fromtimestamp(t, tz=UTC)
    date, clock = when.strftime("%Y/%m/%d"), when.strftime("%H:%M:%S.%f")[:-3]
    row = ["MSG", str(kind), "1", "1", f"{icao:06X}", "1", date, clock, date, clock]
    row += [""] * 12
    for index, value in fields.items():
        row[index] = value
    return ",".join(row)


OPENSKY_HEADER = (
    b"time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,"
    b"baroaltitude,geoaltitude,lastposupdate,lastcontact\n"
)


def gzip_bomb(path: Path, head: bytes, filler: bytes, size: int) -> Path:
    """`head` then `size` bytes of `filler`, gzipped at deflate's best ratio (~1,000x),
    never holding the whole in memory."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = filler * ((1 << 22) // len(filler))
    with path.open("wb") as f:
        f.write(deflate.compress(head))
        for _ in range(size // len(chunk)):
            f.write(deflate.compress(chunk))
        f.write(deflate.flush())
    return path


def identity_reply(frame: str, squawk: str) -> str:
    """A real DF5 identity reply with its code replaced by `squawk`: the ID field re-encoded
    (ICAO Annex 10 bit order C1 A1 C2 A2 C4 A4 X B1 D1 B2 D2 B4 D4) and the address/parity
    field recomputed, as a transponder would send it."""
    from pyModeS.util import crc

    a, b, c, d = (int(x) for x in squawk)
    bits = [c & 1, a & 1, c >> 1 & 1, a >> 1 & 1, c >> 2 & 1, a >> 2 & 1, 0]
    bits += [b & 1, d & 1, b >> 1 & 1, d >> 1 & 1, b >> 2 & 1, d >> 2 & 1]
    head = int(frame[:8], 16) & ~0x1FFF | int("".join(map(str, bits)), 2)
    address = crc(frame[:14])  # the parity field hides the address: data CRC xor address
    body = f"{head:08x}"
    return body + f"{crc(body + '000000') ^ address:06x}"


# A real flight, Air France 393322 from CDG, as rs1090 frames (the `traffic` samples)
SQUAWKING_FLIGHT = "rs1090/full_flight_short.jsonl"


def squawking(samples: Path, out: Path, stretches: list[range], code: str = "7700") -> list[float]:
    """A copy of the flight whose identity replies number `stretches` (counted among DF5
    replies) say `code`; the times of those replies."""
    lines = (samples / SQUAWKING_FLIGHT).read_text().splitlines()
    replies = [i for i, line in enumerate(lines) if '"df":"5"' in line]
    changed = sorted(replies[k] for stretch in stretches for k in stretch)
    for i in changed:
        record = json.loads(lines[i])
        record["frame"] = identity_reply(record["frame"], code)
        record["squawk"] = code
        lines[i] = json.dumps(record)
    out.write_text("\n".join(lines) + "\n")
    return [json.loads(lines[i])["timestamp"] for i in changed]


AFR_FLIGHT = Path(__file__).parents[1] / "skyfence/samples/af_cdg_tls_2024-07-06.jsonl.gz"
# 2024-07-06: 1600 s after the recording's first frame the AFR flight to Toulouse flies south at
# FL186 past 48.40 N 2.14 E; this box's northern edge is crossed about 10 s later
AFR_CROSSING_ZONE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"id": "SOUTH-OF-PARIS", "floor": "SFC", "ceiling": "FL450"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[1.6, 47.9], [2.6, 47.9], [2.6, 48.385], [1.6, 48.385], [1.6, 47.9]]
                ],
            },
        }
    ],
}


class PacedBeast:
    """A window of the real AFR flight served as a Beast feed at real speed, a second of frames
    at a time from the first connection on (frames are stamped with their arrival time: faster
    would make the aircraft fly faster than it says, and be quarantined). Then the connection
    stays open, silent, until `close`."""

    def __init__(self, start_s: float = 1600.0, seconds: int = 20) -> None:
        import gzip
        import json

        with gzip.open(AFR_FLIGHT) as lines:
            rows = [json.loads(line) for line in lines]
        t0 = rows[0]["timestamp"]
        seconds_of = [[r["frame"] for r in rows if int(r["timestamp"] - t0 - start_s) == i]
                      for i in range(seconds)]  # fmt: skip
        self.frames = sum(len(part) for part in seconds_of)
        self.ticks = [threading.Event() for _ in range(seconds)]
        script: list[Step] = []
        for tick, part in zip(self.ticks, seconds_of, strict=True):
            script += [tick, beast_bytes(part)]
        self.receiver = Receiver([[*script, HOLD]])
        self.port = self.receiver.port
        self._pacer = threading.Thread(target=self._pace, daemon=True)
        self._pacer.start()

    def _pace(self) -> None:
        while self.receiver.accepted == 0 and not self.receiver.stop.is_set():
            time.sleep(0.01)
        start = time.monotonic()
        for i, tick in enumerate(self.ticks):
            delay = start + i - time.monotonic()
            if self.receiver.stop.wait(max(delay, 0.0)):
                return
            tick.set()

    def close(self) -> None:
        for tick in self.ticks:
            tick.set()
        self.receiver.close()


def beast_bytes(frames: list[str]) -> bytes:
    """Mode S frames as Beast messages (no MLAT clock, full signal), 0x1a escaped."""
    out = bytearray()
    for frame in frames:
        body = b"\x00" * 6 + b"\xff" + bytes.fromhex(frame)
        out += b"\x1a" + (b"3" if len(frame) == 28 else b"2") + body.replace(b"\x1a", b"\x1a\x1a")
    return bytes(out)


def free_port() -> int:
    """A port free on 127.0.0.1 now (a server started later may still race for it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ROOT = Path(__file__).parents[1]  # this checkout


def run_skyfence(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m skyfence ARGS` to its end, its output captured; this checkout's skyfence
    whatever `cwd` is."""
    return subprocess.run(
        [sys.executable, "-m", "skyfence", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **(env or {})},
    )


class SkyfenceProcess:
    """`python -m skyfence ARGS` with stdout and stderr in files: piped, as under systemd, and a
    full pipe cannot block it. The `watches` fixture (conftest) kills what a test leaves running."""

    command: tuple[str, ...] = ()  # what comes before ARGS

    def __init__(
        self,
        tmp_path: Path,
        *args: str | Path,
        name: str = "watch",
        env: dict[str, str] | None = None,
    ) -> None:
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "skyfence", *self.command, *map(str, args)],
                stdout=out,
                stderr=err,
                env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", **(env or {})},
            )

    def output(self) -> str:
        return f"stdout:\n{self.out.read_text()}\nstderr:\n{self.err.read_text()}"

    def wait_for(self, done: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
        """Poll `done` until it holds; the process exiting first, or the limit, fails the test
        with its output (a generous limit: the machine is shared)."""
        end = time.monotonic() + limit_s
        while not done():
            if self.process.poll() is not None:
                raise AssertionError(f"exited while waiting for {what}\n{self.output()}")
            if time.monotonic() > end:
                raise AssertionError(f"gave up on {what} after {limit_s} s\n{self.output()}")
            time.sleep(0.05)

    def wait_until_serving(self, url: str) -> None:
        """Until `url`api/status answers 200: the web server is up."""

        def serving() -> bool:
            try:
                return httpx.get(f"{url}api/status", timeout=1).status_code == 200
            except httpx.TransportError:  # not listening yet
                return False

        self.wait_for(serving, f"the web server at {url}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(20.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5.0)
            raise AssertionError(f"did not stop on signal {sig}\n{self.output()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5.0)


class WatchProcess(SkyfenceProcess):
    """`python -m skyfence watch ARGS`, as `SkyfenceProcess`."""

    command = ("watch",)


@contextlib.contextmanager
def serving(
    tmp_path: Path, *args: str | Path, name: str = "watch", env: dict[str, str] | None = None
) -> Iterator[str]:
    """`python -m skyfence ARGS --port PORT` (a free port) while its web server answers: yields
    the server's URL, and stops the process after."""
    port = free_port()
    process = SkyfenceProcess(tmp_path, *args, "--port", str(port), name=name, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        process.wait_until_serving(url)
        yield url
    finally:
        process.stop()


def page_errors(page: Any) -> list[str]:
    """The console errors and uncaught exceptions of a Playwright page, from now on."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def assert_same(a: StateVectors, b: StateVectors) -> None:
    """Two readings of the same traffic hold the same state vectors, column by column."""
    assert len(a) == len(b)
    for name in ("t_s", "lat_deg", "lon_deg", "alt_baro_ft", "gs_kt", "track_deg", "vrate_fpm"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("icao24", "callsign", "squawk", "on_ground", "nic", "nacp"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist(), name


def audited(result: Any) -> dict[str, Any]:
    """What every path of an audit must find alike on the same data (an `AuditResult`'s
    numbers, without how long it took nor what ran it)."""
    names = ("counts", "rows", "fixes", "trusted", "suspect", "aircraft", "first_s", "last_s")
    return {name: getattr(result, name) for name in names}
