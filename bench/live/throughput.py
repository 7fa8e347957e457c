"""Frames per second through each stage of the live pipeline, and what one batch costs."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import rs1090

from bench.live.baselines import pymodes_loop, pymodes_pipe
from bench.live.workload import (
    CDG,
    MLAT_HZ,
    RECV_BYTES,
    Workload,
    beast_stream,
    chunks,
    fleet,
    frame_mix,
)
from bench.workload import best_of
from skyfence.arrays import F64
from skyfence.decoding.classify import Replies, classify
from skyfence.decoding.frames import FrameDecoder
from skyfence.engine.engine import Engine
from skyfence.engine.zoneset import ZoneSet
from skyfence.schema import StateVectors
from skyfence.sources.beast import MODE_AC, BeastFrames, BeastParser


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
    the live pipeline does (there, a batch is whatever arrived during the previous one): the
    frames go to the decoder as the bytes they came as (`decode_bytes`), never as hex."""
    result = Pass()
    parser = BeastParser()
    decoder = FrameDecoder(reference, replies=replies)
    engine = Engine(zones)
    pending_t: list[F64] = []
    pending: list[BeastFrames] = []
    held = 0
    clock = time.perf_counter

    def run_batch() -> None:
        nonlocal held
        t0 = clock()
        t, frames = np.concatenate(pending_t), BeastFrames.concat(pending)
        pending_t.clear()
        pending.clear()
        held = 0
        sv = decoder.decode_bytes(t, frames.payload, frames.size)
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
        pending.append(mode_s)
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


E2E = "skyfence end to end, replies='all' (live)"
LOOP = "pyModeS loop, ADS-B + DF4/5/20/21"


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
    rates[LOOP], _ = pymodes_loop(base, adsb_only=False)
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
        ("none", "skyfence end to end, replies='none' (ADS-B only)"),
        ("all", E2E),
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
