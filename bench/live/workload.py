"""The live benchmark's frames: the real flight and Beast capture, looped or flown as a
fleet under other addresses, as a Beast stream; the zones along the route."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.workload import samples
from skyfence.arrays import F64, I64, STR, U8, U32
from skyfence.decoding.classify import classify
from skyfence.decoding.frames import FrameDecoder
from skyfence.engine.zoneset import ZoneSet
from skyfence.settings import EngineSettings
from skyfence.sources.beast import MODE_AC, BeastParser, encode_beast
from skyfence.zones.geojson import load_zones, zones_from_geojson
from skyfence.zones.model import Zone

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"
RECV_BYTES = 1 << 16  # what one socket read of the live pipeline returns at most
PARIS_ZONES = ROOT / "tests" / "data" / "paris_zones.geojson"
CDG = (49.0097, 2.5479)  # the receiver of the flight file is near Paris-CDG
FLIGHT_ADDRESS = 0x393322
MLAT_HZ = 12e6


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


def beast_stream(frames: Frames) -> tuple[bytes, I64]:
    """Frames as a receiver would send them: counter from their times, a constant signal."""
    ticks = np.round((frames.t - frames.t[0]) * MLAT_HZ).astype(np.uint64) + np.uint64(1)
    return encode_beast(frames.hex, ticks, np.full(len(frames), 0x80, np.uint8))


def check_encoder() -> None:
    """The encoder must give back the real capture's bytes, or the benchmark feeds garbage."""
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
