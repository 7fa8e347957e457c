"""`skyfence audit`: recordings, a folder of hourly files, or Spark, against zones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from skyfence.cli.common import (
    ZonesOption,
    console,
    errors,
    fail,
    load_or_fail,
    outputs_or_fail,
    receiver_or_fail,
    settings_or_fail,
    time_or_fail,
)
from skyfence.cli.render import print_events, print_summary
from skyfence.cli.rules import SquawksOption, WatchedOnlyZoneOption, WatchlistOption, rules_or_fail
from skyfence.engine.events import Event

if TYPE_CHECKING:
    from skyfence.alerts.files import EventSink
    from skyfence.audit_options import AuditOptions
    from skyfence.audit_result import AuditResult
    from skyfence.engine.engine import Engine
    from skyfence.zones.model import Zone


def audit(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Recordings (format found from content)."),
    ],
    zones: ZonesOption,
    out: Annotated[
        list[Path] | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Event file: .jsonl, .csv or .parquet, replaced if it exists (an audit is a "
            "whole answer).",
        ),
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="Force the input format (see docs/reference/recordings.md)."),
    ] = None,
    lookahead: Annotated[
        float | None, typer.Option(help="Look-ahead in seconds for every zone (default: per zone).")
    ] = None,
    lost_contact: Annotated[float, typer.Option(help="Seconds without a position.")] = 60.0,
    since: Annotated[
        str | None, typer.Option(help="Only state vectors from this UTC time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only state vectors before this UTC time.")
    ] = None,
    show: Annotated[int, typer.Option(help="Print at most this many events.")] = 50,
    receiver: Annotated[
        str | None,
        typer.Option(
            help="Receiver position LAT,LON[,HEIGHT_M] of a recording one receiver made: "
            "decodes surface and lone positions; positions beyond its radio horizon are "
            "quarantined."
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="UTC time of the first frame of Beast/AVR files (default: mtime)."),
    ] = None,
    engine_name: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local, or spark: OpenSky-layout Parquet files or folders, events to -o DIR.",
        ),
    ] = "local",
    master: Annotated[
        str, typer.Option(help="Spark master (with --engine spark), e.g. spark://host:7077.")
    ] = "local[*]",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes for a folder of hourly Parquet files (OpenSky); each reads in a "
            "thread beside its engine, so the default is one per two cores.",
            show_default=False,
        ),
    ] = None,
    watchlist: WatchlistOption = None,
    watched_only_zone: WatchedOnlyZoneOption = None,
    squawks: SquawksOption = True,
) -> None:
    """Audit recorded traffic against zones.

    Every event, with a summary per zone and kind.
    """
    from skyfence.alerts.files import open_sink
    from skyfence.audit_options import AuditOptions, AuditPath
    from skyfence.engine.engine import Engine
    from skyfence.scale.dataset import DEFAULT_WORKERS, audit_dataset
    from skyfence.sources.recordings import RecordingError

    settings = settings_or_fail(lookahead, lost_contact)
    since_s, until_s = time_or_fail(since, "--since"), time_or_fail(until, "--until")
    options = AuditOptions(
        settings,
        since_s,
        until_s,
        file_format,
        receiver_or_fail(receiver) if receiver is not None else None,
        time_or_fail(start, "--start"),
        tuple(str(p) for p in watchlist or ()),
        tuple(watched_only_zone or ()),
        squawks,
    )
    outputs_or_fail(inputs, out or [])
    folder = len(inputs) == 1 and inputs[0].is_dir()
    path: AuditPath = "spark" if engine_name == "spark" else "folder" if folder else "files"
    try:  # here too, with the CLI's spelling, before zones are loaded or Spark is started
        options.check(path, "--")
    except ValueError as exc:
        raise fail(str(exc)) from None
    if engine_name == "spark":
        if not out or len(out) != 1:
            raise fail("--engine spark writes its events to one folder: give -o DIR")
        print_summary(_audit_on_spark(inputs, load_or_fail(zones), options, out[0], master))
        console.print(f"events written to [bold]{escape(str(out[0]))}[/]")
        return
    if engine_name != "local":
        raise fail(f"--engine {engine_name!r}: use local or spark")
    zone_list = load_or_fail(zones)
    if show < 0:
        raise fail("--show must be >= 0")
    workers = DEFAULT_WORKERS if workers is None else workers
    if workers < 1:
        raise fail("--workers must be >= 1")
    engine = None
    if not folder:
        rules = rules_or_fail(watchlist, watched_only_zone, squawks, zone_list, settings)
        engine = Engine(zone_list, settings, rules=rules)
        for path_in in inputs:
            if not path_in.is_file():
                raise fail(f"{path_in}: no such file")
    sinks: list[EventSink] = []
    try:
        sinks = [open_sink(p) for p in out or []]
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    shown: list[Event] = []

    def show_first(events: list[Event]) -> None:
        shown.extend(events[: max(0, show - len(shown))])

    try:
        if engine is None:
            with console.status(f"auditing {escape(str(inputs[0]))} with {workers} worker(s)"):
                result = audit_dataset(inputs[0], zone_list, options, sinks, workers, show_first)
        else:
            result = _audit_with_progress(inputs, engine, sinks, options, show_first)
    except (RecordingError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    finally:
        for sink in sinks:
            sink.close()
    print_events(shown, result.events)
    print_summary(result)
    for p in out or []:
        console.print(f"events written to [bold]{escape(str(p))}[/]")


def _audit_on_spark(
    inputs: list[Path], zones: list[Zone], options: AuditOptions, out: Path, master: str
) -> AuditResult:
    try:
        from skyfence.scale.spark import run_spark_audit, spark_session
    except ImportError:
        raise fail("--engine spark needs pyspark: pip install 'skyfence[spark]'") from None
    for path in inputs:
        if not path.exists():
            raise fail(f"{path}: no such file or folder")
    spark = spark_session(master)
    try:
        return run_spark_audit(spark, [str(p) for p in inputs], zones, options, out)
    except ValueError as exc:
        raise fail(str(exc)) from None
    finally:
        spark.stop()


def _audit_with_progress(
    inputs: list[Path],
    engine: Engine,
    sinks: list[EventSink],
    options: AuditOptions,
    on_events: Callable[[list[Event]], None],
) -> AuditResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skyfence.auditing import run_audit
    from skyfence.engine.collection import fewer_collections

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:,} state vectors"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress, fewer_collections():
        task = progress.add_task("auditing", total=len(inputs), rows=0)
        done: set[Path] = set()
        rows = 0

        def on_batch(path: Path, n: int) -> None:
            nonlocal rows
            rows += n
            done.add(path)
            progress.update(task, completed=len(done) - 1, rows=rows, description=path.name)

        result = run_audit(
            inputs,
            engine,
            sinks,
            options,
            on_batch=on_batch,
            on_events=on_events,
        )
        progress.update(task, completed=len(inputs))
    return result
