"""readsb / tar1090 `aircraft.json` (`http://HOST/data/aircraft.json`) as a polled source.

The file is a snapshot that readsb rewrites about once a second: the latest state of every
aircraft it tracks, with `now` (UNIX seconds) and, per aircraft, `seen` and `seen_pos`, the
seconds since its last message and since its last position. So a state vector's time is
`now - seen` and its position time `now - seen_pos`; both are kept (`t_s`, `t_pos_s`) because
a position can be older than the speed or altitude carried with it. Units are already the
schema's (ft, kt, ft/min), so values pass through unconverted.

A snapshot repeats an aircraft's position until a newer one arrives, so `AircraftJsonSource`
remembers the last fix it returned per aircraft and returns only newer ones: the engine must
never see the same fix twice (it would count as a second observation). readsb rounds `now` and
`seen_pos` to 0.1 s, so the same fix can look up to ~0.1 s newer from one poll to the next;
a fix is new only when it is more than `SAME_FIX_S` newer, or when its position differs.

A monitor must outlive receiver restarts and bad responses: HTTP errors, refused connections
and bodies that are not aircraft.json are recorded in `status`, never raised, and retried with
the live feeds' exponential backoff with full jitter. The HTTP request runs in one worker
thread so that `next_batch(timeout_s)` never waits longer than asked, however slow the server:
a poll still running at the deadline is collected by a later call.
"""

from __future__ import annotations

import json
import math
import random
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from skyfence.errors import InputError
from skyfence.schema import StateVectors
from skyfence.sources.base import GZIP_MAGIC, impossible_altitude, inflate_gzip
from skyfence.sources.live import BACKOFF_BASE_S, BACKOFF_MAX_S, backoff_delay

HTTP_TIMEOUT_S = 10.0  # per socket operation of one poll (runs in the worker thread)
MAX_BODY_BYTES = 64 << 20  # a body larger than this (compressed or not) is refused, not parsed
SAME_FIX_S = 0.25  # fix times this close are one fix seen twice (0.1 s rounding, both ways)
FORGET_S = 600.0  # last fixes older than this are forgotten (readsb drops positions at 60 s)
_MAX_ERRORS = 10


@dataclass(slots=True)
class AircraftJsonStats:
    """What one document held, beyond the state vectors: nothing is dropped silently."""

    aircraft: int = 0  # entries in "aircraft"
    vectors: int = 0  # rows returned
    no_position: int = 0  # valid entries without lat/lon (Mode S only, or position expired)
    non_icao: int = 0  # "~" addresses (TIS-B, MLAT-only tracks with non-ICAO ids): skipped
    malformed: int = 0  # entries that are not objects, or whose address or position is invalid

    def add(self, other: AircraftJsonStats) -> None:
        self.aircraft += other.aircraft
        self.vectors += other.vectors
        self.no_position += other.no_position
        self.non_icao += other.non_icao
        self.malformed += other.malformed


def parse_aircraft_json(
    document: bytes | dict[str, Any],
    stats: AircraftJsonStats | None = None,
    *,
    now_s: float | None = None,
) -> StateVectors:
    """State vectors of the aircraft with a position in one aircraft.json document.

    `document` is the body (bytes, possibly gzip) or the decoded object. Entries without a
    position, with a "~" address or malformed are skipped and counted in `stats` if given.
    `now_s` stands in for a missing "now" (otherwise a ValueError). Raises ValueError only for
    a body that is not an aircraft.json document at all, which a poller reports as a failure.
    """
    stats = stats if stats is not None else AircraftJsonStats()
    doc = _decode(document) if isinstance(document, bytes | bytearray) else document
    if not isinstance(doc, dict) or not isinstance(doc.get("aircraft"), list):
        raise ValueError('not an aircraft.json document: no "aircraft" list')
    now = _number(doc.get("now"))
    if math.isnan(now):
        if now_s is None:
            raise ValueError('not an aircraft.json document: no "now" time')
        now = now_s
    entries: list[Any] = doc["aircraft"]
    stats.aircraft += len(entries)
    objects = [a for a in entries if isinstance(a, dict)]
    stats.malformed += len(entries) - len(objects)
    hexes = [a.get("hex") for a in objects]
    non_icao = np.array([isinstance(h, str) and h.startswith("~") for h in hexes], bool)
    icao = np.array(
        [_icao(h) if isinstance(h, str) and not h.startswith("~") else 0 for h in hexes],
        np.int64,
    )
    lat = _column(objects, "lat")
    lon = _column(objects, "lon")
    has_lat = np.array(["lat" in a or "lon" in a for a in objects], bool)
    bad_position = has_lat & ~(
        (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)  # NaN compares False
    )
    bad = ~non_icao & ((icao <= 0) | bad_position)
    no_position = ~non_icao & ~bad & ~has_lat
    keep = ~non_icao & ~bad & has_lat
    stats.non_icao += int(non_icao.sum())
    stats.malformed += int(bad.sum())
    stats.no_position += int(no_position.sum())
    rows = [a for a, k in zip(objects, keep.tolist(), strict=True) if k]
    stats.vectors += len(rows)

    alt_raw = [a.get("alt_baro", a.get("altitude")) for a in rows]  # "altitude": old dump1090
    on_ground = np.array([v == "ground" for v in alt_raw], bool)
    baro_rate = _column(rows, "baro_rate", "vert_rate")
    vrate = np.where(np.isfinite(baro_rate), baro_rate, _column(rows, "geom_rate"))
    seen = _column(rows, "seen")
    seen_pos = _column(rows, "seen_pos")
    vectors = StateVectors.build(
        len(rows),
        t_s=now - np.where(np.isfinite(seen), seen, 0.0),
        icao24=icao[keep].astype(np.uint32),
        callsign=[_text(a.get("flight")) for a in rows],
        lat_deg=lat[keep],
        lon_deg=lon[keep],
        alt_baro_ft=np.array([_number(v) for v in alt_raw], np.float64),
        alt_geo_ft=_column(rows, "alt_geom"),
        gs_kt=_column(rows, "gs", "speed"),
        track_deg=_column(rows, "track"),
        vrate_fpm=vrate,
        on_ground=on_ground,
        squawk=[_text(a.get("squawk")) for a in rows],
        nic=_column(rows, "nic"),
        nacp=_column(rows, "nac_p"),
        t_pos_s=now - seen_pos,  # NaN when not given: the fix time is then t_s
    )
    impossible = impossible_altitude(vectors.alt_baro_ft, vectors.alt_geo_ft)
    if impossible.any():  # a malformed entry, like a bad address or position
        stats.malformed += int(impossible.sum())
        stats.vectors -= int(impossible.sum())
        vectors = vectors.take(~impossible)
    return vectors


def _inflated(body: bytes) -> bytes:
    if body[:2] != GZIP_MAGIC:
        return body
    try:  # a web server may hand out the gzip file as is; capped like the body itself,
        return inflate_gzip(body, MAX_BODY_BYTES)  # since 400 KiB of gzip can make 400 MiB
    except ValueError as exc:
        raise ValueError(f"aircraft.json: {exc}") from exc


def _decode(body: bytes | bytearray) -> Any:
    body = _inflated(bytes(body))
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        head = bytes(body[:40])
        raise ValueError(f"aircraft.json: body is not JSON ({exc}); starts with {head!r}") from exc


def _number(value: Any) -> float:
    """A JSON number as float; anything else (None, strings, booleans) is missing."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _column(rows: list[dict[str, Any]], key: str, fallback: str | None = None) -> Any:
    if fallback is None:
        return np.array([_number(a.get(key)) for a in rows], np.float64)
    return np.array([_number(a.get(key, a.get(fallback))) for a in rows], np.float64)


def _icao(text: str) -> int:
    try:
        return int(text, 16) if 0 < len(text) <= 6 else 0
    except ValueError:
        return 0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass(slots=True)
class AircraftJsonStatus:
    """The health of an aircraft.json poller, for display and alerting."""

    url: str
    polls: int = 0  # requests completed, failed or not
    ok: int = 0  # polls that gave a document
    failures: int = 0  # consecutive failed polls (0 after a good one): drives the backoff
    failed_polls: int = 0  # failed polls, all told
    last_error: str | None = None
    retry_delay_s: float = 0.0  # the backoff delay last chosen
    vectors: int = 0  # new fixes returned
    repeated: int = 0  # fixes already returned, dropped
    document: AircraftJsonStats = field(default_factory=AircraftJsonStats)  # summed over polls
    errors: list[str] = field(default_factory=list)  # the last few errors, newest last


class AircraftJsonSource:
    """aircraft.json polled every `poll_s` seconds; a watch `Source` (see the module docstring).

    `clock` gives UNIX time when a document has no "now". `rng` draws the backoff jitter;
    `backoff_base_s` and `backoff_max_s` bound it. `http_timeout_s` bounds each socket
    operation of a poll, which runs in a worker thread, not in `next_batch`.
    """

    live = True  # stamped by the receiver's clock: `watch` refuses future times

    def __init__(
        self,
        url: str,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        *,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        http_timeout_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"invalid aircraft.json URL {url!r}: expected http://HOST/...")
        if poll_s <= 0:
            raise InputError("poll_s must be positive")
        self.name = url
        self.url = url
        self.status = AircraftJsonStatus(url)
        self._poll_s = poll_s
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._base_s = backoff_base_s
        self._max_s = backoff_max_s
        self._http_timeout_s = http_timeout_s
        # no proxies: the feed is on the receiver's network, and a proxy could serve it stale
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="aircraft-json")
        self._pending: Future[bytes] | None = None
        self._next_poll = 0.0  # monotonic time the next poll is due
        self._last_fix: dict[int, tuple[float, float, float]] = {}  # icao -> (t, lat, lon)
        self._closed = False

    @property
    def exhausted(self) -> bool:
        """A live feed never ends; a receiver that is down is retried, not given up on."""
        return False

    def next_batch(self, timeout_s: float) -> StateVectors:
        """New fixes from a poll that completed within `timeout_s`, else an empty batch.

        A poll starts only when due (`poll_s` after the previous one, or the backoff delay
        after a failure); until then this waits at most `timeout_s`. Parsing and the filter of
        repeated fixes come on top (CPU time, not waiting).
        """
        if self._closed:
            return StateVectors.empty()
        deadline = time.monotonic() + max(0.0, timeout_s)
        if self._pending is None:
            delay = self._next_poll - time.monotonic()
            if delay > deadline - time.monotonic():
                time.sleep(max(0.0, deadline - time.monotonic()))
                return StateVectors.empty()
            if delay > 0:
                time.sleep(delay)
            self._next_poll = time.monotonic() + self._poll_s
            self._pending = self._pool.submit(self._fetch)
        wait_futures([self._pending], timeout=max(0.0, deadline - time.monotonic()))
        if not self._pending.done():
            return StateVectors.empty()
        future, self._pending = self._pending, None
        return self._collect(future)

    def close(self) -> None:
        """Stop polling; a request in flight is abandoned, later calls return nothing."""
        self._closed = True
        self._pending = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> AircraftJsonSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _fetch(self) -> bytes:
        """One GET, in the worker thread."""
        request = urllib.request.Request(
            self.url, headers={"Cache-Control": "no-cache", "User-Agent": "skyfence"}
        )
        with self._opener.open(request, timeout=self._http_timeout_s) as response:
            body: bytes = response.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise ValueError(f"aircraft.json: body larger than {MAX_BODY_BYTES} bytes")
        return _inflated(body)  # here, in the worker: a bomb must not stall the watch loop

    def _collect(self, future: Future[bytes]) -> StateVectors:
        self.status.polls += 1
        stats = AircraftJsonStats()
        try:
            vectors = parse_aircraft_json(future.result(), stats, now_s=self._clock())
        except Exception as exc:  # anything a server or network can do: report, retry later
            self._failed(exc)
            return StateVectors.empty()
        s = self.status
        s.ok += 1
        s.failures = 0  # the backoff starts over
        s.document.add(stats)
        fresh = self._fresh(vectors)
        s.repeated += len(vectors) - int(fresh.sum())
        out = vectors.take(fresh)
        s.vectors += len(out)
        return out

    def _fresh(self, sv: StateVectors) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which rows are fixes not returned before, remembering them as returned."""
        fix_t = sv.fix_time_s()
        fresh = np.zeros(len(sv), bool)
        last = self._last_fix
        columns = (sv.icao24, fix_t, sv.lat_deg, sv.lon_deg)
        rows = zip(*(c.tolist() for c in columns), strict=True)
        for i, (icao, t, lat, lon) in enumerate(rows):
            known = last.get(icao)
            if known is not None:
                t0, lat0, lon0 = known
                moved = (lat, lon) != (lat0, lon0)
                if not (t > t0 + SAME_FIX_S or (moved and t > t0 - SAME_FIX_S)):
                    continue
            fresh[i] = True
            last[icao] = (t, lat, lon)
        if len(sv):
            horizon = float(np.max(fix_t)) - FORGET_S
            for icao in [k for k, v in last.items() if v[0] < horizon]:
                del last[icao]
        return fresh

    def _failed(self, exc: BaseException) -> None:
        s = self.status
        message = f"{self.url}: {type(exc).__name__}: {exc}"
        s.last_error = message
        s.errors = [*s.errors[-(_MAX_ERRORS - 1) :], message]
        s.failed_polls += 1
        delay = backoff_delay(s.failures, self._rng, self._base_s, self._max_s)
        s.failures += 1
        s.retry_delay_s = delay
        self._next_poll = time.monotonic() + max(delay, self._poll_s)
