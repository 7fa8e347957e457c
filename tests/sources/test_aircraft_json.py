"""aircraft.json polled from a real HTTP server on 127.0.0.1, serving snapshots made from traffic's
quickstart recording the way readsb makes them: the latest state of each aircraft at second k,
with `seen` and `seen_pos` from the real times. Request i gets response i (the last one again
for any later request), so repeats, errors and recoveries happen at known places."""

from __future__ import annotations

import gzip
import json
import random
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from skyfence.schema import StateVectors
from skyfence.sources.aircraft_json import (
    MAX_BODY_BYTES,
    AircraftJsonSource,
    AircraftJsonStats,
    parse_aircraft_json,
)
from skyfence.sources.recordings import read_recording

SECONDS = 12  # snapshots served
WINDOW_S = 60.0  # aircraft heard within this are listed, as readsb keeps them
NON_ICAO = "~c0ffee"
NO_POSITION = "c0ffee"


@pytest.fixture(scope="module")
def recording(samples: Any) -> StateVectors:
    sv = StateVectors.concat(list(read_recording(samples / "collections" / "quickstart.json.gz")))
    return sv.take(np.argsort(sv.t_s, kind="stable"))


@pytest.fixture(scope="module")
def t0(recording: StateVectors) -> float:
    """The busiest second: most aircraft, some of them on the ground."""
    seconds, counts = np.unique(np.floor(recording.t_s), return_counts=True)
    return float(seconds[np.argmax(counts)])


def latest(sv: StateVectors, now: float) -> StateVectors:
    """Each aircraft's last row at `now` (last in file order within a second), as readsb has."""
    rows = np.flatnonzero((sv.t_s <= now) & (sv.t_s > now - WINDOW_S))
    _, last = np.unique(sv.icao24[rows][::-1], return_index=True)
    return sv.take(rows[::-1][last])


def snapshot(sv: StateVectors, now: float) -> dict[str, Any]:
    """An aircraft.json document: readsb's field names and units, NaN fields left out."""
    snap = latest(sv, now)
    aircraft: list[dict[str, Any]] = []
    for i in range(len(snap)):
        entry: dict[str, Any] = {
            "hex": f"{int(snap.icao24[i]):06x}",
            "flight": f"{snap.callsign[i]:<8}",
            "lat": float(snap.lat_deg[i]),
            "lon": float(snap.lon_deg[i]),
            "alt_baro": "ground" if snap.on_ground[i] else float(snap.alt_baro_ft[i]),
            "alt_geom": float(snap.alt_geo_ft[i]),
            "gs": float(snap.gs_kt[i]),
            "track": float(snap.track_deg[i]),
            "baro_rate": float(snap.vrate_fpm[i]),
            "squawk": str(snap.squawk[i]),
            "seen": now - float(snap.t_s[i]),
            "seen_pos": now - float(snap.t_s[i]),
            "messages": 10,
        }
        aircraft.append({k: v for k, v in entry.items() if v == v and v != ""})  # no NaN
    aircraft.append({**aircraft[0], "hex": NON_ICAO})  # TIS-B: a non-ICAO address
    aircraft.append({"hex": NO_POSITION, "alt_baro": 3000, "seen": 0.5})  # Mode S only
    return {"now": now, "messages": 1000, "aircraft": aircraft}


def expected_fixes(sv: StateVectors, times: list[float]) -> StateVectors:
    """The distinct fixes the snapshots at `times` show, one row each."""
    snaps = StateVectors.concat([latest(sv, now) for now in times])
    _, first = np.unique(np.stack([snaps.icao24, snaps.t_s]), axis=1, return_index=True)
    return sorted_rows(snaps.take(first))


def sorted_rows(sv: StateVectors) -> StateVectors:
    return sv.take(np.lexsort((sv.fix_time_s(), sv.icao24)))


Response = tuple[int, bytes]


class Server:
    """HTTP on a 127.0.0.1 port; request i gets responses[i], the last one again after that."""

    def __init__(self, responses: list[Response], port: int = 0, delay_s: float = 0.0) -> None:
        self.responses = responses
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = server.responses[min(server.requests, len(server.responses) - 1)]
                server.requests += 1
                time.sleep(delay_s)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/data/aircraft.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5.0)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.close()


class Ceiling(random.Random):
    """Jitter at its upper bound, so the backoff's growth is visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


def body(doc: dict[str, Any]) -> Response:
    return 200, json.dumps(doc).encode()


def poll_until(
    source: AircraftJsonSource, done: Any, limit_s: float = 8.0, timeout_s: float = 0.1
) -> list[StateVectors]:
    """Poll as a watch loop does, checking no call waits longer than asked."""
    batches: list[StateVectors] = []
    stop = time.monotonic() + limit_s
    while not done() and time.monotonic() < stop:
        started = time.monotonic()
        batch = source.next_batch(timeout_s)
        assert time.monotonic() - started < timeout_s + 0.1  # waiting bounded (+ parse time)
        batches.append(batch)
    assert done(), "timed out"
    return batches


def assert_same_fixes(got: StateVectors, want: StateVectors) -> None:
    got = sorted_rows(got)
    assert len(got) == len(want)
    np.testing.assert_array_equal(got.icao24, want.icao24)
    np.testing.assert_array_equal(got.t_pos_s, want.t_s)  # the real fix times
    np.testing.assert_array_equal(got.t_s, want.t_s)
    for name in ("lat_deg", "lon_deg", "alt_geo_ft", "gs_kt", "track_deg", "vrate_fpm"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(got.callsign, want.callsign)
    np.testing.assert_array_equal(got.squawk, want.squawk)
    np.testing.assert_array_equal(got.on_ground, want.on_ground)
    alt = np.where(want.on_ground, np.nan, want.alt_baro_ft)  # "ground" carries no altitude
    np.testing.assert_array_equal(got.alt_baro_ft, alt)


def test_polls_return_each_real_fix_once(
    recording: StateVectors, t0: float, servers: list[Server]
) -> None:
    times = [t0 + k for k in range(SECONDS)]
    docs = [body(snapshot(recording, now)) for now in times]
    served = [docs[0], docs[1], docs[1], *docs[2:], docs[-1]]  # a repeat mid-way and at the end
    servers.append(server := Server(served))
    with AircraftJsonSource(server.url, poll_s=0.01) as source:
        batches = poll_until(source, lambda: server.requests >= len(served) + 1)
    got = StateVectors.concat(batches)
    want = expected_fixes(recording, times)
    assert want.on_ground.any() and (~want.on_ground).any()
    assert_same_fixes(got, want)
    assert len(np.unique(np.stack([got.icao24, got.t_pos_s]), axis=1).T) == len(got)
    assert int(NO_POSITION, 16) not in got.icao24
    s = source.status
    assert s.failures == s.failed_polls == 0 and s.last_error is None
    assert s.vectors == len(got) and s.repeated > 0
    assert s.document.non_icao == s.ok and s.document.no_position == s.ok
    assert s.document.malformed == 0


def test_errors_are_survived_and_polling_recovers(
    recording: StateVectors, t0: float, servers: list[Server]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:  # a port, then closed: refused
        port = probe.getsockname()[1]
    source = AircraftJsonSource(
        f"http://127.0.0.1:{port}/data/aircraft.json",
        poll_s=0.01,
        rng=Ceiling(),
        backoff_base_s=0.01,
        backoff_max_s=0.2,
    )
    delays: list[float] = []

    def refused_thrice() -> bool:
        if source.status.failures > len(delays):
            delays.append(source.status.retry_delay_s)
        return source.status.failures >= 3

    assert not len(StateVectors.concat(poll_until(source, refused_thrice)))
    assert delays == [0.01, 0.02, 0.04]  # the full-jitter ceiling doubles each time
    assert "refused" in (source.status.last_error or "").lower()

    times = [t0, t0 + 1]
    served = [
        (500, b"internal error"),
        (200, b"<html>not json</html>"),
        (200, b'{"now": 1}'),  # JSON, but no aircraft list
        body(snapshot(recording, times[0])),
        body(snapshot(recording, times[1])),
    ]
    servers.append(server := Server(served, port=port))
    batches = poll_until(source, lambda: server.requests >= len(served) + 1)
    source.close()
    s = source.status
    assert s.failed_polls == 6 and s.failures == 0  # 3 refused, 500, garbage, not aircraft.json
    assert s.ok >= 2 and s.polls == s.ok + s.failed_polls
    assert s.retry_delay_s == 0.2  # capped at backoff_max_s by the sixth failure
    errors = "\n".join(s.errors)
    assert "500" in errors and "not JSON" in errors and 'no "aircraft" list' in errors
    assert_same_fixes(StateVectors.concat(batches), expected_fixes(recording, times))
    assert not len(source.next_batch(0.01))  # closed


def test_slow_server_never_blocks_the_caller(
    recording: StateVectors, t0: float, servers: list[Server]
) -> None:
    servers.append(server := Server([body(snapshot(recording, t0))], delay_s=0.4))
    with AircraftJsonSource(server.url, poll_s=5.0) as source:
        started = time.monotonic()
        assert not len(source.next_batch(0.05))  # the poll is still running
        assert time.monotonic() - started < 0.2
        batches = poll_until(source, lambda: source.status.ok == 1, timeout_s=0.05)
        assert_same_fixes(StateVectors.concat(batches), expected_fixes(recording, [t0]))
        started = time.monotonic()
        assert not len(source.next_batch(0.05))  # the next poll is not due for 5 s
        assert 0.04 < time.monotonic() - started < 0.2
    assert server.requests == 1
    assert source.exhausted is False


def test_parse_units_ground_and_bad_entries() -> None:
    doc = {
        "now": 1_700_000_010.0,
        "aircraft": [
            {
                "hex": "4BAAC6",
                "flight": "THY9BP  ",
                "lat": 41.2,
                "lon": 28.7,
                "alt_baro": 36000,
                "alt_geom": 36525,
                "gs": 451.3,
                "track": 287.5,
                "geom_rate": -64,  # no baro_rate: the GNSS rate stands in
                "squawk": "1000",
                "nic": 8,
                "nac_p": 10,
                "seen": 0.2,
                "seen_pos": 1.7,
            },
            {"hex": "3c6444", "lat": 50.03, "lon": 8.55, "alt_baro": "ground", "gs": 12},
            {"hex": "~2a0b1c", "lat": 1.0, "lon": 2.0},  # non-ICAO: skipped
            {"hex": "3c6445", "alt_baro": 12000, "seen": 3.0},  # no position
            {"hex": "lastpo", "lat": 1.0, "lon": 2.0},  # not hex
            {"hex": "3c6446", "lat": "48", "lon": 2.0},  # not a number
            {"hex": "3c6447", "lat": 95.0, "lon": 2.0},  # out of range
            "junk",
        ],
    }
    stats = AircraftJsonStats()
    sv = parse_aircraft_json(json.dumps(doc).encode(), stats)
    assert stats == AircraftJsonStats(aircraft=8, vectors=2, no_position=1, non_icao=1, malformed=4)
    assert sv.icao24.tolist() == [0x4BAAC6, 0x3C6444]
    assert sv.t_s.tolist() == [1_700_000_009.8, 1_700_000_010.0]
    assert sv.t_pos_s[0] == 1_700_000_010.0 - 1.7 and np.isnan(sv.t_pos_s[1])
    assert sv.callsign.tolist() == ["THY9BP", ""]
    assert sv.alt_baro_ft[0] == 36000 and np.isnan(sv.alt_baro_ft[1])
    assert sv.on_ground.tolist() == [False, True]
    assert sv.alt_geo_ft[0] == 36525 and sv.gs_kt.tolist() == [451.3, 12.0]
    assert sv.track_deg[0] == 287.5 and sv.vrate_fpm[0] == -64
    assert sv.squawk.tolist() == ["1000", ""] and sv.nic.tolist() == [8, -1]
    assert sv.nacp.tolist() == [10, -1]
    assert parse_aircraft_json(doc).icao24.tolist() == sv.icao24.tolist()  # dict in, same out
    assert len(parse_aircraft_json(b'{"now": 5, "aircraft": []}')) == 0


def test_an_altitude_no_transponder_can_report_makes_the_entry_malformed(
    recording: StateVectors, t0: float
) -> None:
    """A real snapshot with one aircraft at 1e300 ft and one 10^6 ft underground: those two are
    malformed entries (one such entry made an event the store could not hold, and the watch
    stopped); every other aircraft reads as it does in the clean snapshot."""
    clean = snapshot(recording, t0)
    hostile = json.loads(json.dumps(clean))
    hostile["aircraft"][0]["alt_baro"] = 1e300
    hostile["aircraft"][1]["alt_geom"] = -1e6
    stats, clean_stats = AircraftJsonStats(), AircraftJsonStats()
    got = parse_aircraft_json(hostile, stats)
    want = parse_aircraft_json(clean, clean_stats)
    assert stats.malformed == clean_stats.malformed + 2
    assert stats.vectors == clean_stats.vectors - 2 == len(got) == len(want) - 2
    np.testing.assert_array_equal(got.icao24, want.icao24[2:])
    np.testing.assert_array_equal(got.alt_baro_ft, want.alt_baro_ft[2:])


@pytest.mark.parametrize(
    "raw", [b"", b"<html>", b"\xff\xfe", b"[1, 2]", b'{"aircraft": []}', b"\x1f\x8bxx"]
)
def test_parse_rejects_what_is_not_aircraft_json(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r"aircraft\.json"):
        parse_aircraft_json(raw)


def test_same_fix_with_rounded_times_is_not_returned_twice(servers: list[Server]) -> None:
    """readsb rounds now and seen_pos to 0.1 s: one fix can look 0.1 s newer next time."""
    fix = {"hex": "4baac6", "lat": 41.2, "lon": 28.7, "alt_baro": 36000}
    docs = [
        {"now": 100.0, "aircraft": [{**fix, "seen": 0.0, "seen_pos": 0.0}]},
        {"now": 101.1, "aircraft": [{**fix, "seen": 0.1, "seen_pos": 1.0}]},  # same fix
        {"now": 102.0, "aircraft": [{**fix, "lat": 41.3, "seen": 0.0, "seen_pos": 0.0}]},
    ]
    servers.append(server := Server([body(d) for d in docs]))
    with AircraftJsonSource(server.url, poll_s=0.01) as source:
        got = StateVectors.concat(poll_until(source, lambda: server.requests >= 4))
    assert got.t_pos_s.tolist() == [100.0, 102.0] and got.lat_deg.tolist() == [41.2, 41.3]


def gzip_bomb(head: bytes, filler: bytes, size: int, tail: bytes) -> bytes:
    """`head`, `size` bytes of `filler`, `tail`, gzipped without ever holding the whole."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = filler * ((1 << 22) // len(filler))
    parts = [deflate.compress(head)]
    parts += [deflate.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, deflate.compress(tail), deflate.flush()])


def test_a_gzip_bomb_is_refused_in_bounded_memory_and_polling_recovers(
    recording: StateVectors, t0: float, servers: list[Server]
) -> None:
    """A real snapshot padded with 400 MiB of blanks inside the JSON: a ~400 KiB gzip body,
    under the body cap; decompressing it whole took 1 GB of RSS on every poll. It is refused
    once it inflates past MAX_BODY_BYTES, and the next (gzipped, real) snapshot is read."""
    doc = json.dumps(snapshot(recording, t0)).encode()
    bomb = gzip_bomb(doc[:-1], b" ", 400 << 20, b"}")
    assert len(bomb) < MAX_BODY_BYTES // 100
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"aircraft\.json: gzip body inflates to more than"):
            parse_aircraft_json(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_BODY_BYTES  # the capped output, and the JSON never parsed
    served = [(200, bomb), (200, gzip.compress(doc))]
    servers.append(server := Server(served))
    with AircraftJsonSource(server.url, poll_s=0.01, backoff_base_s=0.01) as source:
        got = StateVectors.concat(poll_until(source, lambda: source.status.ok >= 1))
    assert "inflates to more than" in (source.status.errors[0])
    assert_same_fixes(got, expected_fixes(recording, [t0]))
