"""Live receiver feeds over TCP (readsb/dump1090 ports 30005, 30002, 30003) as polled sources.

A `FeedSource` is polled, not run: `next_batch(timeout_s)` reads what has arrived within the
timeout and returns its state vectors, so a watch loop needs no thread per feed and stays in
charge of its own timing (the bytewax input-partition model). The socket is non-blocking and
every wait is a `select` bounded by the caller's deadline.

Receivers restart and networks drop, and a monitor must outlive that: a failed or dropped
connection is never raised to the caller. It is recorded in `status` and retried with
exponential backoff with full jitter (a random delay in [0, min(max, base * 2**n)]), so many
sources watching one restarted receiver do not reconnect in lock step. The backoff restarts
from the base after each successful connection.

Time: Beast and AVR frames carry at most the receiver's 12 MHz MLAT counter, whose origin is
arbitrary, so each frame is stamped with the wall-clock time its bytes arrived. SBS lines
carry dates and keep them (see `parse_sbs` for receivers writing local time).

A connection that ends mid-frame or mid-line leaves a partial message: it is dropped (counted
in `status.truncated`), never glued to the first bytes of the next connection, which start a
new stream.
"""

from __future__ import annotations

import errno
import os
import random
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from skyfence.arrays import F64, STR
from skyfence.decoding.dedup import FrameDeduplicator
from skyfence.decoding.frames import FrameDecoder
from skyfence.errors import InputError
from skyfence.schema import StateVectors
from skyfence.sources.avr import parse_avr
from skyfence.sources.beast import MODE_AC, BeastFrames, BeastParser
from skyfence.sources.lines import MAX_LINE_BYTES
from skyfence.sources.receiver import Receiver, parse_receiver
from skyfence.sources.sbs import SbsAssembler, parse_sbs

FeedKind = str  # a key of FEEDS, the URI scheme

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
CONNECT_TIMEOUT_S = 10.0  # a connection attempt still pending after this has failed
RECV_BYTES = 1 << 16
MAX_BATCH_BYTES = 4 << 20  # bytes read per call at most, so one batch stays short to decode
# After the first bytes of a batch, keep reading this long: a batch costs about the same to
# decode for 10 frames as for 100, and receivers write every few ms, so one batch per write
# kept a 2,000 frames/s feed at half a core. 20 ms of frames per batch costs a quarter of that
# and adds at most 20 ms to the delay of an alert. A batch that already holds LINGER_BYTES
# (about 200 frames, 10 ms of a 20,000 frames/s feed) pays its own way and does not linger:
# on a busy feed, waiting would only make the next batch wait too.
LINGER_S = 0.02
LINGER_BYTES = 4096
# readsb and dump1090 send a heartbeat every 60 s on an idle connection: three minutes of
# silence means the connection is half-open (a receiver that vanished without a FIN)
IDLE_TIMEOUT_S = 180.0


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where a feed is and what it speaks, as parsed from `beast://HOST:PORT` and the like."""

    kind: FeedKind
    host: str
    port: int
    receiver: Receiver | None = None  # `?receiver=LAT,LON[,HEIGHT_M]`: where this feed's antenna is

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}://{host}:{self.port}"


def parse_source_uri(uri: str) -> SourceSpec:
    """`beast://HOST[:PORT]` (default port 30005), `avr://` (30002) or `sbs://` (30003),
    optionally with `?receiver=LAT,LON[,HEIGHT_M]`, the feed's antenna position.

    The scheme says the format because a feed cannot be sniffed before it is connected, and the
    receivers' conventional ports are the defaults so that `beast://radar.local` just works.
    The receiver belongs to the URI because each feed of a watch has its own antenna.
    """
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError as exc:  # a port that is not a number or out of range
        raise InputError(f"invalid feed URI {uri!r}: {exc}") from exc
    kind = parts.scheme.lower()
    if kind not in FEEDS:
        *others, last = [f"{name}://HOST:PORT" for name in FEEDS]
        expected = f"{', '.join(others)} or {last}"
        raise InputError(f"invalid feed URI {uri!r}: expected {expected}")
    if not parts.hostname:
        raise InputError(f"invalid feed URI {uri!r}: no host")
    if parts.path not in ("", "/") or parts.fragment or parts.username:
        raise InputError(f"invalid feed URI {uri!r}: only {kind}://HOST:PORT is understood")
    if port == 0:
        raise InputError(f"invalid feed URI {uri!r}: port 0")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key != "receiver" for key, _ in query) or len(query) > 1:
        raise InputError(
            f"invalid feed URI {uri!r}: the only option is ?receiver=LAT,LON[,HEIGHT_M]"
        )
    try:
        receiver = parse_receiver(query[0][1]) if query else None
    except ValueError as exc:
        raise InputError(f"invalid feed URI {uri!r}: {exc}") from None
    port = FEEDS[kind].default_port if port is None else port
    return SourceSpec(kind, parts.hostname, port, receiver)


def backoff_delay(
    failures: int,
    rng: random.Random,
    base_s: float = BACKOFF_BASE_S,
    max_s: float = BACKOFF_MAX_S,
) -> float:
    """Seconds to wait after `failures` consecutive failures (0 for the first retry): "full
    jitter", uniform in [0, min(max_s, base_s * 2**failures)]."""
    ceiling = min(max_s, base_s * 2.0 ** min(failures, 64))
    return rng.uniform(0.0, ceiling)


@dataclass(slots=True)
class FeedStatus:
    """The health of a feed, for display and alerting: the source itself never raises."""

    uri: str
    connected: bool = False
    connects: int = 0  # successful connections
    reconnects: int = 0  # successful connections after the first
    disconnects: int = 0  # established connections lost
    failures: int = 0  # consecutive failed connection attempts (0 once connected)
    attempts: int = 0  # connection attempts, all told
    last_error: str | None = None
    retry_delay_s: float = 0.0  # the backoff delay last chosen
    bytes: int = 0
    frames: int = 0  # Mode S frames framed (Beast, AVR) or usable MSG lines (SBS)
    malformed: int = 0  # garbage stretches, unusable lines, frames the decoder refused
    dropped_bytes: int = 0  # Beast: bytes discarded (garbage, broken messages), however many
    truncated: int = 0  # partial messages dropped because their connection ended
    vectors: int = 0  # state vectors returned
    duplicates: int = 0  # frames another receiver of the same watch delivered first
    errors: list[str] = field(default_factory=list)  # the last few errors, newest last


_MAX_ERRORS = 10


class _Pipeline(Protocol):
    def feed(self, data: bytes, t: float) -> None: ...
    def cut(self) -> None: ...
    def flush(self) -> StateVectors: ...


FramesHook = Callable[[F64, STR], object]


@dataclass(frozen=True, slots=True)
class _Context:
    """What a feed's pipeline may use: its kind, its status to count in, the options given."""

    kind: FeedKind
    status: FeedStatus
    decoder: FrameDecoder
    on_frames: FramesHook | None
    dedup: FrameDeduplicator | None
    sbs_utc_offset_s: float


class _FramePipeline:
    """Beast or AVR bytes -> stamped Mode S frames -> `FrameDecoder`.

    Beast frames stay bytes all the way into the decoder; hex is made only when someone reads
    text (the `on_frames` hook, the deduplicator's hashes)."""

    def __init__(self, context: _Context) -> None:
        self._kind = context.kind
        self._dedup = context.dedup
        self._decoder = context.decoder
        self._status = context.status
        self._on_frames = context.on_frames
        self._beast = BeastParser()
        self._line = b""  # AVR: the partial trailing line
        self._t: list[F64] = []
        self._frames: list[STR] = []  # AVR
        self._found: list[BeastFrames] = []  # Beast
        self.copies = StateVectors.empty()  # decoded positions whose frames the last flush repeated

    def feed(self, data: bytes, t: float) -> None:
        if self._kind == "beast":
            resyncs, skipped = self._beast.stats.resyncs, self._beast.stats.skipped_bytes
            found = self._beast.feed(data)
            self._status.malformed += self._beast.stats.resyncs - resyncs
            self._status.dropped_bytes += self._beast.stats.skipped_bytes - skipped
            if (found.msg_type == MODE_AC).any():
                found = found.take(found.msg_type != MODE_AC)
            self._found.append(found)
            count = len(found)
        else:
            block = self._complete_lines(data)
            if not block:
                return
            avr, stats = parse_avr(block)
            self._status.malformed += sum(stats.malformed.values())
            frames = avr.frame[np.char.str_len(avr.frame) != 4]  # Mode A/C: no address
            self._frames.append(frames)
            count = int(frames.shape[0])
        self._status.frames += count
        self._t.append(np.full(count, t))

    def _complete_lines(self, data: bytes) -> bytes:
        buf = self._line + data
        cut = buf.rfind(b"\n") + 1
        if cut == 0 and len(buf) > MAX_LINE_BYTES:
            cut = len(buf)  # no line end in sight: let the parser reject it
        self._line = buf[cut:]
        return buf[:cut]

    def cut(self) -> None:
        pending = self._beast.pending + len(self._line)
        self._beast = BeastParser()
        self._line = b""
        self._status.truncated += 1 if pending else 0

    def flush(self) -> StateVectors:
        self.copies = StateVectors.empty()
        if not self._t:
            return StateVectors.empty()
        beast = self._kind == "beast"
        t = np.concatenate(self._t)
        found = BeastFrames.concat(self._found)
        if beast and (self._on_frames is not None or self._dedup is not None):
            text = found.frame
        else:  # AVR frames (Beast ones are never needed as text here)
            text = np.concatenate([np.zeros(0, "U28"), *self._frames]).astype("U28")
        self._t, self._frames, self._found = [], [], []
        if not t.shape[0]:
            return StateVectors.empty()
        if self._on_frames is not None:
            self._on_frames(t, text)
        if self._dedup is not None:
            first = self._dedup.keep(t, text)
            self.copies = self._dedup.copies
            self._status.duplicates += int(len(first) - first.sum())
            t, text = t[first], text[first]
            found = found.take(first) if beast else found
        before = self._decoder.stats.malformed
        if beast:
            vectors = self._decoder.decode_bytes(t, found.payload, found.size)
        else:
            vectors = self._decoder.decode(t, text)
        self._status.malformed += self._decoder.stats.malformed - before
        if self._dedup is not None:
            self._dedup.remember_positions(self._decoder.position_frames, vectors)
        return vectors


class _SbsPipeline:
    """SBS lines -> `parse_sbs` -> `SbsAssembler`, keeping the lines' own times."""

    def __init__(self, context: _Context) -> None:
        self._status = context.status
        self._utc_offset_s = context.sbs_utc_offset_s
        self._assembler = SbsAssembler()
        self._line = b""
        self._block = bytearray()

    def feed(self, data: bytes, t: float) -> None:
        buf = self._line + data
        cut = buf.rfind(b"\n") + 1
        if cut == 0 and len(buf) > MAX_LINE_BYTES:
            cut = len(buf)
        self._line = buf[cut:]
        self._block += buf[:cut]

    def cut(self) -> None:
        self._status.truncated += 1 if self._line else 0
        self._line = b""

    def flush(self) -> StateVectors:
        if not self._block:
            return StateVectors.empty()
        messages, stats = parse_sbs(bytes(self._block), utc_offset_s=self._utc_offset_s)
        self._block = bytearray()
        self._status.frames += stats.used
        self._status.malformed += sum(stats.malformed.values())
        return self._assembler.assemble(messages)


@dataclass(frozen=True, slots=True)
class Feed:
    """A kind of live feed: the receivers' conventional port, and the pipeline its bytes go
    through (`feed` bytes, `cut` at a lost connection, `flush` to state vectors)."""

    default_port: int
    pipeline: Callable[[_Context], _Pipeline]


# The one registry of live TCP feeds, by URI scheme: adding one is a pipeline and one line.
FEEDS: dict[FeedKind, Feed] = {
    "beast": Feed(30005, _FramePipeline),
    "avr": Feed(30002, _FramePipeline),
    "sbs": Feed(30003, _SbsPipeline),
}


class FeedSource:
    """A live feed, polled with `next_batch`; see the module docstring for the why.

    `reference` is the receiver position (lat, lon) for surface and first positions, as in
    `FrameDecoder`. `clock` gives the arrival time stamped on frames (UNIX seconds). `rng`
    draws the backoff jitter; `backoff_base_s` and `backoff_max_s` bound it. `on_frames`, if
    given, sees every batch of stamped Mode S frames before decoding (for raw recording, and
    to check the framing). `sbs_utc_offset_s` is the offset from UTC of an SBS feed's times.
    `dedup`, shared by the feeds of one watch, drops frames another receiver delivered first;
    `copies` then holds, after each `next_batch`, the positions already decoded from the frames
    this feed delivered again (for its receiver's horizon).
    A connection silent for `idle_timeout_s` is taken for half-open, closed and reconnected.
    `linger_s`: how long a batch goes on gathering bytes after its first ones (see LINGER_S).
    Host names are resolved when connecting, which may block; give an address to avoid it.
    """

    def __init__(
        self,
        spec: SourceSpec,
        reference: tuple[float, float] | None = None,
        clock: Callable[[], float] = time.time,
        *,
        rng: random.Random | None = None,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        on_frames: FramesHook | None = None,
        sbs_utc_offset_s: float = 0.0,
        dedup: FrameDeduplicator | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        linger_s: float = LINGER_S,
    ) -> None:
        self.spec = spec
        self.status = FeedStatus(spec.uri)
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._base_s = backoff_base_s
        self._max_s = backoff_max_s
        self.decoder = FrameDecoder(reference)
        context = _Context(spec.kind, self.status, self.decoder, on_frames, dedup, sbs_utc_offset_s)
        self._pipeline = FEEDS[spec.kind].pipeline(context)
        self._sock: socket.socket | None = None
        self._selector = selectors.DefaultSelector()  # select() fails on descriptors >= 1024
        self._connecting_since: float | None = None  # monotonic; None once connected
        self._retry_at = 0.0  # monotonic time of the next connection attempt
        self._idle_timeout_s = idle_timeout_s
        self._last_data = 0.0  # monotonic time of the last bytes (or of connecting)
        self._closed = False
        self._batch_bytes = 0  # read by the current `next_batch` call
        self._linger_s = linger_s
        self._gather_until = 0.0  # monotonic: the current batch reads on until then
        self.copies = StateVectors.empty()

    def next_batch(self, timeout_s: float) -> StateVectors:
        """State vectors from what arrived, waiting at most `timeout_s` for the first bytes.

        Once bytes have come, goes on reading for `linger_s` (not past the deadline, and not
        once the batch holds LINGER_BYTES) and then what is already there; returns
        empty at the deadline if nothing came. Connecting and reconnecting happen in here,
        within the same deadline; decoding what was read comes on top (CPU time, not waiting).
        """
        if self._closed:
            return StateVectors.empty()
        self._pump(time.monotonic() + max(0.0, timeout_s))
        vectors = self._pipeline.flush()
        self.copies = getattr(self._pipeline, "copies", StateVectors.empty())
        self.status.vectors += len(vectors)
        return vectors

    def close(self) -> None:
        """Close the connection; later `next_batch` calls return nothing."""
        self._closed = True
        self._close_socket()
        self._selector.close()
        self.status.connected = False

    def __enter__(self) -> FeedSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _pump(self, deadline: float) -> None:
        """Connect if due, then read until the deadline or until the data stops coming.

        The connection is in one of three states, each with its own step: waiting to retry
        (no socket), connecting (a socket not yet writable), or reading. A step returns True
        when this call is done; otherwise the state may have changed and the loop goes on.
        """
        self._batch_bytes = 0
        while True:
            sock = self._sock
            if sock is None:
                done = self._retry_when_due(deadline)
            elif self._connecting_since is not None:
                done = self._await_connection(sock, self._connecting_since, deadline)
            else:
                done = self._read(sock, deadline)
            if done:
                return

    def _retry_when_due(self, deadline: float) -> bool:
        """No socket: sleep until the backoff allows a new attempt (if that falls before the
        deadline), then start it."""
        remaining = deadline - time.monotonic()
        delay = self._retry_at - time.monotonic()
        if delay > remaining:
            if remaining > 0:
                time.sleep(remaining)
            return True
        if delay > 0:
            time.sleep(delay)
        self._connect()
        return self._sock is None and time.monotonic() >= deadline

    def _await_connection(self, sock: socket.socket, since: float, deadline: float) -> bool:
        """A connection attempt under way: its outcome, a timeout, or the deadline."""
        remaining = deadline - time.monotonic()
        if self._selector.select(max(remaining, 0.0)):
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._failed(OSError(err, os.strerror(err)))
            else:
                self._connected()
        elif time.monotonic() - since > CONNECT_TIMEOUT_S:
            self._failed(TimeoutError(f"no connection after {CONNECT_TIMEOUT_S:g} s"))
        elif time.monotonic() >= deadline:
            return True
        return False

    def _read(self, sock: socket.socket, deadline: float) -> bool:
        """Connected: wait for the first bytes until the deadline, then for more until the
        batch has gathered `linger_s` of the feed or LINGER_BYTES; a batch ends when that is
        reached and the data pauses, when it is full, or when the connection ends."""
        received = self._batch_bytes
        if not received:
            until = deadline
        elif received < LINGER_BYTES:
            until = min(self._gather_until, deadline)
        else:
            until = 0.0  # big enough: what is already there, and no more waiting
        if not self._selector.select(max(until - time.monotonic(), 0.0)):
            silent = time.monotonic() - self._last_data
            if silent > self._idle_timeout_s:
                self._lost(TimeoutError(f"no data for {silent:.0f} s (half-open?)"))
                return True
            return bool(received) or time.monotonic() >= deadline
        try:
            data = sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            self._lost(exc)
            data = b""
        else:
            if not data:
                self._lost(ConnectionError("connection closed by the receiver"))
        if data:
            self._last_data = time.monotonic()
            if not received:
                self._gather_until = self._last_data + self._linger_s
            self.status.bytes += len(data)
            self._pipeline.feed(data, self._clock())
            self._batch_bytes = received = received + len(data)
        return received >= MAX_BATCH_BYTES or (bool(received) and self._sock is None)

    def _connect(self) -> None:
        """Start a non-blocking connection attempt; its outcome is seen by `_pump`."""
        self.status.attempts += 1
        sock: socket.socket | None = None
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.spec.host, self.spec.port, type=socket.SOCK_STREAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            _keepalive(sock)
            err = sock.connect_ex(address)
            if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                raise OSError(err, os.strerror(err))
        except OSError as exc:
            if sock is not None:
                sock.close()
            self._failed(exc)
            return
        self._sock = sock
        self._selector.register(sock, selectors.EVENT_WRITE)
        self._connecting_since = time.monotonic()

    def _connected(self) -> None:
        s = self.status
        self._connecting_since = None
        if self._sock is not None:
            self._selector.modify(self._sock, selectors.EVENT_READ)
        s.connected = True
        self._last_data = time.monotonic()
        s.reconnects += 1 if s.connects else 0
        s.connects += 1
        s.failures = 0  # the backoff starts over

    def _failed(self, exc: BaseException) -> None:
        """A connection attempt failed: wait longer before the next one."""
        self._close_socket()
        self._note(exc)
        self._schedule()
        self.status.failures += 1

    def _lost(self, exc: BaseException) -> None:
        """An established connection ended: drop its partial message, retry soon."""
        self._close_socket()
        self._pipeline.cut()
        self.status.connected = False
        self.status.disconnects += 1
        self._note(exc)
        self._schedule()

    def _schedule(self) -> None:
        delay = backoff_delay(self.status.failures, self._rng, self._base_s, self._max_s)
        self.status.retry_delay_s = delay
        self._retry_at = time.monotonic() + delay

    def _note(self, exc: BaseException) -> None:
        message = f"{self.spec.uri}: {exc}"
        self.status.last_error = message
        self.status.errors = [*self.status.errors[-(_MAX_ERRORS - 1) :], message]

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._selector.unregister(self._sock)
            self._sock.close()
        self._sock = None
        self._connecting_since = None


def _keepalive(sock: socket.socket) -> None:
    """TCP keepalive: the kernel notices a vanished peer within about a minute, even when the
    receiver sends no heartbeat."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        option = getattr(socket, name, None)  # Linux names; other systems keep their defaults
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)
