"""Zones that change while `watch` runs: reloaded on SIGHUP or when a zone file changes.

Publications change during an operation (a NOTAM replaced, a TFR extended), and restarting the
watcher would lose every aircraft's state. A new zone set is read and checked whole first: an
invalid file is refused with its reason and the zones in force stay in force.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.store.events import EventStore
from skyfence.wording import counted
from skyfence.zones.geojson import zone_display_feature
from skyfence.zones.load import load_zone_sources
from skyfence.zones.model import ZoneError

Signature = tuple[tuple[str, int, int], ...]


class ZoneReloader:
    """Called once per tick by `run_watch`: reloads when asked (`request`, from SIGHUP) or when
    a zone file's size or modification time changed, looked at every `check_every_s`."""

    def __init__(
        self,
        sources: list[str],
        engine: Engine,
        store: EventStore | None = None,
        *,
        check_every_s: float = 2.0,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = sources
        self.engine = engine
        self.store = store
        self.check_every_s = check_every_s
        self.say = say
        self.clock = clock
        self.requested = threading.Event()
        self.signature = self._signature()
        self.last_check = clock()
        self.reloads = 0
        self.refused = 0

    def request(self) -> None:
        """Ask for a reload at the next tick (safe from a signal handler)."""
        self.requested.set()

    def _signature(self) -> Signature:
        files = []
        for source in self.sources:
            try:
                stat = os.stat(source)
            except OSError:
                continue  # a bundled set name, or a file being replaced: looked at next time
            files.append((str(Path(source)), stat.st_mtime_ns, stat.st_size))
        return tuple(files)

    def __call__(self) -> list[Event]:
        now = self.clock()
        asked = self.requested.is_set()
        if not asked and now - self.last_check < self.check_every_s:
            return []
        self.last_check = now
        signature = self._signature()
        if not asked and signature == self.signature:
            return []
        self.requested.clear()
        self.signature = signature
        try:
            zones = load_zone_sources(self.sources)
            before = {z.id for z in self.engine.zones.zones}
            events = self.engine.replace_zones(zones)
        except (ZoneError, ValueError) as exc:
            self.refused += 1
            self.say(f"zones not reloaded, the previous zones stay in force: {exc}")
            return []
        self.reloads += 1
        if self.store is not None:
            self.store.set_zones([zone_display_feature(z) for z in zones])
        after = {z.id for z in zones}
        self.say(
            f"zones reloaded: {counted(len(zones), 'zone')} ({len(after - before)} new, "
            f"{len(before - after)} removed, {len(events)} aircraft inside removed zones)"
        )
        return events
