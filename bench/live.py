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
import contextlib
import cProfile
import io
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rs1090

from bench.workload import best_of, samples
from skyfence.decoding.classify import Replies, classify
from skyfence.decoding.frames import FrameDecoder
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.engine.zoneset import ZoneSet
from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings
from skyfence.sources.beast import MODE_AC, BeastParser
from skyfence.store.events import EventStore
from skyfence.watching import FeedAdapter, run_watch
from skyfence.zones.geojson import load_zones, zones_from_geojson
from skyfence.zones.model import Zone

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
STR = npt.NDArray[np.str_]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PARIS_ZONES = ROOT / "tests" / "data" / "paris_zones.geojson"
CDG = (49.0097, 2.5479)  # the receiver of the flight file is near Paris-CDG
FLIGHT_ADDRESS = 0x393322
MLAT_HZ = 12e6
ESC = 0x1A
RECV_BYTES = 1 << 16  # what one socket read of the live pipeline returns at most


# -- frames -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frames:
    """Raw Mode S frames with their reception times, in time order."""

    t: F64  # UNIX seconds
    hex: STR  # lower-case hex, 14 or 28 digits

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @staticmethod
    def concat(parts: Sequence[Frames]) -> Frames:
        t = np.concatenate([p.t for p in parts])
        order = np.argsort(t, kind="stable")
        return Frames(t[order], np.concatenate([p.hex for p in parts]).astype("U28")[order])

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self) else 0.0


_NIBBLE = np.zeros(128, np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
_HEX_CODES = np.frombuffer(b"0123456789abcdef", np.uint8).astype(np.uint32)


def hex_to_bytes(frames: STR) -> U8:
    """(n, 14) bytes of hex frames, zero past the end of short ones."""
    codes = np.ascontiguousarray(frames.astype("U28")).view(np.uint32).reshape(-1, 28)
    nib = _NIBBLE[np.minimum(codes, 127)]
    return np.asarray((nib[:, 0::2] << 4) | nib[:, 1::2], np.uint8)


def bytes_to_hex(rows: U8, long: npt.NDArray[np.bool_]) -> STR:
    """Hex strings of (n, 14) byte rows: 28 digits where `long`, else the first 14."""
    digits = np.empty((rows.shape[0], 28), np.uint32)
    digits[:, 0::2] = _HEX_CODES[rows >> 4]
    digits[:, 1::2] = _HEX_CODES[rows & 15]
    digits[~long, 14:] = 0  # numpy strings are NUL-padded: this is a 14-digit string
    return digits.view("U28").ravel()


def downlink_format(frames: STR) -> I64:
    return (hex_to_bytes(frames)[:, 0] >> 3).astype(np.int64)


def flight_frames() -> Frames:
    """The flight file's frames; short replies (DF < 16) cut to their 14 digits."""
    rows = [json.loads(line) for line in (samples() / "rs1090/full_flight_short.jsonl").open()]
    t = np.array([r["timestamp"] for r in rows], np.float64)
    hex_ = np.array([r["frame"].lower() for r in rows], "U28")
    short = downlink_format(hex_) < 16
    hex_[short] = hex_[short].astype("U14")
    order = np.argsort(t, kind="stable")
    return Frames(t[order], hex_[order])


def beast_sample() -> tuple[bytes, Frames, npt.NDArray[np.uint64], U8]:
    """The Beast capture: its bytes, its Mode S frames (time from the 12 MHz counter, from 0),
    and their counter and signal values, to check the encoder against the real bytes."""
    data = (samples() / "dump1090/sample_dump1090.bin").read_bytes()
    found = BeastParser().feed(data)
    if (found.msg_type == MODE_AC).any():
        raise RuntimeError("the Beast sample has Mode A/C frames: the encoder check assumes none")
    t = (found.mlat_ticks - found.mlat_ticks[0]).astype(np.float64) / MLAT_HZ
    return data, Frames(t, found.frame.astype("U28")), found.mlat_ticks, found.signal


def looped(flight: Frames, extra: Frames, loops: int, gap_s: float) -> Frames:
    """`loops` copies of the flight one after the other, `extra` (relative times) at the start
    of each. Addresses are left as they are: the gap is longer than the engine's
    `forget_after_s`, so each loop is a new appearance of the same aircraft, not a jump."""
    period = flight.duration_s + gap_s
    parts = []
    for k in range(loops):
        shift = k * period
        parts.append(Frames(flight.t + shift, flight.hex))
        parts.append(Frames(flight.t[0] + extra.t + shift, extra.hex))
    return Frames.concat(parts)


# -- Beast encoding -----------------------------------------------------------------------------


def encode_beast(frames: STR, ticks: npt.NDArray[np.uint64], signal: U8) -> tuple[bytes, I64]:
    """A Beast stream of Mode S frames, and the byte offset where each message ends.

    Vectorised: each message is laid out in a fixed row (esc, type, 6 counter bytes, signal,
    payload), then every 0x1a after the leading escape is doubled with one np.repeat.
    """
    n = frames.shape[0]
    size = np.char.str_len(frames) // 2
    rows = np.zeros((n, 23), np.uint8)
    rows[:, 0] = ESC
    rows[:, 1] = np.where(size == 14, ord("3"), ord("2"))
    rows[:, 2:8] = ticks.astype(">u8").view(np.uint8).reshape(n, 8)[:, 2:]
    rows[:, 8] = signal
    rows[:, 9:] = hex_to_bytes(frames)
    present = np.arange(23)[None, :] < (9 + size)[:, None]
    doubled = (rows == ESC) & present
    doubled[:, 0] = False
    repeats = present.astype(np.int64) + doubled
    stream = np.repeat(rows.ravel(), repeats.ravel())
    return stream.tobytes(), np.cumsum(repeats.sum(axis=1))


def beast_stream(frames: Frames) -> tuple[bytes, I64]:
    """Frames as a receiver would send them: counter from their times, a constant signal."""
    ticks = np.round((frames.t - frames.t[0]) * MLAT_HZ).astype(np.uint64) + np.uint64(1)
    return encode_beast(frames.hex, ticks, np.full(len(frames), 0x80, np.uint8))


def check_encoder() -> None:
    """Our encoder must give back the real capture's bytes, or the benchmark feeds garbage."""
    data, frames, ticks, signal = beast_sample()
    encoded, _ = encode_beast(frames.hex, ticks, signal)
    if encoded != data:
        raise RuntimeError("the Beast encoder does not reproduce sample_dump1090.bin")


# -- a fleet: the flight under other addresses --------------------------------------------------

_POLY = 0x1FFF409  # the Mode S CRC-24 generator


def _crc24(message: int, bits: int) -> int:
    """The parity of a message whose last 24 bits (the parity field) are zero."""
    for i in range(bits - 1, 23, -1):
        if message >> i & 1:
            message ^= _POLY << (i - 24)
    return message & 0xFFFFFF


# Parity change caused by flipping each bit of the address field (bits 8-31 of the message).
_SYNDROME = {
    bits: np.array([_crc24(1 << (bits - 32 + b), bits) for b in range(24)], np.uint32)
    for bits in (56, 112)
}
_ADDRESS_IN_DATA = (11, 17, 18)  # address field + CRC parity
_ADDRESS_IN_PARITY = (0, 4, 5, 16, 20, 21)  # parity = CRC xor address


def readdress(frames: STR, delta: U32) -> STR:
    """The frames as if sent by the address XOR `delta` (per frame), parity kept valid.

    The Mode S CRC is linear, so the new parity is the old one XOR the CRC of the change:
    for DF11/17/18 the address is in the data, for the replies it is overlaid on the parity.
    """
    b = hex_to_bytes(frames)
    df = b[:, 0] >> 3
    long = df >= 16
    size = np.where(long, 14, 7)
    in_data = np.isin(df, _ADDRESS_IN_DATA)
    change = np.zeros(b.shape[0], np.uint32)
    for bit in range(24):
        flip = ((delta >> bit) & 1).astype(bool) & in_data
        change[flip] ^= np.where(long[flip], _SYNDROME[112][bit], _SYNDROME[56][bit])
    change[np.isin(df, _ADDRESS_IN_PARITY)] = delta[np.isin(df, _ADDRESS_IN_PARITY)]
    rows = np.arange(b.shape[0])
    for i in range(3):
        b[in_data, 1 + i] ^= ((delta[in_data] >> (16 - 8 * i)) & 0xFF).astype(np.uint8)
        b[rows, size - 3 + i] ^= ((change >> (16 - 8 * i)) & 0xFF).astype(np.uint8)
    return bytes_to_hex(b, long)


@dataclass(frozen=True)
class Route:
    """The flight's decoded airborne track: where to put zones, and where a fleet can fly."""

    t: F64
    lat: F64
    lon: F64

    @staticmethod
    def of(flight: Frames) -> Route:
        sv = FrameDecoder(CDG, replies="none").decode(flight.t, flight.hex)
        air = ~sv.on_ground & np.isfinite(sv.lat_deg)
        return Route(sv.t_s[air], sv.lat_deg[air], sv.lon_deg[air])

    @property
    def receiver(self) -> tuple[float, float]:
        """A receiver position within 180 NM of the whole route (the middle of its box), so
        that the first position of every copy of a fleet can be decoded locally against it:
        local CPR decoding is only valid within 180 NM, and a real receiver hears little
        farther. (The flight file's receiver, at CDG, is 330 NM from Toulouse.)"""
        lat = (self.lat.min() + self.lat.max()) / 2
        lon = (self.lon.min() + self.lon.max()) / 2
        far_nm = np.hypot(self.lat - lat, (self.lon - lon) * np.cos(np.radians(lat))).max() * 60
        if far_nm >= 175:
            raise RuntimeError(f"the route is {far_nm:.0f} NM from its middle: no receiver fits")
        return float(lat), float(lon)


@dataclass(frozen=True)
class Fleet:
    frames: Frames
    address: U32  # the aircraft of each frame
    aircraft: int
    receiver: tuple[float, float]


def fleet(flight: Frames, route: Route, aircraft: int, seconds: float) -> Fleet:
    """`aircraft` copies of the flight flying at once, each at real speed: copy j (address
    FLIGHT_ADDRESS ^ j) is replayed from a point of the airborne part of the flight spread
    evenly along it, for `seconds`. All copies start at the same instant, in the air, as a
    monitor (re)started in busy airspace sees them: a steady state, not a ramp."""
    up, down = float(route.t[0]), float(route.t[-1])
    phases = up + (np.arange(aircraft) + 0.5) / aircraft * (down - up - seconds)
    start = float(flight.t[-1]) + 7200.0  # any instant; after the real flight
    parts, deltas = [], []
    for j, phase in enumerate(phases.tolist(), start=1):
        lo, hi = np.searchsorted(flight.t, [phase, phase + seconds])
        parts.append(Frames(flight.t[lo:hi] - phase + start, flight.hex[lo:hi]))
        deltas.append(np.full(hi - lo, j, np.uint32))
    t = np.concatenate([p.t for p in parts])
    order = np.argsort(t, kind="stable")
    delta = np.concatenate(deltas)[order]
    address = (FLIGHT_ADDRESS ^ delta).astype(np.uint32)
    hex_ = readdress(np.concatenate([p.hex for p in parts]).astype("U28")[order], delta)
    _check_readdressed(hex_[:2000], address[:2000])
    return Fleet(Frames(t[order], hex_), address, aircraft, route.receiver)


def fleet_size(flight: Frames, route: Route, rate_fps: float) -> int:
    """Aircraft needed for a feed of `rate_fps` frames a second."""
    return max(2, round(rate_fps / airborne_rate(flight, route)))


def airborne_rate(flight: Frames, route: Route) -> float:
    """Frames a second of one aircraft of the fleet (the flight, while airborne)."""
    lo, hi = np.searchsorted(flight.t, [route.t[0], route.t[-1]])
    return float(hi - lo) / float(route.t[-1] - route.t[0])


def _check_readdressed(frames: STR, address: U32) -> None:
    """pyModeS, independently, must find the new address in every rewritten frame."""
    from pyModeS.util import crc

    for frame, want in zip(frames.tolist(), address.tolist(), strict=True):
        df = int(frame[:2], 16) >> 3
        got = crc(frame) if df in _ADDRESS_IN_PARITY else int(frame[2:8], 16)
        if got != want or (df in _ADDRESS_IN_DATA and crc(frame) != 0):
            raise RuntimeError(f"readdressed frame {frame} does not carry {want:06x}")


# -- zones --------------------------------------------------------------------------------------


def route_zones(route: Route, count: int = 40, radius_m: float = 4000.0) -> list[Zone]:
    """Circles centred on the route, evenly spaced along it, plus the Paris test zones.

    They are placed on the flight's own decoded positions so the flight really crosses them.
    Alternate circles are SFC-UNL and FL100-FL250, so both lateral and vertical crossings occur.
    """
    lat, lon = route.lat, route.lon
    step = np.hypot(np.diff(lat) * 111_195.0, np.diff(lon) * 111_195.0 * np.cos(np.radians(46.0)))
    along = np.concatenate(([0.0], np.cumsum(step)))
    at = np.searchsorted(along, np.linspace(0.05, 0.95, count) * along[-1])
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
            "properties": {
                "id": f"ROUTE-{k:02d}",
                "radius_m": radius_m,
                "floor": "SFC" if k % 2 == 0 else "FL100",
                "ceiling": "UNL" if k % 2 == 0 else "FL250",
                "lookahead_s": 60,
            },
        }
        for k, i in enumerate(at.tolist())
    ]
    route_set = zones_from_geojson({"type": "FeatureCollection", "features": features}, "route")
    return load_zones(PARIS_ZONES) + route_set


# -- the pyModeS baselines ----------------------------------------------------------------------


def pymodes_loop(frames: Frames, adsb_only: bool) -> tuple[float, int]:
    """What a hobbyist decoder does, frame by frame, with pyModeS 3: `util.df`, `util.icao`,
    `util.typecode`, then `Message.decode` for the ADS-B messages skyfence uses (TC 1-22, 28,
    29, 31; positions with a reference: the aircraft's last position, else the receiver's),
    and `util.altcode` / `util.idcode` for the DF4/20 and DF5/21 replies (not `decode`, whose
    Comm-B inference a hobbyist wanting altitude and squawk does not need).

    Returns frames/s and the positions decoded.
    """
    from pyModeS import Message, util

    last: dict[str, tuple[float, float]] = {}
    state: dict[str, dict[str, Any]] = {}
    positions = 0
    start = time.perf_counter()
    for hex_ in frames.hex.tolist():
        df = util.df(hex_)
        if df in (17, 18):
            icao, tc = util.icao(hex_), util.typecode(hex_)
            if icao is None or tc is None:
                continue
            if 5 <= tc <= 8:
                d = Message(hex_).decode(surface_ref=last.get(icao, CDG))
            elif 9 <= tc <= 18 or 20 <= tc <= 22:
                d = Message(hex_).decode(reference=last.get(icao, CDG))
            elif 1 <= tc <= 4 or tc in (19, 28, 29, 31):
                d = Message(hex_).decode()
            else:
                continue
            if "latitude" in d:
                last[icao] = (d["latitude"], d["longitude"])
                positions += 1
            state.setdefault(icao, {}).update(d)
        elif adsb_only:
            continue
        elif df in (4, 20):
            state.setdefault(util.icao(hex_) or "", {})["altitude"] = util.altcode(hex_)
        elif df in (5, 21):
            state.setdefault(util.icao(hex_) or "", {})["squawk"] = util.idcode(hex_)
    return len(frames) / (time.perf_counter() - start), positions


def pymodes_pipe(frames: Frames) -> tuple[float, int]:
    """pyModeS's own streaming decoder (even/odd pairing, local decoding), one call a frame."""
    import pyModeS

    pipe = pyModeS.PipeDecoder(surface_ref=CDG)
    positions = 0
    start = time.perf_counter()
    for hex_, t in zip(frames.hex.tolist(), frames.t.tolist(), strict=True):
        if "latitude" in pipe.decode(hex_, timestamp=t):
            positions += 1
    return len(frames) / (time.perf_counter() - start), positions


# -- skyfence's path, stage by stage ------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """What every measurement of a run shares: the frames, the route and the zones."""

    flight: Frames
    extra: Frames  # the Beast sample's frames, times from 0
    route: Route
    zones: ZoneSet
    zone_count: int

    @staticmethod
    def load() -> Workload:
        flight = flight_frames()
        route = Route.of(flight)
        zones = route_zones(route)
        compiled = ZoneSet.compile(zones, EngineSettings())
        return Workload(flight, beast_sample()[1], route, compiled, len(zones))

    def looped(self, loops: int) -> Frames:
        return looped(self.flight, self.extra, loops, EngineSettings().forget_after_s + 60.0)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for first in range(0, len(data), size):
        yield bytes(view[first : first + size])


def frame_mix(frames: Frames) -> dict[str, int]:
    """Where the frames go before decoding: what `classify` keeps, and what it drops."""
    b = hex_to_bytes(frames.hex)
    df, tc = b[:, 0] >> 3, b[:, 4] >> 3
    kind = classify(frames.hex, replies="all").kind
    adsb = (df == 17) | (df == 18)
    replies = np.isin(df, (4, 5, 20, 21))
    return {
        "other DF (0, 11, 16, ...): dropped": int((~adsb & ~replies).sum()),
        "DF4/5 replies (altitude, squawk)": int(np.isin(df, (4, 5)).sum()),
        "DF20/21 replies (altitude, squawk + Comm-B)": int(np.isin(df, (20, 21)).sum()),
        "ADS-B, type codes not needed: dropped": int((adsb & (kind == 0)).sum()),
        "ADS-B, needed (TC 1-22, 28, 29, 31)": int((adsb & (kind > 0)).sum()),
        "... of which positions (TC 5-18, 20-22)": int(
            (adsb & (((tc >= 5) & (tc <= 18)) | ((tc >= 20) & (tc <= 22)))).sum()
        ),
    }


@dataclass
class Pass:
    """One end-to-end pass: bytes in, events out, and the time of each stage."""

    seconds: float = 0.0
    frames: int = 0
    vectors: int = 0
    events: Counter[str] = field(default_factory=Counter)
    stage_s: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))


def end_to_end(
    data: bytes,
    start_s: float,
    zones: ZoneSet,
    batch: int,
    replies: Replies,
    reference: tuple[float, float] = CDG,
) -> Pass:
    """Bytes -> Beast framing -> FrameDecoder -> Engine.process, `batch` frames at a time, as
    the live pipeline does (there, a batch is whatever arrived during the previous one)."""
    result = Pass()
    parser = BeastParser()
    decoder = FrameDecoder(reference, replies=replies)
    engine = Engine(zones)
    pending_t: list[F64] = []
    pending: list[STR] = []
    held = 0
    clock = time.perf_counter

    def run_batch() -> None:
        nonlocal held
        t0 = clock()
        t, frames = np.concatenate(pending_t), np.concatenate(pending).astype("U28")
        pending_t.clear()
        pending.clear()
        held = 0
        sv = decoder.decode(t, frames)
        t1 = clock()
        events = engine.process(sv)
        events += engine.advance_clock(engine.clock_s)
        result.stage_s["decode"] += t1 - t0
        result.stage_s["engine"] += clock() - t1
        result.vectors += len(sv)
        result.events.update(e.kind for e in events)

    start = clock()
    for block in chunks(data, RECV_BYTES):
        t0 = clock()
        found = parser.feed(block)
        mode_s = found.take(found.msg_type != MODE_AC)
        # time from the counter, as the recording readers do (the live feed stamps arrivals)
        t = start_s + mode_s.mlat_ticks.astype(np.float64) / MLAT_HZ
        result.stage_s["framing"] += clock() - t0
        pending_t.append(t)
        pending.append(mode_s.frame)
        held += len(mode_s)
        result.frames += len(mode_s)
        if held >= batch:
            run_batch()
    if held:
        run_batch()
    result.events.update(e.kind for e in engine.finish())
    result.seconds = clock() - start
    return result


@dataclass
class Throughput:
    frames: int
    loops: int
    batch: int
    mix: dict[str, int]
    rates: dict[str, float]  # frames/s by method
    passes: dict[str, Pass]
    positions: dict[str, int]  # positions decoded per loop, pyModeS vs skyfence


E2E = "skyfence end to end, replies='none' (ADS-B only)"


def throughput(
    w: Workload, loops: int, repeats: int, baseline_loops: int, batch: int
) -> Throughput:
    """Every method on the looped frames (the pyModeS loops on the first `baseline_loops`)."""
    feed = w.looped(loops)
    data, _ = beast_stream(feed)
    n = len(feed)
    rates: dict[str, float] = {}

    base = w.looped(baseline_loops)
    rates["pyModeS loop, ADS-B only"], pms_positions = pymodes_loop(base, adsb_only=True)
    rates["pyModeS loop, ADS-B + DF4/5/20/21"], _ = pymodes_loop(base, adsb_only=False)
    rates["pyModeS PipeDecoder, every frame"], _ = pymodes_pipe(base)

    def framing() -> None:
        parser = BeastParser()
        for block in chunks(data, RECV_BYTES):
            parser.feed(block)

    rates["Beast framing alone (64 KiB reads)"] = n / best_of(repeats, framing)
    rates["classify alone (DF/TC filter, hex strings)"] = n / best_of(
        repeats, lambda: classify(feed.hex, replies="none")
    )
    all_replies: tuple[Replies, ...] = ("none", "all")
    for replies in all_replies:

        def decode(replies: Replies = replies) -> None:
            decoder = FrameDecoder(CDG, replies=replies)
            for first in range(0, n, batch):
                decoder.decode(feed.t[first : first + batch], feed.hex[first : first + batch])

        rates[f"FrameDecoder alone, replies={replies!r}"] = n / best_of(repeats, decode)

    needed = classify(feed.hex, replies="none")
    kept = np.flatnonzero(needed.kind > 0)
    kept_hex, kept_t = needed.frames[kept].tolist(), feed.t[kept].tolist()
    rates["ceiling: rs1090.decode alone on the needed ADS-B frames"] = n / best_of(
        repeats, lambda: rs1090.decode(kept_hex, kept_t, reference=CDG)
    )

    passes: dict[str, Pass] = {}
    configurations: tuple[tuple[Replies, str], ...] = (
        ("none", E2E),
        ("all", "skyfence end to end, replies='all' (live)"),
    )
    for replies, label in configurations:
        runs = [end_to_end(data, feed.t[0], w.zones, batch, replies) for _ in range(repeats)]
        passes[label] = min(runs, key=lambda p: p.seconds)
        rates[label] = passes[label].frames / passes[label].seconds
    label = "skyfence end to end, replies='none', 1,000-frame batches"
    passes[label] = end_to_end(data, feed.t[0], w.zones, 1_000, "none")
    rates[label] = passes[label].frames / passes[label].seconds
    positions = {
        "pyModeS loop": pms_positions // baseline_loops,
        "skyfence": passes[E2E].vectors // loops,
    }
    return Throughput(n, loops, batch, frame_mix(feed), rates, passes, positions)


@dataclass(frozen=True)
class BatchCost:
    aircraft: int
    batch: int
    batches: int
    decode_ms: float  # per batch
    engine_ms: float  # per batch, advance_clock included

    @property
    def frames_per_s(self) -> float:
        return self.batch / ((self.decode_ms + self.engine_ms) / 1000.0)


def batch_costs(
    w: Workload, aircraft: Sequence[int], sizes: Sequence[int], budget_s: float
) -> list[BatchCost]:
    """What one `decode` + `process` + `advance_clock` costs as batches shrink, with the live
    decoder (replies 'all') and many aircraft in flight: the live loop runs one per socket
    read, so a fixed cost per batch, or one that grows with the aircraft tracked, is paid
    hundreds of times a second. Each size runs on warm state (2 s of traffic decoded first)
    for about `budget_s` seconds."""
    out = []
    for count in aircraft:
        fl = fleet(w.flight, w.route, count, 12.0)
        f = fl.frames
        warm = int(np.searchsorted(f.t, f.t[0] + 2.0))
        for size in sizes:
            decoder, engine = FrameDecoder(fl.receiver), Engine(w.zones)
            decoder.decode(f.t[:warm], f.hex[:warm])
            engine.process(StateVectors.empty())
            spent_decode = spent_engine = 0.0
            done = 0
            for first in range(warm, len(f) - size + 1, size):
                t0 = time.perf_counter()
                sv = decoder.decode(f.t[first : first + size], f.hex[first : first + size])
                t1 = time.perf_counter()
                engine.process(sv)
                engine.advance_clock(engine.clock_s)
                spent_decode += t1 - t0
                spent_engine += time.perf_counter() - t1
                done += 1
                if spent_decode + spent_engine > budget_s and done >= 3:
                    break
            out.append(
                BatchCost(count, size, done, 1000 * spent_decode / done, 1000 * spent_engine / done)
            )
    return out


# -- latency: a Beast server, the watch pipeline, the store ------------------------------------


def _serve(stream_path: str, schedule_path: str, flush_s: float, conn: Connection) -> None:
    """The receiver: accept one connection, then every `flush_s` write the frames now due (as
    readsb or dump1090 flush their network output every so often).

    Runs in its own process so that the pipeline under test cannot delay it through the GIL.
    Logs, per write, how many frames had been written after it and when (time.time()).
    """
    data = Path(stream_path).read_bytes()
    with np.load(schedule_path) as schedule:
        ends, due = schedule["ends"], schedule["due"]
    n = due.shape[0]
    upto_log: list[int] = []
    at_log: list[float] = []
    lag = 0.0
    with socket.create_server(("127.0.0.1", 0)) as server:
        conn.send(server.getsockname()[1])
        client, _ = server.accept()
        with client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            view = memoryview(data)
            start = time.time()
            sent = 0
            tick = 0.0
            while sent < n:
                upto = int(np.searchsorted(due, time.time() - start, side="right"))
                if upto > sent:
                    at_log.append(time.time())  # written from now: the conservative instant
                    client.sendall(view[(ends[sent - 1] if sent else 0) : ends[upto - 1]])
                    upto_log.append(upto)
                    lag = max(lag, at_log[-1] - start - float(due[upto - 1]))
                    sent = upto
                tick = max(tick + flush_s, float(due[min(sent, n - 1)]))  # skip idle ticks
                time.sleep(max(0.0, tick - (time.time() - start)))
            conn.send((np.array(upto_log), np.array(at_log), lag))
            conn.recv()  # hold the connection until the pipeline has read everything


class _Probe:
    """What the pipeline saw, through its hooks: `on_frames` (each batch of stamped frames,
    before decoding), `on_events` (each tick's events, after the engine) and the store's
    commit listener."""

    def __init__(self) -> None:
        self.stamps: list[F64] = []
        self.hex: list[STR] = []
        self.received = 0
        self.batch = (0, 0)  # frame range of the batch being processed
        self.batches = 0
        self.emitted: list[tuple[Event, tuple[int, int], float]] = []
        self.stopping = False
        self.commits: list[float] = []

    def on_frames(self, t: F64, frames: STR) -> None:
        self.stamps.append(t.copy())
        self.hex.append(frames.copy())
        self.batch = (self.received, self.received + t.shape[0])
        self.received += t.shape[0]
        self.batches += 1

    def on_events(self, events: list[Event]) -> None:
        if not self.stopping:  # the events of `finish` have no triggering frame
            now = time.time()
            self.emitted += [(e, self.batch, now) for e in events]

    def on_commit(self) -> None:
        self.commits.append(time.time())


@dataclass
class Latency:
    label: str
    aircraft: int
    offered_fps: float
    read_fps: float
    frames: int
    batches: int
    events: Counter[str]
    to_row_ms: F64  # frame written -> event row stamped by the store (inserted_at)
    to_disk_ms: F64  # frame written -> its commit returned (fsync included)
    pickup_ms: F64  # trigger frame written -> read by the pipeline
    process_ms: F64  # read -> events out of the engine
    queue_ms: F64  # events out -> row stamped by the store writer
    commit_ms: F64  # row stamped -> commit on disk
    server_lag_s: float
    cpu_share: float  # CPU time of the watch process (all its threads) / wall time

    @property
    def measured(self) -> int:
        return int(self.to_row_ms.shape[0])


def latency(
    label: str,
    w: Workload,
    rate_fps: float,
    seconds: float,
    tick_s: float,
    flush_s: float,
    store_dir: str | None,
) -> Latency:
    """Replay a fleet at `rate_fps` over TCP into FeedSource + run_watch + EventStore."""
    aircraft = fleet_size(w.flight, w.route, rate_fps)
    fl = fleet(w.flight, w.route, aircraft, seconds)
    frames = fl.frames
    data, ends = beast_stream(frames)
    kind = classify(frames.hex).kind
    position = (kind == 1) | (kind == 2)
    probe = _Probe()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=store_dir) as tmp:
        stream_path, schedule_path = Path(tmp) / "feed.beast", Path(tmp) / "schedule.npz"
        stream_path.write_bytes(data)
        np.savez(schedule_path, ends=ends, due=frames.t - frames.t[0])
        here, there = ctx.Pipe()
        args = (str(stream_path), str(schedule_path), flush_s, there)
        server = ctx.Process(target=_serve, args=args)
        server.start()
        port = here.recv()
        # A webhook URL makes the store call its commit listener after every commit (the URL
        # is never contacted: no delivery worker runs), which gives the time each commit
        # returned, fsync included; `inserted_at` is stamped before the inserts and the fsync.
        store = EventStore(Path(tmp) / "events.sqlite", ("http://127.0.0.1:9/unused",))
        store.add_commit_listener(probe.on_commit)
        source = FeedAdapter(f"beast://127.0.0.1:{port}", fl.receiver, on_frames=probe.on_frames)
        deadline = time.monotonic() + seconds + 60.0

        def should_stop() -> bool:
            probe.stopping = probe.received >= len(frames) or time.monotonic() > deadline
            return probe.stopping

        cpu, wall = time.process_time(), time.perf_counter()
        run_watch(
            [source],
            Engine(w.zones),
            [store],
            tick_s=tick_s,
            should_stop=should_stop,
            on_events=probe.on_events,
        )
        cpu_share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        store.flush()
        upto, at, lag = here.recv()
        here.send("done")
        server.join(10)
        with contextlib.closing(sqlite3.connect(store.path)) as db:
            inserted = dict(db.execute("SELECT id, inserted_at FROM events").fetchall())
        store.close()

    received = np.concatenate(probe.hex) if probe.hex else np.zeros(0, "U28")
    if not np.array_equal(received, frames.hex[: len(received)]):
        raise RuntimeError("the pipeline did not read the frames the server sent, in order")
    stamps = np.concatenate(probe.stamps)
    sent_at = np.repeat(at, np.diff(np.concatenate(([0], upto))))[: len(stamps)]
    stamp_times = sorted(set(inserted.values()))
    # Commits and row stamps pair up in order (one writer thread); if not, do not guess.
    disk = (
        dict(zip(stamp_times, probe.commits, strict=True))
        if len(stamp_times) == len(probe.commits)
        else {}
    )
    rows = []
    for event, (k0, k1), emitted in probe.emitted:
        k = _trigger(event, k0, k1, stamps, position, fl.address)
        if k is None or event.id not in inserted:
            continue
        row_at, sent = inserted[event.id], sent_at[k]
        on_disk = disk.get(row_at, math.nan)
        rows.append(
            (
                row_at - sent,
                on_disk - sent,
                stamps[k] - sent,
                emitted - stamps[k],
                row_at - emitted,
                on_disk - row_at,
            )
        )
    ms = np.array(rows, np.float64).reshape(-1, 6) * 1000.0
    span = float(sent_at[-1] - sent_at[0]) if len(sent_at) > 1 else math.nan
    return Latency(
        label,
        aircraft,
        len(frames) / max(frames.duration_s, 1e-9),
        len(stamps) / span,
        len(stamps),
        probe.batches,
        Counter(e.kind for e, _, _ in probe.emitted),
        to_row_ms=ms[:, 0],
        to_disk_ms=ms[:, 1],
        pickup_ms=ms[:, 2],
        process_ms=ms[:, 3],
        queue_ms=ms[:, 4],
        commit_ms=ms[:, 5],
        server_lag_s=float(lag),
        cpu_share=cpu_share,
    )


def _trigger(
    event: Event, k0: int, k1: int, stamps: F64, position: npt.NDArray[np.bool_], address: U32
) -> int | None:
    """The frame whose arrival made the engine emit `event`: the first position message of its
    aircraft, in the batch that emitted it, stamped at or after the event's time (an entry or
    exit time is interpolated before its fix; a warning carries its fix's time). A lost
    contact has no frame of its own: the first frame of the batch at or after its time."""
    t = event.t_s - 1e-6
    window = np.arange(k0, k1)
    if event.kind != "lost_contact":
        mine = position[window] & (address[window] == int(event.icao24, 16))
        found = window[mine & (stamps[window] >= t)]
        if found.shape[0]:
            return int(found[0])
    later = window[stamps[window] >= t]
    return int(later[0]) if later.shape[0] else None


# -- profile ------------------------------------------------------------------------------------


def profile(w: Workload, loops: int, batch: int, replies: Replies, top: int = 25) -> str:
    """cProfile of one end-to-end pass on the looped frames: where the time goes (own time)."""
    feed = w.looped(loops)
    data, _ = beast_stream(feed)
    profiler = cProfile.Profile()
    profiler.enable()
    end_to_end(data, feed.t[0], w.zones, batch, replies)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def profile_small_batches(w: Workload, aircraft: int, size: int, top: int = 25) -> str:
    """cProfile of 10 s of a fleet's frames decoded and processed `size` frames at a time,
    as the live loop does at a realistic rate (one socket read a batch)."""
    fl = fleet(w.flight, w.route, aircraft, 12.0)
    f = fl.frames
    warm = int(np.searchsorted(f.t, f.t[0] + 2.0))
    decoder, engine = FrameDecoder(fl.receiver), Engine(w.zones)
    decoder.decode(f.t[:warm], f.hex[:warm])
    profiler = cProfile.Profile()
    profiler.enable()
    for first in range(warm, len(f), size):
        engine.process(decoder.decode(f.t[first : first + size], f.hex[first : first + size]))
        engine.advance_clock(engine.clock_s)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- report -------------------------------------------------------------------------------------


def pct(values: F64, q: float) -> float:
    finite = values[np.isfinite(values)]
    return float(np.percentile(finite, q)) if finite.shape[0] else math.nan


def machine() -> str:
    cpu = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, rs1090 {version('rs1090')}, pyModeS {version('pyModeS')}"
    )


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def commit() -> str:
    """The commit measured, and whether the package had uncommitted changes (others edit it)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "skyfence"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in skyfence/" if dirty else "")


def throughput_table(tp: Throughput, zones: int) -> list[str]:
    ref = tp.rates[E2E]
    lines = [
        f"{tp.frames:,} frames: {tp.loops} loops of the flight, each with the Beast sample at "
        f"its start; {zones} zones; decode batches of {tp.batch:,} frames.",
        "",
        "| where the frames go (`classify`, before rs1090) | frames | share |",
        "| --- | ---: | ---: |",
    ]
    for name, count in tp.mix.items():
        lines.append(f"| {name} | {count:,} | {count / tp.frames:.1%} |")
    lines += [
        "",
        "| method | frames/s | skyfence end to end (ADS-B only) is |",
        "| --- | ---: | ---: |",
    ]
    for name, rate in tp.rates.items():
        lines.append(f"| {name} | {rate:,.0f} | {ref / rate:.2f}x |")
    lines.append("")
    for name, p in tp.passes.items():
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in p.stage_s.items())
        events = ", ".join(f"{k} {v}" for k, v in sorted(p.events.items()))
        lines.append(
            f"- {name}: {p.frames:,} frames in {p.seconds:.2f} s ({stages}); "
            f"{p.vectors:,} positions; events: {events or 'none'}"
        )
    lines.append(
        "- positions decoded per loop: " + ", ".join(f"{k} {v:,}" for k, v in tp.positions.items())
    )
    return lines


def batch_table(costs: list[BatchCost]) -> list[str]:
    lines = [
        "| aircraft in flight | frames a batch | batches timed | decode ms/batch "
        "| engine ms/batch | frames/s at most |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in costs:
        lines.append(
            f"| {c.aircraft:,} | {c.batch:,} | {c.batches} | {c.decode_ms:.2f} "
            f"| {c.engine_ms:.2f} | {c.frames_per_s:,.0f} |"
        )
    return lines


def latency_table(runs: list[Latency]) -> list[str]:
    lines = [
        "| load | aircraft | offered frames/s | read frames/s | events (measured) "
        "| p50 ms | p99 ms | max ms | p99 to disk ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        worst = float(r.to_row_ms.max()) if r.measured else math.nan
        lines.append(
            f"| {r.label} | {r.aircraft:,} | {r.offered_fps:,.0f} | {r.read_fps:,.0f} "
            f"| {sum(r.events.values())} ({r.measured}) | {pct(r.to_row_ms, 50):.1f} "
            f"| {pct(r.to_row_ms, 99):.1f} | {worst:.1f} | {pct(r.to_disk_ms, 99):.1f} |"
        )
    lines.append("")
    for r in runs:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.events.items()))
        lines.append(
            f"- {r.label}: {r.frames:,} frames in {r.batches:,} batches "
            f"({r.frames / max(r.batches, 1):,.0f} frames a batch); events: {kinds}. "
            f"Where the delay goes, p50 / p99 ms: waiting in the socket "
            f"{pct(r.pickup_ms, 50):.1f} / {pct(r.pickup_ms, 99):.1f}, decode + engine "
            f"{pct(r.process_ms, 50):.1f} / {pct(r.process_ms, 99):.1f}, store queue "
            f"{pct(r.queue_ms, 50):.1f} / {pct(r.queue_ms, 99):.1f}, insert + fsync "
            f"{pct(r.commit_ms, 50):.1f} / {pct(r.commit_ms, 99):.1f}; the watch process used "
            f"{r.cpu_share:.0%} of a core; the server fell behind its schedule by "
            f"{r.server_lag_s * 1000:.0f} ms at most."
        )
    return lines


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
        print(f"## one end-to-end pass, {loops} loops, batches of {args.batch:,}, ADS-B only")
        print(profile(w, loops, args.batch, "none"))
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
        f"- end to end (ADS-B only, one aircraft at a time) {e2e:,.0f} frames/s: target "
        f">= 500,000 {'met' if e2e >= 500_000 else 'NOT met'}",
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
