"""One audit on two cores: the aircraft split between this process's engine and a worker's.

Aircraft never interact in the engine (all it carries is per aircraft, or per aircraft and
zone), so two engines fed disjoint sets of aircraft raise, between them, the single engine's
events. Merged by `Event.sort_key` they come in the single engine's order: the sort is stable,
and events that tie are one aircraft's, so from one engine, in its own order. What is not per
aircraft is kept here: the clock that decides the last lost contacts (the later of the two
engines'), and the rules beyond areas (skyfence.rules), which see each whole batch in this
process, split exactly as `Engine.process` splits it, and admit the merged events.

Why a process and not a thread: the engine's steps are many short numpy calls and Python
between them, which hold the interpreter lock. The worker is a new interpreter running this
module (`python -m skyfence.engine.split`), not a fork (the reading thread and the progress
display run threads) nor a multiprocessing spawn (which would run the caller's main script
again); it imports the engine while this process reads the first batch. The reading thread
sends it its half of each batch through a pipe (pickling numpy columns is a memory copy), a
batch ahead of this process's engine.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import traceback
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from skyfence.engine.collection import YOUNG_THRESHOLD
from skyfence.engine.engine import (
    Engine,
    Rules,
    _after_long_silence,
    _sorted,
    engine_order,
)
from skyfence.engine.events import Event
from skyfence.schema import StateVectors

# Below this many bytes of input the audit takes about a second or less, and a second process
# (its imports cost about 0.4 s of CPU) is not worth starting.
SPLIT_MIN_BYTES = 8_000_000
# Cores the rest of the machine must leave idle: the engine, its reading thread and the worker.
MIN_IDLE_CORES = 3
# The worker's share of the aircraft (by a hash of the address): this process also reads,
# merges and writes the events, so the worker takes more than half of the engine's work.
WORKER_SHARE = 0.5


def theirs(icao24: npt.NDArray[np.uint32], share: float = WORKER_SHARE) -> npt.NDArray[np.bool_]:
    """The rows of the worker's aircraft: a multiplicative hash of the whole address, so that
    addresses alike in their low bits (a registry's block) still fall on both sides."""
    mixed = icao24.astype(np.uint32) * np.uint32(0x9E3779B1)  # wraps modulo 2**32
    return mixed < np.uint32(min(share, 1.0) * 0xFFFFFFFF)


class SplitEngine:
    """`process` and `finish` as `Engine`'s, for batches that passed through `feed` (in the
    reading thread) first. The engine given keeps this process's half and, at `finish`, the
    statistics of both; `close` stops the worker (always call it)."""

    def __init__(self, engine: Engine, share: float = WORKER_SHARE) -> None:
        if engine.stats.rows or engine.keep_judged:
            raise ValueError("a split engine starts from a fresh engine that keeps no batches")
        worker_in, to_worker = os.pipe()
        from_worker, worker_out = os.pipe()
        package = str(Path(__file__).resolve().parents[2])  # where this skyfence is
        path = os.pathsep.join([package, *filter(None, [os.environ.get("PYTHONPATH")])])
        self._worker = subprocess.Popen(
            [sys.executable, "-m", "skyfence.engine.split", str(worker_in), str(worker_out)],
            pass_fds=(worker_in, worker_out),
            env={**os.environ, "PYTHONPATH": path},
        )
        os.close(worker_in)
        os.close(worker_out)
        self._to_worker = Connection(to_worker, readable=False)
        self._from_worker = Connection(from_worker, writable=False)
        self.engine = engine
        self.share = share
        self._own: deque[tuple[StateVectors, StateVectors]] = deque()
        self._counts: dict[str, int] = {}
        self._zones_sent = False

    def feed(
        self, items: Iterator[tuple[StateVectors, list[int]]]
    ) -> Iterator[tuple[StateVectors, list[int]]]:
        """The same items; run in the reading thread, it sends each batch's worker half ahead
        and keeps this process's half for `process`."""
        for batch, aircraft in items:
            if not self._zones_sent:  # now, not at start: the pipe blocks until the worker reads
                self._to_worker.send((self.engine.zones, self.engine.settings))
                self._zones_sent = True
            mask = theirs(batch.icao24, self.share)
            self._to_worker.send(batch.take(mask))
            self._own.append((batch, batch.take(~mask)))
            yield batch, aircraft

    def process(self, batch: StateVectors) -> list[Event]:
        """The events of a batch `feed` yielded, in the single engine's order."""
        whole, own = self._own.popleft()
        if whole is not batch:
            raise ValueError("batches must reach process in the order feed yielded them")
        rules, self.engine.rules = self.engine.rules, None  # run here, on the whole batch
        try:
            events = self.engine.process(own)
        finally:
            self.engine.rules = rules
        if rules is not None:
            events += _rule_events(rules, batch, self.engine.settings.forget_after_s)
        return self._merged(events + self._receive("events")[0])

    def finish(self) -> list[Event]:
        """End of input: the later clock of the two engines decides the last lost contacts,
        as the single engine's (the latest fix of all) would."""
        if not self._zones_sent:  # no batch at all
            self._to_worker.send((self.engine.zones, self.engine.settings))
            self._zones_sent = True
        self._to_worker.send(None)
        clock = max(self.engine.clock_s, self._receive("clock")[0])
        self._to_worker.send(clock)
        theirs, stats = self._receive("finish")
        self.close()
        rules, self.engine.rules = self.engine.rules, None  # admitted with the worker's
        try:
            mine = self.engine.advance_clock(clock)
        finally:
            self.engine.rules = rules
        events = self._merged(mine + theirs)
        total = self.engine.stats
        total.rows += stats.rows
        total.fixes += stats.fixes
        total.trusted += stats.trusted
        total.suspect += stats.suspect
        total.events = dict(self._counts)
        return events

    def close(self) -> None:
        """Stop the worker (`finish` does; an audit that fails may leave it to this, or to
        the pipes' closing when this object goes, on which the worker ends)."""
        self._to_worker.close()
        self._from_worker.close()
        try:
            self._worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._worker.kill()
            self._worker.wait()

    def _merged(self, events: list[Event]) -> list[Event]:
        if self.engine.rules is not None:
            events = self.engine.rules.admit(events)
        for e in events:
            self._counts[e.kind] = self._counts.get(e.kind, 0) + 1
        return sorted(events, key=Event.sort_key)

    def _receive(self, expected: str) -> list[Any]:
        try:
            kind, *values = list(self._from_worker.recv())
        except EOFError:
            raise RuntimeError(
                f"the engine's worker process ended (exit code {self._worker.poll()})"
            ) from None
        if kind == "error":
            raise RuntimeError(f"the engine's worker process failed:\n{values[0]}")
        if kind != expected:
            raise RuntimeError(f"the engine's worker sent {kind!r}, not {expected!r}")
        return values


def split_for(engine: Engine, inputs: list[Path]) -> SplitEngine | None:
    """A split engine when it may pay: a fresh engine, inputs of at least SPLIT_MIN_BYTES, and
    MIN_IDLE_CORES left idle by the rest of the machine. The worker's start-up and the pipe cost
    about 20 % more CPU in all; on two cores (the audit's reading thread already uses the
    second) it gained 4 % of wall time at best, within noise, at load 1.7-1.9, and lost on a
    busy machine (bench/RESULTS.md). None: the engine alone."""
    if engine.stats.rows or engine.keep_judged or idle_cores() < MIN_IDLE_CORES:
        return None
    size = sum(path.stat().st_size for path in inputs if path.is_file())
    return SplitEngine(engine) if size >= SPLIT_MIN_BYTES else None


def idle_cores() -> float:
    """Cores the last minute's load average leaves free."""
    return (os.cpu_count() or 1) - os.getloadavg()[0]


def _rule_events(rules: Rules, sv: StateVectors, forget_after_s: float) -> list[Event]:
    """`rules.batch` called on the same rows, in the same pieces, as `Engine.process` calls
    it: sorted, and split after an aircraft's long silence."""
    if len(sv) == 0:
        return []
    t_fix = sv.fix_time_s()
    if not _sorted(sv.icao24, t_fix):
        order = engine_order(sv, t_fix)
        sv, t_fix = sv.take(order), t_fix[order]
    later = _after_long_silence(sv.icao24, t_fix, forget_after_s)
    if later.any():
        first = _rule_events(rules, sv.take(~later), forget_after_s)
        return first + _rule_events(rules, sv.take(later), forget_after_s)
    return rules.batch(sv, t_fix)


def _serve(batches: Connection, events: Connection) -> None:
    """The worker: an engine of its own for its aircraft, until the clock of the end."""
    try:
        zones, settings = batches.recv()
        engine = Engine(zones, settings)
        while (batch := batches.recv()) is not None:
            events.send(("events", engine.process(batch)))
        events.send(("clock", engine.clock_s))
        clock = batches.recv()
        events.send(("finish", engine.advance_clock(clock), engine.stats))
    except (EOFError, BrokenPipeError):  # the audit stopped: nothing to report to
        return
    except BaseException:
        with contextlib.suppress(OSError):  # the audit may have stopped meanwhile
            events.send(("error", traceback.format_exc()))


if __name__ == "__main__":  # the worker, started by SplitEngine with its two pipes
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the audit, which closes the pipes
    gc.freeze()  # as skyfence.engine.collection does in the audit's own process
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), False))
