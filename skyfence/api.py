"""The public Python API: what `import skyfence` offers, for notebooks and programs.

It is wiring, like the CLI: the same loaders, the same engine, the same event records, so a
notebook and `skyfence audit` agree event for event and id for id. Internals may move; these
functions and the types they name (`Zone`, `Event`, `Watch`, the errors) stay.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import warnings
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeAlias, overload

import pyarrow as pa
from platformdirs import user_data_dir

from skyfence.alerts.files import EventSink, events_table
from skyfence.audit_options import AuditOptions
from skyfence.audit_summary import Audit
from skyfence.auditing import TableReading, audit_table, run_audit
from skyfence.decoding.dedup import FrameDeduplicator
from skyfence.engine.collection import fewer_collections
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.errors import InputError, SkyfenceError
from skyfence.reporting.incident import incident_report
from skyfence.rules import squawk_rules
from skyfence.scale.dataset import DEFAULT_WORKERS, audit_dataset
from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings, check_non_negative
from skyfence.sources import opensky, traffic_files
from skyfence.sources.base import ReadStats, RecordingError
from skyfence.sources.receiver import Receiver, parse_receiver
from skyfence.store.errors import StoreError
from skyfence.store.events import EventStore
from skyfence.watching import LivePicture, Source, open_source, run_watch
from skyfence.zones import geojson
from skyfence.zones.load import load_zone_source
from skyfence.zones.model import Zone, ZoneError

__all__ = ["Audit", "Watch", "audit", "interference", "load_zones", "report", "watch"]

PathLike: TypeAlias = str | os.PathLike[str]
ZoneSource: TypeAlias = PathLike | Mapping[str, Any]
"""A bundled set name (`"ukraine"`), a zone file, or a GeoJSON FeatureCollection as a dict."""
Zones: TypeAlias = ZoneSource | Sequence[Zone | ZoneSource]
"""What `load_zones` returned, or anything `load_zones` accepts (one source or several)."""
ReceiverLike: TypeAlias = str | tuple[float, float] | tuple[float, float, float]
"""A receiver as (lat, lon), (lat, lon, antenna height in m above sea level) or that as text."""
Time: TypeAlias = datetime | str | float
"""A UTC time: an aware `datetime` (naive is UTC), ISO 8601 text, or UNIX seconds."""

BATCH_ROWS = 1_000_000  # as `skyfence audit` reads files: same batches, same engine calls
OPENSKY_COLUMNS = opensky.REQUIRED
TRAFFIC_COLUMNS = traffic_files.REQUIRED


def load_zones(*sources: ZoneSource) -> list[Zone]:
    """Zones from bundled set names, zone files or GeoJSON dicts, in the order given.

    Files are read by the loader `skyfence ... --zones` uses, so every format the CLI accepts
    (GeoJSON zone files, and the published formats `skyfence zones import` reads) is accepted
    here. A file is accepted whole or rejected whole; what it holds that is not a zone (other
    NOTAMs, FIRs...) is skipped with a warning.

    Args:
        *sources: `"ukraine"` (see `skyfence zones list`), a path, or a GeoJSON
            FeatureCollection already parsed (one Feature per zone, as in a zone file).

    Returns:
        The zones, ready for `audit` and `watch`.

    Raises:
        ZoneError: a source cannot be read or is invalid (every problem, by feature), or two
            sources define the same zone id.
    """
    zones: list[Zone] = []
    skipped: list[str] = []
    for number, source in enumerate(sources, start=1):
        if isinstance(source, Mapping):
            zones += geojson.zones_from_geojson(dict(source), f"<GeoJSON argument {number}>")
        elif isinstance(source, str | os.PathLike):
            zones += load_zone_source(os.fspath(source), skipped)
        else:
            raise ZoneError(f"zone source {number}: {type(source).__name__} is not a name, "
                            "a path or a GeoJSON dict")  # fmt: skip
    ids = Counter(z.id for z in zones)
    duplicated = [i for i, n in ids.items() if n > 1]
    if duplicated:
        raise ZoneError(f"zone ids used in more than one zone file: {', '.join(duplicated)}")
    if skipped:  # other NOTAMs, FIRs...: not zones, and not errors either (as the CLI says)
        shown = "; ".join(skipped[:5])
        warnings.warn(f"{len(skipped)} item(s) skipped as not zones: {shown}", stacklevel=2)
    return zones


@overload
def audit(
    data: Any, zones: Zones, *, lookahead_s: float | None = None, lost_contact_s: float = 60.0,
    since: Time | None = None, until: Time | None = None, format: str | None = None,
    receiver: ReceiverLike | None = None, start: Time | None = None,
    workers: int = DEFAULT_WORKERS, squawks: bool = True, summary: Literal[False] = False,
) -> pa.Table: ...  # fmt: skip


@overload
def audit(
    data: Any, zones: Zones, *, lookahead_s: float | None = None, lost_contact_s: float = 60.0,
    since: Time | None = None, until: Time | None = None, format: str | None = None,
    receiver: ReceiverLike | None = None, start: Time | None = None,
    workers: int = DEFAULT_WORKERS, squawks: bool = True, summary: Literal[True],
) -> Audit: ...  # fmt: skip


def audit(
    data: Any,
    zones: Zones,
    *,
    lookahead_s: float | None = None,
    lost_contact_s: float = 60.0,
    since: Time | None = None,
    until: Time | None = None,
    format: str | None = None,
    receiver: ReceiverLike | None = None,
    start: Time | None = None,
    workers: int = DEFAULT_WORKERS,
    squawks: bool = True,
    summary: bool = False,
) -> pa.Table | Audit:
    """Audit recorded traffic against zones: the events `skyfence audit` finds, as a table.

    All inputs are one stream, as in the CLI: a track continues from one file into the next,
    and lost contacts are decided against the end of the last input.

    Args:
        data: one recording path or several (any format the CLI reads, found from the
            content), a folder of hourly OpenSky Parquet files, a `pyarrow.Table` or a pandas
            `DataFrame` in the OpenSky layout (`time, icao24, lat, lon, ...`, SI units) or the
            `traffic` layout (`timestamp, icao24, latitude, longitude, ...`), or a `traffic`
            `Flight` or `Traffic` (its `.data` is read; `traffic` itself is never imported).
        zones: what `load_zones` returned, or what it accepts (`"ukraine"`, a path, a list).
        lookahead_s: look-ahead for every zone, in seconds (default: each zone's own).
        lost_contact_s: seconds without a trusted position, inside a zone, before a
            `lost_contact` event (> 0).
        since: only state vectors from this time on.
        until: only state vectors before this time.
        format: force the format of recording files (docs/reference/recordings.md).
        receiver: the receiver that made the recording: (lat, lon[, height_m]) or the CLI's
            `"LAT,LON[,HEIGHT_M]"`. Its position decodes surface and lone positions in raw
            frames; positions beyond its radio horizon are quarantined, as `--receiver` does.
        start: UTC time of the first frame of Beast or AVR files (default: their mtime).
        workers: processes for a folder of Parquet files.
        squawks: raise `emergency_squawk` events (7500, 7600, 7700 held 10 s), as
            `skyfence audit` does unless given `--no-squawks`.
        summary: return an `Audit`: the same table as `events`, with the numbers
            `skyfence audit` prints (events per kind and zone, state vectors, positions
            quarantined, aircraft, time span, rows skipped per input).

    Returns:
        One row per event, in the order they were found, with exactly the columns (and
        types) of `skyfence audit -o events.parquet`; `.to_pandas()` where pandas is
        installed. `details` is a JSON object as text. With `summary=True`, an `Audit`.

    Raises:
        ZoneError: invalid zones.
        RecordingError: a recording cannot be read (the message names the file and line).
        InputError: any other argument that cannot be used, or an option this kind of data
            would not apply (`since`...`start` on a folder; `format`, `start` on a table).
    """
    settings = EngineSettings(lookahead_s=lookahead_s, lost_contact_s=lost_contact_s)
    options = AuditOptions(
        settings,
        _seconds(since, "since"),
        _seconds(until, "until"),
        format,
        _receiver(receiver),
        _seconds(start, "start"),
        squawks=squawks,
    )
    rules = squawk_rules(squawks, settings.forget_after_s)
    zone_list = _zones(zones)
    collected = _Collect()
    # as `skyfence audit` runs: the same allocations, collected as seldom
    with _as_skyfence_errors(), fewer_collections():  # each path checks its options
        table = _table(data)
        if table is not None:
            stats = ReadStats()
            where, batches = _state_vectors(table, stats)
            reading = TableReading(where, batches, stats)
            engine = Engine(zone_list, settings, rules=rules)
            result = audit_table(where, reading, engine, [collected], options)
        else:
            paths = _paths(data)
            if len(paths) == 1 and paths[0].is_dir():
                result = audit_dataset(paths[0], zone_list, options, [collected], workers)
            else:
                options.check("files")  # before a missing file is looked for
                for path in paths:
                    if not path.is_file():
                        raise RecordingError(path, "no such file")
                engine = Engine(zone_list, settings, rules=rules)
                result = run_audit(paths, engine, [collected], options, batch_rows=BATCH_ROWS)
    for where, (n, problems) in result.skipped.items():
        _warn_skipped(where, n, problems)
    table = events_table(collected.events)
    return Audit.of(table, result) if summary else table


def interference(
    data: Any,
    *,
    resolution: int = 4,
    hour: Time | None = None,
    format: str | None = None,
) -> pa.Table:
    """GNSS interference in recorded traffic, per H3 cell and hour, as `skyfence interference`.

    Every position is judged by the engine's integrity rules; each cell counts the aircraft
    seen, those degraded (jamming), those spoofed, and the spoofed positions it was claimed by.

    Args:
        data: recording paths, or an in-memory table, as `audit` takes them.
        resolution: H3 resolution, 0-10 (4: about 1,770 km² a cell, as gpsjam).
        hour: only this hour (UTC).
        format: force the format of recording files.

    Returns:
        One row per (hour, cell), with the columns of `skyfence interference -o cells.parquet`.

    Raises:
        RecordingError: a recording cannot be read.
        InputError: a resolution outside 0-10, or data that cannot be read.
    """
    from skyfence.gnss.aggregate import HOUR_S, InterferencePicture
    from skyfence.gnss.outputs import cells_table

    only = _seconds(hour, "hour")
    try:
        picture = InterferencePicture(resolution)
    except ValueError as exc:
        raise InputError(f"resolution: {exc}") from None
    engine = Engine([], keep_judged=True)
    with _as_skyfence_errors():
        table = _table(data)
        if table is not None:
            for batch in _state_vectors(table, ReadStats())[1]:
                engine.process(batch)
                picture.add(engine.take_judged())
        else:
            paths = _paths(data)
            for path in paths:
                if not path.is_file():
                    raise RecordingError(path, "no such file")
            run_audit(paths, engine, [], AuditOptions(format=format),
                      on_batch=lambda _path, _n: picture.add(engine.take_judged()))  # fmt: skip
    counts = picture.counts()
    if only is not None:
        counts = counts.take(counts.hour_s == (int(only) // HOUR_S) * HOUR_S)
    return cells_table(counts)


def watch(
    sources: PathLike | Sequence[PathLike],
    zones: Zones,
    *,
    lookahead_s: float | None = None,
    lost_contact_s: float = 60.0,
    speed: float | None = None,
    receiver: ReceiverLike | None = None,
    store: PathLike | None = None,
    squawks: bool = True,
) -> Watch:
    """Watch feeds (or replay recordings) against zones, yielding events as they are found.

    The same engine as `audit`, cut in time: a recording replayed here yields the events (and
    ids) `audit` finds in it. The work runs in a thread of its own; iterate the result, with
    `for` or `async for`, and close it (or use it as a context manager) to stop.

    Args:
        sources: `beast://HOST:30005`, `avr://HOST:30002`, `sbs://HOST:30003` (reconnected
            by themselves), `http://HOST/data/aircraft.json` (readsb/tar1090, polled), or
            recording files, replayed in time order; one or several.
        zones: what `load_zones` returned, or what it accepts.
        lookahead_s: look-ahead for every zone, in seconds (default: each zone's own).
        lost_contact_s: seconds without a trusted position inside a zone before `lost_contact`.
        speed: replay recordings at this many times real time; None or 0: as fast as possible.
        receiver: the antenna of sources that do not name their own
            (`beast://HOST?receiver=LAT,LON`): (lat, lon[, height_m]) or `"LAT,LON[,HEIGHT_M]"`,
            as `--receiver`; positions beyond its radio horizon are quarantined.
        store: an event store (SQLite) to record events, the live picture and the track log
            in, as `skyfence watch --store` does: `report` and `skyfence serve` read it.
        squawks: raise `emergency_squawk` events, as `skyfence watch` does unless given
            `--no-squawks`.

    Returns:
        A `Watch`: an iterator and an async iterator of `Event`.

    Raises:
        ZoneError: invalid zones.
        RecordingError: a recording does not exist or cannot be read.
        StoreError: the store cannot be opened.
        InputError: a malformed feed URI, or a negative speed.
    """
    if speed is not None:
        check_non_negative("speed", speed)
    texts = [os.fspath(sources)] if isinstance(sources, str | os.PathLike) else sources
    settings = EngineSettings(lookahead_s=lookahead_s, lost_contact_s=lost_contact_s)
    rules = squawk_rules(squawks, settings.forget_after_s)
    engine = Engine(_zones(zones), settings, keep_judged=store is not None, rules=rules)
    antenna = _receiver(receiver)
    dedup = FrameDeduplicator()  # one transmission heard by several receivers: decoded once
    opened: list[Source] = []
    try:
        with _as_skyfence_errors():
            for text in texts:
                source = open_source(os.fspath(text), speed or None, dedup=dedup, receiver=antenna)
                opened.append(source)
            event_store = EventStore(Path(store)) if store is not None else None
    except BaseException:
        for source in opened:
            source.close()
        raise
    return Watch(engine, opened, event_store)


_END = object()  # the watch thread is done


class Watch:
    """A running watch: iterate it for events, close it to stop (pending events are flushed).

    Events come through a bounded queue: a consumer that falls behind slows the reading of
    recordings (live feeds keep their own buffers, and count what they drop).
    """

    def __init__(self, engine: Engine, sources: list[Source], store: EventStore | None) -> None:
        self._engine = engine
        self._sources = sources
        self._store = store
        self._queue: queue.Queue[object] = queue.Queue(maxsize=64)
        self._stop = threading.Event()
        self._pending: deque[Event] = deque()
        self._thread: threading.Thread | None = None
        self._done = False
        self._lock = threading.Lock()

    # -- iteration ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while not self._pending:
            events = self._take(None)
            if events is _END:
                raise StopIteration
            self._pending.extend(events)
        return self._pending.popleft()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._pending:
            # a short wait in a thread, so that a cancelled task leaves nothing blocked long
            events = await asyncio.to_thread(self._take, 0.25)
            if events is _END:
                raise StopAsyncIteration
            self._pending.extend(events)
        return self._pending.popleft()

    def _take(self, timeout: float | None) -> Any:
        """The thread's next events ([] after `timeout`), or `_END` once it is done; raises
        the error that ended it."""
        self._start()
        if self._done:
            return _END
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        if item is _END or isinstance(item, BaseException):
            self._done = True
            self._thread_join()
            if isinstance(item, BaseException):
                raise item
        return item

    # -- the thread -----------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="skyfence-watch",
                                                daemon=True)  # fmt: skip
                self._thread.start()

    def _run(self) -> None:
        sinks: list[EventSink] = []
        picture = None
        try:
            if self._store is not None:
                sinks.append(self._store)
                self._store.set_zones([geojson.zone_display_feature(z)
                                       for z in self._engine.zones.zones])  # fmt: skip
                picture = LivePicture(self._engine, self._sources, self._store)
            run_watch(
                self._sources,
                self._engine,
                sinks,
                should_stop=self._stop.is_set,
                on_events=self._put,
                on_tick=picture.tick if picture is not None else None,
            )
            if picture is not None:
                picture.tick([], force=True)
            if self._store is not None:
                self._store.flush()
        except Exception as exc:
            self._put(_skyfence_error(exc))
        self._put(_END)

    def _put(self, item: object) -> None:
        while True:  # waits for the consumer, but never outlives close()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():
                    return

    def _thread_join(self) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    # -- closing --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading, flush the store and close every source; safe to call twice."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is None:
            for source in self._sources:
                source.close()
        else:
            thread.join()
        self._done = True
        if self._store is not None and not self._store.closed:
            self._store.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)


def report(event_id: str, *, store: PathLike | None = None, out: PathLike | None = None) -> str:
    """One event explained on a self-contained HTML page, as `skyfence report EVENT_ID`.

    Args:
        event_id: the event's `id` (from `audit`, `watch`, the store or the API).
        store: the event store (default: the one `skyfence watch` writes in the user data
            folder).
        out: also write the page to this file.

    Returns:
        The HTML page: map, altitude profile against the zone's band, evidence table.

    Raises:
        StoreError: no event store at that path, or it cannot be read.
        EventNotFoundError: no such event in the store.
    """
    path = Path(store) if store is not None else Path(user_data_dir("skyfence")) / "events.sqlite"
    if not path.exists():
        raise StoreError(path, "no event store here (run watch or demo first, or give store=)")
    with EventStore(path) as event_store:
        page = incident_report(event_store, event_id)
    if out is not None:
        Path(out).write_text(page, encoding="utf-8")
    return page


# -- helpers ----------------------------------------------------------------------------------


class _Collect:
    """An event sink that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: list[Event]) -> None:
        self.events += events

    def close(self) -> None:
        pass


@contextmanager
def _as_skyfence_errors() -> Iterator[None]:
    """Errors from below (a ValueError from pyarrow, an OSError) reach the caller as
    `SkyfenceError`s with the message the CLI prints for them."""
    try:
        yield
    except SkyfenceError:
        raise
    except (ValueError, OSError) as exc:
        raise InputError(str(exc)) from exc


def _skyfence_error(exc: Exception) -> Exception:
    if isinstance(exc, SkyfenceError):
        return exc
    if isinstance(exc, ValueError | OSError):
        return InputError(str(exc))
    return exc


def _zones(zones: Zones) -> list[Zone]:
    if isinstance(zones, str | os.PathLike | Mapping):
        return load_zones(zones)
    items = list(zones)
    if all(isinstance(z, Zone) for z in items):
        return [z for z in items if isinstance(z, Zone)]
    if any(isinstance(z, Zone) for z in items):
        raise ZoneError("zones: give Zone objects or zone sources, not both")
    return load_zones(*[z for z in items if not isinstance(z, Zone)])


def _receiver(value: ReceiverLike | None) -> Receiver | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else ",".join(str(v) for v in value)
    try:
        return parse_receiver(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _seconds(value: Time | None, name: str) -> float | None:
    if value is None or isinstance(value, float | int):
        return None if value is None else float(value)
    if isinstance(value, datetime):  # pandas' Timestamp is one too
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    try:
        return geojson.parse_time(value)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None


def _paths(data: Any) -> list[Path]:
    if isinstance(data, str | os.PathLike):
        return [Path(data)]
    if isinstance(data, Sequence) and data and all(isinstance(p, str | os.PathLike) for p in data):
        return [Path(p) for p in data]
    raise InputError(
        f"data: {type(data).__name__} is not a path, a list of paths, a pyarrow Table, "
        "a pandas DataFrame or a traffic Flight/Traffic"
    )


def _table(data: Any) -> pa.Table | None:
    """`data` as an Arrow table, or None when it is not an in-memory table (paths)."""
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data
    frame = getattr(data, "data", data)  # traffic's Flight and Traffic hold a DataFrame
    if type(frame).__module__.startswith("pandas") and type(frame).__name__ == "DataFrame":
        return pa.Table.from_pandas(frame, preserve_index=False)
    return None


def _state_vectors(table: pa.Table, stats: ReadStats) -> tuple[str, Iterator[StateVectors]]:
    """Batches as the file readers make them, from whichever layout the table has."""
    names = set(table.schema.names)
    convert: Callable[[pa.Table, ReadStats, str], StateVectors]
    if names.issuperset(OPENSKY_COLUMNS):
        convert, where = opensky.to_state_vectors, "OpenSky table"
    elif names.issuperset(TRAFFIC_COLUMNS):
        convert, where = traffic_files.to_state_vectors, "traffic table"
    else:
        raise InputError(
            f"data: columns {sorted(names)} are neither the OpenSky layout "
            f"({', '.join(OPENSKY_COLUMNS)}) nor traffic's ({', '.join(TRAFFIC_COLUMNS)})"
        )
    slices = (table.slice(start, BATCH_ROWS) for start in range(0, table.num_rows, BATCH_ROWS))
    return where, (
        convert(part, stats, f"rows {start}-{start + part.num_rows - 1}")
        for start, part in zip(range(0, table.num_rows, BATCH_ROWS), slices, strict=True)
    )


def _warn_skipped(where: str, n: int, problems: list[str]) -> None:
    """Rows skipped are said, never silent: a notebook shows the warning under the cell."""
    shown = "; ".join(problems[:5])
    warnings.warn(f"{where}: {n:,} malformed rows skipped ({shown})", UserWarning, stacklevel=3)
