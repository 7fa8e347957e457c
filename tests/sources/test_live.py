"""Live feeds against real TCP servers on 127.0.0.1, serving real data: the Beast capture shipped
with `traffic`, AVR lines of the same frames, SBS lines of traffic's quickstart recording.

Receivers play a script per accepted connection (send bytes, wait for the test, hang up or hold
the line), so cuts mid-frame and reads that end mid-line happen at known places."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fakes import HOLD, Receiver, Step, free_port, sbs_line

from skyfence.decoding.dedup import FrameDeduplicator
from skyfence.decoding.frames import FrameDecoder
from skyfence.schema import StateVectors
from skyfence.sources.beast import BeastParser
from skyfence.sources.live import (
    BACKOFF_BASE_S,
    BACKOFF_MAX_S,
    FeedSource,
    SourceSpec,
    backoff_delay,
    parse_source_uri,
)
from skyfence.sources.receiver import Receiver as Antenna
from skyfence.sources.recordings import read_recording
from skyfence.sources.sbs import SbsAssembler, parse_sbs
from skyfence.watching import FeedAdapter, source_status

T0 = 1_700_000_000.0


@pytest.fixture
def serve() -> Iterator[Callable[..., Receiver]]:
    servers: list[Receiver] = []

    def start(scripts: list[list[Step]], port: int = 0) -> Receiver:
        servers.append(Receiver(scripts, port))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


class Clock:
    """Arrival times: T0, T0 + 1, ... one per read, so each frame's stamp tells its read."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return T0 + self.calls


class Tap:
    """Collects the stamped frames a source hands to its decoder."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.frames: list[str] = []

    def __call__(self, t: np.ndarray, frames: np.ndarray) -> None:
        self.t += t.tolist()
        self.frames += frames.tolist()


class MaxRandom(random.Random):
    """Jitter always at its ceiling, so backoff delays are predictable."""

    def random(self) -> float:
        return 1.0


def poll(
    source: FeedSource, done: Callable[[], bool], limit_s: float = 5.0, step_s: float = 0.05
) -> StateVectors:
    """next_batch until `done`, bounded in time; each call must honour its timeout."""
    out: list[StateVectors] = []
    end = time.monotonic() + limit_s
    while not done():
        assert time.monotonic() < end, f"gave up waiting: {source.status}"
        started = time.monotonic()
        out.append(source.next_batch(step_s))
        assert time.monotonic() - started < 2.0  # 0.05 s of waiting, plus decoding
    return StateVectors.concat(out)


@pytest.fixture(scope="module")
def sample(samples: Path) -> bytes:
    return (samples / "dump1090" / "sample_dump1090.bin").read_bytes()


def frames_of(data: bytes) -> list[str]:
    parser = BeastParser()
    return [str(f) for f in parser.feed(data).frame.tolist()]


def spec(kind: str, port: int) -> SourceSpec:
    return parse_source_uri(f"{kind}://127.0.0.1:{port}")


# -- URIs and backoff --------------------------------------------------------------------------


def test_parse_source_uri() -> None:
    assert parse_source_uri("beast://radar.local") == SourceSpec("beast", "radar.local", 30005)
    assert parse_source_uri("avr://10.0.0.2") == SourceSpec("avr", "10.0.0.2", 30002)
    assert parse_source_uri("SBS://h:40003/") == SourceSpec("sbs", "h", 40003)
    assert parse_source_uri("beast://[::1]:1234") == SourceSpec("beast", "::1", 1234)
    assert parse_source_uri("beast://[::1]:1234").uri == "beast://[::1]:1234"
    # each feed's own antenna: LAT,LON and, optionally, its height above sea level
    spec = parse_source_uri("beast://h:30005?receiver=48.86,2.35,120")
    assert spec.receiver == Antenna(48.86, 2.35, 120.0) and spec.uri == "beast://h:30005"
    assert parse_source_uri("sbs://h?receiver=48.86,2.35").receiver == Antenna(48.86, 2.35)
    for bad in (
        "http://h:80",
        "h:30005",
        "beast://",
        "beast://h:x",
        "beast://h:70000",
        "beast://h:0",
        "beast://h:1/path",
        "avr://h?x=1",
        "beast://h?receiver=48.9",
        "beast://h?receiver=91,2",
        "beast://h?receiver=48.9,2.3&receiver=1,2",
    ):
        with pytest.raises(ValueError, match="invalid feed URI") as err:
            parse_source_uri(bad)
        assert repr(bad) in str(err.value)


def test_backoff_is_full_jitter_under_a_growing_ceiling() -> None:
    ceilings = [min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**n) for n in range(10)]
    assert [backoff_delay(n, MaxRandom()) for n in range(10)] == ceilings
    assert ceilings[:3] == [0.5, 1.0, 2.0] and ceilings[-1] == 30.0
    rng = random.Random(7)
    delays = [backoff_delay(n, rng) for n in range(10) for _ in range(50)]
    assert all(0 <= d <= c for d, c in zip(delays, np.repeat(ceilings, 50), strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not fixed
    assert backoff_delay(10_000, MaxRandom()) == BACKOFF_MAX_S  # no overflow


# -- Beast -------------------------------------------------------------------------------------


def cut_points(sample: bytes) -> dict[str, int]:
    """Byte offsets into the sample that fall inside a frame."""
    pair = sample.find(b"\x1a\x1a")  # an escaped 0x1a inside a message
    start = sample.find(b"\x1a3", 100)  # a long frame's start
    return {"mid-frame": start + 12, "inside-escape-pair": pair + 1, "after-start": start + 1}


@pytest.mark.parametrize("where", ["mid-frame", "inside-escape-pair", "after-start"])
def test_beast_reconnects_after_a_cut_mid_frame(
    serve: Callable[..., Receiver], sample: bytes, where: str
) -> None:
    cut = cut_points(sample)[where]
    first = sample * 3 + sample[:cut]
    second = sample * 2
    server = serve([[first], [second, HOLD]])
    tap, clock = Tap(), Clock()
    source = FeedSource(spec("beast", server.port), clock=clock, on_frames=tap, backoff_base_s=0.05)
    whole = frames_of(sample)
    expected = frames_of(first) + frames_of(second)
    before_cut = len(frames_of(sample[:cut]))
    assert 0 < before_cut < len(whole) and frames_of(sample[:cut] + b"\x1a2") == whole[:before_cut]
    assert expected == whole * 3 + whole[:before_cut] + whole * 2  # only the cut frame is lost
    vectors = poll(source, lambda: len(tap.frames) >= len(expected))
    source.close()

    assert tap.frames == expected  # none lost, duplicated, or corrupted by the cut
    s = source.status
    assert (s.connects, s.reconnects, s.disconnects, s.truncated) == (2, 1, 1, 1)
    assert s.bytes == len(first) + len(second) and s.frames == len(expected)
    assert s.malformed == 0 and s.failures == 0 and not s.connected
    assert s.last_error is not None and "closed" in s.last_error
    assert "beast://127.0.0.1" in s.last_error
    assert s.retry_delay_s <= 0.05  # backoff restarted from the base after connecting
    # stamped with the arrival clock, not the MLAT counter
    assert set(tap.t) <= {T0 + i for i in range(1, clock.calls + 1)}
    assert len(vectors) == s.vectors > 0
    assert np.isin(vectors.t_s, tap.t).all()
    assert np.isin(vectors.icao24, FrameDecoder().decode(tap.t, tap.frames).icao24).all()


def test_a_flood_of_escape_bytes_is_counted_in_bytes(
    serve: Callable[..., Receiver], sample: bytes
) -> None:
    """The attack: 326 MB of 0x1a before the real feed showed `messages 0, dropped 1`. The
    status now counts the bytes discarded (here 4 MiB), and the real frames after them come
    through."""
    flood = b"\x1a" * (4 << 20)
    server = serve([[flood, sample, sample, HOLD]])
    adapter = FeedAdapter(f"beast://127.0.0.1:{server.port}")
    source = adapter.feed
    try:
        whole = frames_of(sample)
        poll(source, lambda: source.status.frames >= 2 * len(whole) - 1, limit_s=60.0)
        s = source.status
        assert s.bytes == len(flood) + 2 * len(sample)
        assert len(flood) - 1 <= s.dropped_bytes <= len(flood) + 32  # + a frame broken by it
        record = source_status(adapter)
        assert record["dropped_bytes"] == s.dropped_bytes and record["messages"] == s.frames
    finally:
        adapter.close()


def test_two_receivers_hearing_the_same_frames_are_decoded_once(
    serve: Callable[..., Receiver], sample: bytes
) -> None:
    dedup = FrameDeduplicator()
    servers = [serve([[sample, HOLD]]), serve([[sample, HOLD]])]
    feeds = [FeedSource(spec("beast", s.port), dedup=dedup) for s in servers]
    whole = frames_of(sample)
    got = StateVectors.concat(
        [poll(feed, lambda f=feed: f.status.frames >= len(whole)) for feed in feeds]  # type: ignore[misc]
    )
    for feed in feeds:
        feed.close()
    alone = FrameDecoder().decode(np.full(len(whole), T0), np.array(whole))
    # everything the second receiver heard, and the capture's own repeats (same arrival)
    expected = 2 * len(whole) - len(set(whole))
    assert dedup.stats.duplicates == sum(f.status.duplicates for f in feeds) == expected
    assert set(got.lat_deg[np.isfinite(got.lat_deg)].tolist()) == set(
        alone.lat_deg[np.isfinite(alone.lat_deg)].tolist()
    )


def test_next_batch_honours_its_timeout(serve: Callable[..., Receiver], sample: bytes) -> None:
    gate = threading.Event()
    server = serve([[gate, sample, HOLD]])
    with FeedSource(spec("beast", server.port)) as source:
        started = time.monotonic()
        assert len(source.next_batch(0.2)) == 0  # connected, nothing sent yet
        assert 0.15 < time.monotonic() - started < 0.6
        assert source.status.connected
        gate.set()
        poll(source, lambda: source.status.frames == len(frames_of(sample)))
        assert source.status.bytes == len(sample)
    assert not source.status.connected
    assert len(source.next_batch(1.0)) == 0  # closed: returns at once, no reconnection
    assert source.status.connects == 1


def test_a_batch_gathers_what_arrives_while_it_lingers(
    serve: Callable[..., Receiver], sample: bytes
) -> None:
    """Bytes written while a batch lingers after its first ones join that batch (one decode
    for both writes), a batch whose feed then falls silent returns when its linger is up, not
    at the caller's deadline, and one that already holds LINGER_BYTES does not linger."""
    half = len(sample) // 2
    second_write = threading.Event()
    server = serve([[sample[:half], second_write, sample[half:], HOLD]])
    tap = Tap()

    def clock() -> float:  # called at each read: the first one lets the server write again
        second_write.set()
        return T0

    with FeedSource(spec("beast", server.port), clock=clock, on_frames=tap, linger_s=5.0) as source:
        source.next_batch(30.0)
        assert tap.frames == frames_of(sample)  # both writes, in one batch
    silent = serve([[sample, HOLD]])
    with FeedSource(spec("beast", silent.port), linger_s=0.3) as source:
        started = time.monotonic()
        source.next_batch(30.0)
        assert source.status.frames == len(frames_of(sample))
        assert time.monotonic() - started < 10.0  # the linger, not the 30 s deadline
    busy = serve([[sample * 2, HOLD]])  # more than LINGER_BYTES: this batch does not linger
    with FeedSource(spec("beast", busy.port), linger_s=60.0) as source:
        started = time.monotonic()
        source.next_batch(60.0)
        assert source.status.frames == 2 * len(frames_of(sample))
        assert time.monotonic() - started < 30.0


# -- refused connections -----------------------------------------------------------------------


def test_refused_port_is_retried_with_growing_delays(
    serve: Callable[..., Receiver], sample: bytes
) -> None:
    port = free_port()
    source = FeedSource(
        spec("beast", port), rng=MaxRandom(), backoff_base_s=0.01, backoff_max_s=0.1
    )
    delays: list[float] = []
    attempts: list[float] = []
    end = time.monotonic() + 5.0
    while source.status.failures < 6:
        assert time.monotonic() < end
        before = source.status.attempts
        started = time.monotonic()
        assert len(source.next_batch(0.0)) == 0  # never an exception; at most one attempt
        returned = time.monotonic()
        assert returned - started < 0.2
        if source.status.attempts > before:
            delays.append(source.status.retry_delay_s)
            attempts.append(returned)
        time.sleep(0.002)
    assert delays[:6] == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.1, 0.1])
    assert attempts[5] - attempts[1] >= sum(delays[1:5]) - 0.01  # and really waited
    s = source.status
    assert not s.connected and s.connects == 0 and s.attempts == s.failures
    assert s.last_error is not None and f"beast://127.0.0.1:{port}" in s.last_error
    assert "refused" in s.last_error.lower()

    # the receiver comes up: connected, and the backoff starts over
    server = serve([[sample, HOLD]], port=port)
    poll(source, lambda: source.status.frames == len(frames_of(sample)))
    assert source.status.connected and source.status.failures == 0
    server.close()
    poll(source, lambda: not source.status.connected, step_s=0.0)  # no attempt after the loss
    assert source.status.disconnects == 1 and source.status.failures == 0
    assert source.status.retry_delay_s == pytest.approx(0.01)
    source.close()


# -- AVR ---------------------------------------------------------------------------------------


def avr_lines(data: bytes) -> bytes:
    """The Beast frames as the three AVR line layouts dump1090 writes, in turn."""
    found = BeastParser().feed(data)
    lines = []
    for i, (frame, ticks, signal) in enumerate(
        zip(found.frame, found.mlat_ticks, found.signal, strict=True)
    ):
        hexa = str(frame).upper()
        layouts = (
            f"*{hexa};",
            f"@{int(ticks):012X}{hexa};",
            f"<{int(ticks):012X}{signal:02X}{hexa};",
        )
        lines.append(layouts[i % 3])
    return ("\n".join(lines) + "\n").encode()


def test_avr_lines_split_mid_line(serve: Callable[..., Receiver], sample: bytes) -> None:
    text = avr_lines(sample)
    mid = text.index(b"\n", len(text) // 2) + 10  # inside a line
    gate = threading.Event()
    cut = text[: text.index(b"\n", 300) + 8]  # the next connection's first part, cut mid-line
    server = serve([[text[:mid], gate, text[mid:], cut], [text, HOLD]])
    tap, clock = Tap(), Clock()
    source = FeedSource(spec("avr", server.port), clock=clock, on_frames=tap, backoff_base_s=0.05)
    early = poll(source, lambda: source.status.bytes == mid)
    whole = frames_of(sample)
    done = len(text[:mid].split(b"\n")) - 1
    assert tap.frames == whole[:done]  # the partial line is held back, not parsed
    gate.set()
    expected = whole + whole[: cut.count(b"\n")] + whole
    vectors = StateVectors.concat([early, poll(source, lambda: len(tap.frames) >= len(expected))])
    source.close()

    assert tap.frames == expected
    s = source.status
    assert (s.reconnects, s.truncated, s.malformed) == (1, 1, 0)
    assert s.bytes == 2 * len(text) + len(cut)
    # batch by batch, the same state vectors as decoding the stamped frames at once
    at_once = FrameDecoder().decode(np.array(tap.t), np.array(tap.frames))
    assert len(vectors) == len(at_once) > 0
    for column in ("t_s", "icao24", "lat_deg", "lon_deg", "alt_baro_ft", "callsign"):
        np.testing.assert_array_equal(getattr(vectors, column), getattr(at_once, column))


# -- SBS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sbs_text(samples: Path) -> bytes:
    """Real positions, callsigns and speeds of traffic's quickstart flights as SBS lines."""
    batch = next(iter(read_recording(samples / "collections" / "quickstart.json.gz")))
    sv = batch.take(np.isfinite(batch.lat_deg) & np.isfinite(batch.gs_kt))
    sv = sv.take(np.argsort(sv.t_s, kind="stable")[:300])
    lines = []
    for r in range(len(sv)):
        icao, t = int(sv.icao24[r]), float(sv.t_s[r])
        lines.append(sbs_line(1, icao, t, {10: str(sv.callsign[r])}))
        speed = {12: f"{sv.gs_kt[r]:.1f}", 13: f"{sv.track_deg[r]:.1f}"}
        lines.append(sbs_line(4, icao, t, speed))
        alt = sv.alt_baro_ft[r]
        position = {14: f"{sv.lat_deg[r]:.5f}", 15: f"{sv.lon_deg[r]:.5f}", 21: "0"}
        position |= {11: f"{alt:.0f}"} if math.isfinite(alt) else {}
        lines.append(sbs_line(3, icao, t, position))
    lines.insert(5, "garbage,line")
    return ("\r\n".join(lines) + "\r\n").encode()


def test_sbs_lines_over_tcp(serve: Callable[..., Receiver], sbs_text: bytes) -> None:
    mid = sbs_text.index(b"MSG,3", len(sbs_text) // 2) + 20  # inside a position line
    gate = threading.Event()
    server = serve([[sbs_text[:mid], gate, sbs_text[mid:], HOLD]])
    source = FeedSource(spec("sbs", server.port))
    first = poll(source, lambda: source.status.bytes == mid)
    gate.set()
    rest = poll(source, lambda: source.status.bytes == len(sbs_text))
    source.close()

    messages, stats = parse_sbs(sbs_text)
    at_once = SbsAssembler().assemble(messages)
    vectors = StateVectors.concat([first, rest])
    assert 0 < len(first) < len(at_once)
    assert source.status.frames == stats.used == 900
    assert source.status.malformed == 1 and source.status.truncated == 0
    assert len(vectors) == len(at_once) == 300
    # rows of one time may come in another order across batches
    vectors = vectors.take(np.lexsort((vectors.icao24, vectors.t_s)))
    at_once = at_once.take(np.lexsort((at_once.icao24, at_once.t_s)))
    for column in ("t_s", "icao24", "lat_deg", "lon_deg", "alt_baro_ft", "gs_kt", "callsign"):
        np.testing.assert_array_equal(getattr(vectors, column), getattr(at_once, column))


def test_a_silent_connection_is_taken_for_half_open_and_reconnected(
    serve: Callable[..., Receiver], sample: bytes
) -> None:
    """The receiver accepts, sends a little, then says nothing more without closing (a peer
    that vanished); the feed gives up on it and the next connection delivers."""
    server = serve([[sample[:100], HOLD], [sample, HOLD]])
    tap = Tap()
    source = FeedSource(
        spec("beast", server.port), on_frames=tap, idle_timeout_s=0.5, backoff_base_s=0.05
    )
    whole = frames_of(sample)
    poll(source, lambda: len(tap.frames) >= len(frames_of(sample[:100])) + len(whole))
    source.close()
    s = source.status
    assert (s.connects, s.disconnects) == (2, 1)
    assert "no data for" in (s.errors[0] if s.errors else "") and "half-open" in s.errors[0]
    assert tap.frames[-len(whole) :] == whole


def test_the_feed_registry_gives_each_scheme_its_port_and_pipeline() -> None:
    from skyfence.sources.live import FEEDS

    for kind, feed in FEEDS.items():
        assert parse_source_uri(f"{kind}://radar.local").port == feed.default_port
    with pytest.raises(ValueError) as caught:
        parse_source_uri("gdl90://radar.local")
    assert all(f"{kind}://HOST:PORT" in str(caught.value) for kind in FEEDS)
