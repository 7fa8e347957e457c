"""The `skyfence` command: wiring only; the work is done by the modules it calls."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from platformdirs import user_data_dir
from rich.console import Console
from rich.markup import escape

from skyfence.engine.events import EVENT_KINDS, Event, iso_time
from skyfence.kinds import KINDS
from skyfence.web.defaults import DEFAULT_HOST, DEFAULT_PORT
from skyfence.wording import counted

# Every command imports what it needs when it runs: `skyfence --help` and `zones list` must not
# pay for numpy, pyarrow, the web server, matplotlib or Spark (tests/test_cli_startup.py).
if TYPE_CHECKING:
    from collections.abc import Callable

    from skyfence.alerts.files import EventSink
    from skyfence.auditing import AuditResult
    from skyfence.engine.engine import Engine
    from skyfence.settings import EngineSettings
    from skyfence.sources.receiver import Receiver
    from skyfence.store.events import EventStore
    from skyfence.zones.model import Zone

app = typer.Typer(
    help="skyfence: watch restricted airspace in ADS-B traffic; explain and record every "
    "incursion. It never guides an interception.",
    no_args_is_help=True,
    add_completion=False,
)
zones_app = typer.Typer(help="List, show, check and import zone sets.", no_args_is_help=True)
app.add_typer(zones_app, name="zones")


def _print_version(value: bool) -> None:
    if value:
        import skyfence

        console.print(f"skyfence {skyfence.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """skyfence: watch restricted airspace in ADS-B traffic; explain and record every
    incursion. It never guides an interception."""


# long lines stay whole (they are grepped and copied), and tables are not cut at 80 columns
# when the output goes to a file or a pipe
WIDTH = None if sys.stdout.isatty() else 200
console = Console(soft_wrap=True, width=WIDTH)
errors = Console(stderr=True, soft_wrap=True, width=WIDTH)

ZonesOption = Annotated[
    list[str],
    typer.Option(
        "--zones",
        "-z",
        metavar="FILE|SET",
        help="Zone file (GeoJSON, OpenAir, NOTAM, FAA TFR, ED-269, ED-318, AIXM) or bundled "
        "set name, e.g. ukraine.",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _load(sources: list[str]) -> list[Zone]:
    from skyfence.zones.load import load_zone_sources
    from skyfence.zones.model import ZoneError

    skipped: list[str] = []
    try:
        zones = load_zone_sources(sources, skipped)
    except ZoneError as exc:
        raise _fail(str(exc)) from None
    if skipped:  # other NOTAMs, FIRs...: not zones, and not errors either
        errors.print(f"{len(skipped)} item(s) skipped as not zones:", highlight=False)
        for line in skipped:
            errors.print(f"  {escape(line)}", highlight=False)
    return zones


def _receiver(text: str) -> Receiver:
    from skyfence.sources.receiver import parse_receiver

    try:
        return parse_receiver(text)
    except ValueError as exc:
        raise _fail(f"--{exc}") from None


def _time(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    from skyfence.zones.geojson import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise _fail(f"{name}: {exc}") from None


@app.command()
def audit(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Recordings (format found from content)."),
    ],
    zones: ZonesOption,
    out: Annotated[
        list[Path] | None,
        typer.Option("--out", "-o", metavar="FILE", help="Event file: .jsonl, .csv or .parquet."),
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
) -> None:
    """Audit recorded traffic against zones.

    Every event, with a summary per zone and kind.
    """
    from skyfence.alerts.files import open_sink
    from skyfence.engine.engine import Engine
    from skyfence.settings import EngineSettings
    from skyfence.sources.recordings import RecordingError

    if lookahead is not None and lookahead < 0:
        raise _fail("--lookahead must be >= 0")
    settings = EngineSettings(lookahead_s=lookahead, lost_contact_s=lost_contact)
    per_file = {"--since": since, "--until": until, "--format": file_format}
    per_file |= {"--receiver": receiver, "--start": start}
    given = [name for name, value in per_file.items() if value is not None]
    if given and (engine_name == "spark" or (len(inputs) == 1 and inputs[0].is_dir())):
        # refused, not ignored: a --since that is not applied reports events before it
        where = "with --engine spark" if engine_name == "spark" else "on a folder"
        raise _fail(f"{', '.join(given)}: not applied {where}; audit the files themselves")
    if engine_name == "spark":
        if not out or len(out) != 1:
            raise _fail("--engine spark writes its events to one folder: give -o DIR")
        _audit_on_spark(inputs, _load(zones), settings, out[0], master)
        return
    if engine_name != "local":
        raise _fail(f"--engine {engine_name!r}: use local or spark")
    if len(inputs) == 1 and inputs[0].is_dir():
        _audit_dataset(inputs[0], _load(zones), settings, out or [], workers, show)
        return
    engine = Engine(_load(zones), settings)
    since_s, until_s = _time(since, "--since"), _time(until, "--until")
    if since_s is not None and until_s is not None and since_s >= until_s:
        raise _fail("--since must be before --until")
    if show < 0:
        raise _fail("--show must be >= 0")
    antenna = _receiver(receiver) if receiver is not None else None
    start_s = _time(start, "--start")
    for path in inputs:
        if not path.is_file():
            raise _fail(f"{path}: no such file")
    sinks: list[EventSink] = []
    try:
        sinks = [open_sink(p) for p in out or []]
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    shown: list[Event] = []
    try:
        result = _audit_with_progress(
            inputs, engine, sinks, file_format, since_s, until_s, shown, show, antenna, start_s
        )
    except (RecordingError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    finally:
        for sink in sinks:
            sink.close()
    _print_events(shown, result.events)
    _print_summary(result)
    for p in out or []:
        console.print(f"events written to [bold]{p}[/]")


def _audit_dataset(
    root: Path, zones: list[Zone], settings: EngineSettings, out: list[Path],
    workers: int | None, show: int,
) -> None:  # fmt: skip
    from skyfence.alerts.files import open_sink
    from skyfence.scale.dataset import DEFAULT_WORKERS, audit_dataset

    workers = DEFAULT_WORKERS if workers is None else workers
    if workers < 1:
        raise _fail("--workers must be >= 1")
    try:
        sinks = [open_sink(p) for p in out]
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    try:
        with console.status(f"auditing {escape(str(root))} with {workers} worker(s)"):
            result = audit_dataset(root, zones, settings, workers)
        for sink in sinks:
            sink.write(result.events)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    finally:
        for sink in sinks:
            sink.close()
    _print_events(result.events[:show], len(result.events))
    kinds = Counter(e.kind for e in result.events)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    console.print(
        f"{counted(result.rows, 'state vector')} in {counted(result.files, 'file')}, "
        f"{counted(len(result.events), 'event')} "
        f"({counts}); peak memory {result.peak_rss_mb:,.0f} MB per worker."
    )
    for p in out:
        console.print(f"events written to [bold]{p}[/]")


def _audit_on_spark(
    inputs: list[Path], zones: list[Zone], settings: EngineSettings, out: Path, master: str
) -> None:
    try:
        from skyfence.scale.spark import run_spark_audit, spark_session
    except ImportError:
        raise _fail("--engine spark needs pyspark: pip install 'skyfence[spark]'") from None
    for path in inputs:
        if not path.exists():
            raise _fail(f"{path}: no such file or folder")
    spark = spark_session(master)
    try:
        result = run_spark_audit(spark, [str(p) for p in inputs], zones, settings, out)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    finally:
        spark.stop()
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.by_kind.items())) or "none"
    console.print(
        f"{counted(result.events, 'event')} ({counts}) in {result.seconds:,.1f} s on {master}, "
        f"{counted(result.partitions, 'partition')}; written to [bold]{escape(str(out))}[/]"
    )


def _audit_with_progress(
    inputs: list[Path],
    engine: Engine,
    sinks: list[EventSink],
    file_format: str | None,
    since_s: float | None,
    until_s: float | None,
    shown: list[Event],
    show: int,
    receiver: Receiver | None,
    start_s: float | None,
) -> AuditResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skyfence.auditing import run_audit

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:,} state vectors"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task("auditing", total=len(inputs), rows=0)
        done: set[Path] = set()
        rows = 0

        def on_batch(path: Path, n: int) -> None:
            nonlocal rows
            rows += n
            done.add(path)
            progress.update(task, completed=len(done) - 1, rows=rows, description=path.name)

        def on_events(events: list[Event]) -> None:
            shown.extend(events[: max(0, show - len(shown))])

        result = run_audit(
            inputs,
            engine,
            sinks,
            file_format,
            since_s,
            until_s,
            receiver=receiver,
            start_s=start_s,
            on_batch=on_batch,
            on_events=on_events,
        )
        progress.update(task, completed=len(inputs))
    return result


def _print_events(events: list[Event], total: int) -> None:
    """One line per event and one that says why: readable at any terminal width."""
    if not events:
        return
    shown = f" (first {len(events)} of {total:,})" if total > len(events) else ""
    console.print(f"[bold]Events{shown}[/]")
    for e in sorted(events, key=Event.sort_key):
        _print_event(e)


def _print_each(events: list[Event]) -> None:
    for e in events:
        _print_event(e)


def _print_event(e: Event) -> None:
    from skyfence.alerts.console import safe

    d = e.to_dict()
    alt = "" if d["altitude_ft"] is None else f" {d['altitude_ft']} ft"
    who = f"{e.icao24} {e.callsign or '?'} ({e.country or '??'})"
    console.print(
        f"{d['time'].replace('T', ' ')[:-1]}  [{KINDS[e.kind].style}]{e.kind:<16}[/] "
        f"[bold]{safe(e.zone_id)}[/]  {safe(who)}",
        highlight=False,
    )
    where = f"at {e.lat:.4f}, {e.lon:.4f}{alt}"
    console.print(f"    {where}: {safe(_why(e))}", style="dim", highlight=False)


def _why(e: Event) -> str:
    d = e.details
    if e.kind == "suspect_position":
        claimed = ", ".join(d.get("claimed_zones", [])) or "no zone"
        if d["reason"] == "low_integrity":
            evidence = f"NIC {d.get('nic')}, NACp {d.get('nacp')}"
        else:  # speeds: from the last trusted fix, and as the aircraft reports it
            evidence = f"{d.get('implied_speed_kt')} kt from the last trusted fix, "
            evidence += f"{d.get('reported_gs_kt')} kt reported"
        return f"{d['reason']} ({evidence}); the position claims {claimed}"
    if e.kind == "predicted_entry":
        return f"entry predicted in {d['seconds_to_entry']} s"
    if e.kind in ("entry", "exit"):
        inside = f", {d['time_inside_s']} s inside" if "time_inside_s" in d else ""
        return f"{d['crossing']}{inside}"
    if e.kind == "lost_contact":
        return f"last seen {d['last_seen']}"
    return ""


def _print_summary(result: AuditResult) -> None:
    from rich.table import Table

    s = result.stats
    for path, fmt in result.formats.items():
        console.print(f"read {escape(path)} as {fmt}", highlight=False)
    span = (
        f" from {iso_time(result.first_s)} to {iso_time(result.last_s)}"
        if result.first_s <= result.last_s
        else ""
    )
    console.print(
        f"{counted(s.rows, 'state vector')} of {len(result.aircraft):,} aircraft{span}: "
        f"{counted(s.fixes, 'position fix', 'position fixes')}, {s.trusted:,} trusted, "
        f"[cyan]{s.suspect:,} quarantined[/] as suspect; {counted(result.events, 'event')}.",
        highlight=False,
    )
    for path, (n, problems) in result.skipped.items():
        console.print(f"[yellow]{escape(path)}: {n:,} malformed rows skipped[/]", highlight=False)
        for problem in problems:
            console.print(f"  [yellow]{escape(problem)}[/]", highlight=False)
    if not result.per_zone_kind:
        console.print("No events.")
        return
    table = Table(title="Events per zone and kind")
    table.add_column("zone")
    for kind in EVENT_KINDS:
        table.add_column(kind, justify="right")
    for zone in sorted({z for z, _ in result.per_zone_kind}):
        table.add_row(zone, *[str(result.per_zone_kind.get((zone, k), "")) for k in EVENT_KINDS])
    console.print(table)


# a flag takes no value: an empty metavar, not `<bool>`, in the help
WebOption = Annotated[
    bool, typer.Option("--web/--no-web", metavar="", help="Serve the live map and API.")
]
HostOption = Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")]
PortOption = Annotated[int, typer.Option(help="Port of the web server.")]
AllowedHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        metavar="HOST",
        help="Also answer requests for this host name (besides localhost and the bound address);"
        " others are refused (DNS rebinding).",
    ),
]


@app.command()
def watch(
    zones: ZonesOption,
    source: Annotated[
        list[str],
        typer.Option(
            "--source",
            "-s",
            metavar="URL|FILE",
            help="beast://HOST:30005, avr://HOST:30002, sbs://HOST:30003, "
            "http://HOST/data/aircraft.json, or a recording file.",
        ),
    ],
    store: Annotated[
        Path | None, typer.Option(help="Event store (SQLite); default in the user data folder.")
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option(metavar="URL", help="POST every event here (retried until delivered)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write events here.")] = None,
    speed: Annotated[
        float, typer.Option(help="Replay speed for recordings; 0 = as fast as possible.")
    ] = 1.0,
    receiver: Annotated[
        str | None,
        typer.Option(
            help="Receiver position LAT,LON[,HEIGHT_M] for sources that do not name their own "
            "(beast://HOST?receiver=LAT,LON[,HEIGHT_M]): positions beyond its radio horizon "
            "are quarantined."
        ),
    ] = None,
    lookahead: Annotated[float | None, typer.Option(help="Look-ahead in seconds.")] = None,
    lost_contact: Annotated[float, typer.Option(help="Seconds without a position.")] = 60.0,
    web: WebOption = False,
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    allowed_host: AllowedHostOption = None,
) -> None:
    """Watch live feeds or recordings against zones.

    Every event is stored, and sent to the webhooks and files given.
    """
    from skyfence.alerts.webhook import check_webhook_url
    from skyfence.settings import EngineSettings

    if speed < 0:
        raise _fail("--speed must be >= 0")
    for url in webhook or []:
        try:
            check_webhook_url(url)
        except ValueError as exc:
            raise _fail(str(exc)) from None
    settings = EngineSettings(lookahead_s=lookahead, lost_contact_s=lost_contact)
    antenna = _receiver(receiver) if receiver is not None else None
    _watch_session(
        _load(zones),
        source,
        settings,
        store_path=store or Path(user_data_dir("skyfence")) / "events.sqlite",
        webhooks=webhook or [],
        out=out,
        speed=speed or None,
        receiver=antenna,
        web=(host, port) if web else None,
        allowed_hosts=tuple(allowed_host or ()),
        zone_sources=zones,
    )


def _watch_session(
    zones: list[Zone],
    source_texts: list[str],
    settings: EngineSettings,
    *,
    store_path: Path,
    webhooks: list[str],
    out: Path | None,
    speed: float | None,
    receiver: Receiver | None,
    web: tuple[str, int] | None,
    keep_serving: bool = False,
    allowed_hosts: tuple[str, ...] = (),
    zone_sources: list[str] | None = None,
    epilogue: Callable[[EventStore], None] | None = None,
) -> None:
    """Sources, engine, store, webhooks, map and console for one run of `watch` (or `demo`).
    With `zone_sources`, the zones are reloaded on SIGHUP and when one of the files changes.
    `epilogue` speaks after the run's summary, before the map is kept up until Ctrl-C."""
    from skyfence.alerts.files import open_sink
    from skyfence.alerts.webhook import WebhookDelivery
    from skyfence.decoding.dedup import FrameDeduplicator
    from skyfence.engine.engine import Engine
    from skyfence.sources.recordings import RecordingError
    from skyfence.store.events import EventStore, StoreError
    from skyfence.watching import LivePicture, open_source, run_watch
    from skyfence.zones.geojson import zone_display_feature

    engine = Engine(zones, settings, keep_judged=True)
    try:
        dedup = FrameDeduplicator()  # one transmission heard by several receivers: decode once
        sources = [open_source(s, speed, dedup=dedup, receiver=receiver) for s in source_texts]
        event_store = EventStore(store_path, webhook_urls=tuple(webhooks))
        sinks: list[EventSink] = [event_store]
        if out is not None:
            sinks.append(open_sink(out))
    except (RecordingError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    event_store.set_zones([zone_display_feature(z) for z in zones])
    picture = LivePicture(engine, sources, event_store)
    deliveries = [WebhookDelivery(event_store, url) for url in webhooks]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # graceful: pending events are flushed
        signal.signal(sig, lambda *_: stop.set())
    reloader = None
    if zone_sources:
        from skyfence.watch_zones import ZoneReloader

        reloader = ZoneReloader(
            zone_sources, engine, event_store, say=lambda text: console.print(escape(text))
        )
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: reloader.request())
    server = None
    failures: list[str] = []
    try:
        if web is not None:
            from skyfence.web.server import WebServer, api_token

            server = WebServer(event_store, api_token(), *web, extra_hosts=allowed_hosts)
            try:
                server.start()
            except OSError as exc:
                raise _fail(str(exc)) from None
            console.print(f"map and API: {server.url}#token={server.token}")
        console.print(
            f"watching {counted(len(sources), 'source')}; "
            f"events stored in {escape(str(store_path))}"
        )
        if console.is_terminal:
            from rich.live import Live

            from skyfence.alerts.console import render

            with Live(console=console, refresh_per_second=2, transient=False) as view:

                def redraw(events: list[Event]) -> None:
                    picture.tick(events)
                    view.update(render(picture.aircraft, picture.status, picture.recent))

                result = run_watch(
                    sources,
                    engine,
                    sinks,
                    should_stop=stop.is_set,
                    on_tick=redraw,
                    reload_zones=reloader,
                )
        else:
            result = run_watch(
                sources,
                engine,
                sinks,
                should_stop=stop.is_set,
                on_events=_print_each,
                on_tick=picture.tick,
                reload_zones=reloader,
            )
        picture.tick([], force=True)
        event_store.flush()
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(result.by_kind.items())) or "none"
        console.print(
            f"{counted(result.rows, 'state vector')}, {counted(result.events, 'event')} ({counts})."
        )
        for name, n in result.future.items():
            refused = counted(n, "fix", "fixes")
            console.print(f"{refused} from {escape(name)} refused: stamped in the future")
        deadline = time.monotonic() + 10.0  # a replay ends: give its webhooks a moment
        while deliveries and any(d.stats.pending for d in deliveries):
            if time.monotonic() > deadline or stop.is_set():
                console.print("webhook deliveries still pending: sent when watch runs again")
                break
            time.sleep(0.1)
        if epilogue is not None:
            epilogue(event_store)
        if server is not None and keep_serving and not stop.is_set():
            console.print(f"the map stays up at {server.url}#token={server.token} (Ctrl-C ends)")
            stop.wait()
    except StoreError as exc:  # the file damaged under us, most likely: stop, lose nothing
        failures.append(str(exc))
    finally:
        if server is not None:
            server.stop()
        for delivery in deliveries:
            delivery.close()
        for sink in sinks:
            try:
                sink.close()
            except StoreError as exc:  # names the file its unwritten events were saved in
                failures.append(str(exc))
    if failures:
        raise _fail(
            "\n".join(failures) + "\nwatch stopped: the event store cannot take events (was it "
            "written to by another program?); restore it, or recover what it holds with "
            "`sqlite3 FILE .recover`"
        )


@app.command()
def serve(
    store: Annotated[
        Path | None, typer.Option(help="Event store (SQLite); default in the user data folder.")
    ] = None,
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(metavar="ORIGIN", help="Allow this origin to read the API (CORS)."),
    ] = None,
    allowed_host: AllowedHostOption = None,
) -> None:
    """Serve the map and API over an event store.

    A running watch keeps the store current.
    """
    from skyfence.store.events import EventStore
    from skyfence.web.server import WebServer, api_token

    store_path = _existing_store(store)
    try:
        event_store = EventStore(store_path)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    server = WebServer(
        event_store,
        api_token(),
        host,
        port,
        tuple(cors_origin or ()),
        extra_hosts=tuple(allowed_host or ()),
    )
    console.print(f"map and API: {server.url}#token={server.token}  (API docs: {server.url}docs)")
    try:
        server.run()
    finally:
        event_store.close()


@app.command()
def demo(
    web: Annotated[
        bool, typer.Option("--web/--no-web", metavar="", help="Then serve the map until Ctrl-C.")
    ] = True,
    store: Annotated[Path | None, typer.Option(help="Event store (SQLite).")] = None,
    port: PortOption = DEFAULT_PORT,
) -> None:
    """Replay two real recordings, then open the map.

    An airliner's Mode S frames against illustrative zones, and a GNSS-spoofed flight against
    the Ukraine zones, both through `watch`.
    """
    import shapely

    from skyfence.schema import StateVectors
    from skyfence.settings import EngineSettings
    from skyfence.sources.recordings import read_recording
    from skyfence.zones.geojson import load_zones

    samples = files("skyfence") / "samples"
    frames = str(samples / "af_cdg_tls_2024-07-06.jsonl.gz")
    spoofed = Path(str(samples / "thy9bp_spoofing_2024-09-17.json.gz"))
    store_path = store or Path(user_data_dir("skyfence")) / "demo.sqlite"
    console.print(
        "[bold]skyfence demo[/]: two real recordings from the traffic library's samples (MIT).\n"
        " 1. AFR34ZG, Paris-CDG to Toulouse, 6 July 2024: 15,573 ADS-B frames as a receiver "
        "heard them, decoded by skyfence, against the illustrative 'demo' zones.\n"
        " 2. THY9BP, Istanbul to Stockholm, 17 September 2024 (OpenSky): near the Ukrainian "
        "border its GNSS was jammed, then spoofed to a point inside Lviv FIR.\n",
        highlight=False,
    )
    zones = load_zones("demo") + load_zones("ukraine")

    def epilogue(event_store: EventStore) -> None:
        recorded = StateVectors.concat(list(read_recording(spoofed)))
        uklv = next(z for z in load_zones("ukraine") if z.id == "UKLV")
        inside = shapely.contains_xy(uklv.geometry, recorded.lon_deg, recorded.lat_deg)
        claimed = len(set(recorded.t_pos_s[inside].tolist()))  # OpenSky repeats a fix each second
        quarantined = Counter(
            p["reason"] for p in event_store.positions("4baac6", 0.0, 4e9) if not p["trusted"]
        )
        console.print(
            f"\n{claimed:,} position reports of THY9BP (repeated in {int(inside.sum()):,} of the "
            "recording's state vectors, one a second) put it inside Lviv FIR. A monitor that "
            "believed them would have reported an incursion into closed Ukrainian airspace; "
            f"skyfence quarantined {quarantined.total():,} fixes ("
            + ", ".join(f"{n:,} {reason}" for reason, n in quarantined.most_common())
            + "), reports a suspect position and no entry.",
            highlight=False,
        )
        _print_next_steps(event_store, store_path)

    for number, recording in enumerate((frames, str(spoofed)), start=1):
        # one after the other: an engine's clock is one, and these are two months apart
        last = number == 2
        console.print(f"[bold]{number}.[/]", end=" ")
        _watch_session(
            zones,
            [recording],
            EngineSettings(),
            store_path=store_path,
            webhooks=[],
            out=None,
            speed=None,
            receiver=None,
            web=(DEFAULT_HOST, port) if web and last else None,
            keep_serving=last,
            epilogue=epilogue if last else None,
        )


def _print_next_steps(event_store: EventStore, store_path: Path) -> None:
    """What a newcomer runs next, copied as is: with this store, and a real event of it."""
    import shlex

    store = shlex.quote(str(store_path))
    entries = event_store.query(kind="entry", limit=1)
    example = entries[0]["id"] if entries else "EVENT_ID"
    console.print(
        "\nnext:\n"
        f"  skyfence report {example} --store {store}    # incident report of an entry\n"
        f"  skyfence report --since 2024-07-06 --store {store}    # summary of a period\n"
        f"  skyfence export events -o events.geojson --store {store}\n"
        f"  skyfence serve --store {store}    # the map and API",
        highlight=False,
        markup=False,
    )


StoreOption = Annotated[
    Path | None, typer.Option(help="Event store (SQLite); default in the user data folder.")
]


def _existing_store(store: Path | None) -> Path:
    """The store to read, or an error that says which file was looked for and where the demo's
    events are (the demo writes demo.sqlite, not the default events.sqlite)."""
    data = Path(user_data_dir("skyfence"))
    path = store or data / "events.sqlite"
    if path.exists():
        return path
    message = f"no event store at {path}"
    if store is None:
        message += " (the default; watch writes there)"
    demo_store = data / "demo.sqlite"
    if demo_store.exists() and path != demo_store:
        message += f"; the demo's events are in {demo_store}: give --store {demo_store}"
    else:
        message += "; run `skyfence demo` or `skyfence watch` first"
    raise _fail(message)


def _open_store(store: Path | None) -> EventStore:
    from skyfence.store.events import EventStore

    path = _existing_store(store)
    try:
        return EventStore(path)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def report(
    event_id: Annotated[
        str | None, typer.Argument(help="The event to explain; without it, a summary.")
    ] = None,
    store: StoreOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The HTML file.")] = None,
    since: Annotated[str | None, typer.Option(help="Summary from (UTC, ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Summary until (UTC, ISO 8601).")] = None,
    pdf: Annotated[
        bool, typer.Option(metavar="", help="Also print it to PDF (needs chromium).")
    ] = False,
) -> None:
    """Report one event, or summarise a period.

    Without EVENT_ID: a summary of --since/--until (default: the last 24 hours of events in the
    store).
    """
    from skyfence.reporting.daily import summary_report
    from skyfence.reporting.incident import html_to_pdf, incident_report
    from skyfence.zones.geojson import parse_time

    with _open_store(store) as event_store:
        if event_id is not None:
            try:
                page = incident_report(event_store, event_id)
            except LookupError as exc:
                raise _fail(str(exc)) from None
            target = out or Path(f"report-{event_id}.html")
        else:
            last = event_store.query(limit=1, newest_first=True)
            end = _time(until, "--until")
            if end is None:
                end = parse_time(last[0]["time"]) + 1 if last else time.time()
            start = _time(since, "--since")
            start = end - 86_400 if start is None else start
            page = summary_report(event_store, start, end)
            target = out or Path(f"summary-{iso_time(start)[:10]}.html")
    target.write_text(page, encoding="utf-8")
    console.print(f"report written to {escape(str(target))}")
    if pdf:
        try:
            html_to_pdf(target, target.with_suffix(".pdf"))
        except RuntimeError as exc:
            raise _fail(str(exc)) from None
        console.print(f"and to {escape(str(target.with_suffix('.pdf')))}")


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="events, or track (of --icao24).")],
    out: Annotated[Path, typer.Option("--out", "-o", help=".geojson, .kml or .csv")],
    store: StoreOption = None,
    since: Annotated[str | None, typer.Option(help="From (UTC, ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Until (UTC, ISO 8601).")] = None,
    zone: Annotated[str | None, typer.Option(help="Events of this zone only.")] = None,
    kind: Annotated[str | None, typer.Option(help="Events of this kind only.")] = None,
    icao24: Annotated[str | None, typer.Option(help="This aircraft only (hex address).")] = None,
) -> None:
    """Export events or a track as GeoJSON, KML or CSV."""
    from skyfence.reporting import exports

    if what not in ("events", "track"):
        raise _fail(f"export what? {what!r}: give events or track")
    try:
        fmt = exports.export_format(out)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if kind is not None and kind not in EVENT_KINDS:
        raise _fail(f"--kind must be one of {', '.join(EVENT_KINDS)}")
    start, end = _time(since, "--since"), _time(until, "--until")
    address = icao24.lower() if icao24 else None
    with _open_store(store) as event_store:
        if what == "events":
            zone = None if zone is None else _zone_id(event_store, zone)
            total = event_store.count(start, end, zone, kind, address)
            records = event_store.query(start, end, zone, kind, address, limit=max(total, 1))
            records = event_store.with_zone_versions(records)
            name = "skyfence events"
            zones = exports.event_zones(event_store, records) if fmt == "kml" else []
        else:
            if address is None:
                raise _fail("export track needs --icao24")
            records = event_store.positions(address, start or 0.0, end or 4e9, limit=10**7)
            name = f"track of {address}"
            zones = []
            if fmt == "kml" and records:
                around = event_store.query(records[0]["time_s"], records[-1]["time_s"] + 1e-3,
                                           None, None, address, limit=1000)  # fmt: skip
                zones = exports.event_zones(event_store, around)
    out.write_text(exports.render(what, fmt, records, name, zones), encoding="utf-8")
    n = len(records)
    noun = counted(n, "event") if what == "events" else counted(n, "fix", "fixes")
    console.print(f"{noun} written to {out}")


def _zone_id(event_store: EventStore, text: str) -> str:
    """The store's zone id that `text` names, in any case (as `zones show` reads them): an id
    the store does not know is refused, not answered with an empty export."""
    known = event_store.zone_ids()
    match = [z for z in known if z.casefold() == text.casefold()]
    if not match:
        shown = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30 else "")
        raise _fail(f"--zone {text}: no such zone in this store (known: {shown or 'none'})")
    return match[0]


@app.command()
def interference(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Recordings (format found from content)."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Cells file: .geojson or .parquet.")
    ] = None,
    png: Annotated[Path | None, typer.Option(help="Also draw the cells on a map (PNG).")] = None,
    zones: Annotated[
        list[str] | None,
        typer.Option(
            "--zones",
            "-z",
            metavar="FILE|SET",
            help="Zones to draw on the map (file or bundled set).",
        ),
    ] = None,
    resolution: Annotated[
        int, typer.Option(help="H3 resolution, 0-10 (4: about 1,770 km² a cell, as gpsjam).")
    ] = 4,
    hour: Annotated[
        str | None, typer.Option(help="Only this hour (UTC), e.g. 2024-09-17T09:00.")
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="Force the input format (see docs/reference/recordings.md)."),
    ] = None,
) -> None:
    """Map GNSS interference in recordings.

    Per H3 cell and hour: aircraft seen, degraded (jamming), spoofed, and the cells their
    spoofed positions claimed.
    """
    from skyfence.auditing import run_audit
    from skyfence.engine.engine import Engine
    from skyfence.gnss.aggregate import HOUR_S, InterferencePicture
    from skyfence.gnss.cells import cell_outline
    from skyfence.gnss.outputs import (
        FORMATS,
        feature_collection,
        records,
        write_parquet,
    )
    from skyfence.sources.recordings import RecordingError
    from skyfence.zones.geojson import zone_display_feature

    if out is None and png is None:
        raise _fail("give -o cells.geojson|cells.parquet, --png map.png, or both")
    if out is not None and out.suffix.lower() not in FORMATS:
        raise _fail(f"{out}: the cells file must end in {' or '.join(FORMATS)}")
    if png is not None and png.suffix.lower() != ".png":
        raise _fail(f"{png}: the map must be a .png file")
    for path in inputs:
        if not path.is_file():
            raise _fail(f"{path}: no such file")
    only = _time(hour, "--hour")
    try:
        picture = InterferencePicture(resolution)
    except ValueError as exc:
        raise _fail(f"--resolution: {exc}") from None
    drawn = _load(zones or [])
    engine = Engine(drawn, keep_judged=True)
    try:
        with console.status("judging positions"):
            run_audit(
                inputs, engine, [], file_format,
                on_batch=lambda _path, _n: picture.add(engine.take_judged()),
            )  # fmt: skip
    except (RecordingError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    counts = picture.counts()
    if only is not None:
        counts = counts.take(counts.hour_s == (int(only) // HOUR_S) * HOUR_S)
    rows = records(counts)
    hours = sorted({r["hour"] for r in rows})
    flagged = [r for r in rows if r["degraded"] or r["spoofed"] or r["claimed"]]
    console.print(
        f"{len(rows):,} cell-hours in {len(hours)} hour(s) at H3 resolution {resolution}: "
        f"{sum(r['jamming'] != 'low' for r in rows):,} with jamming (> 2 % degraded), "
        f"{sum(r['spoofed'] > 0 for r in rows):,} where aircraft were spoofed, "
        f"{sum(r['claimed'] > 0 for r in rows):,} claimed by spoofed positions.",
        highlight=False,
    )
    for r in flagged[:20]:
        console.print(
            f"  {r['hour'][:13]}h  {r['cell']}  {r['lat']:.2f}, {r['lon']:.2f}: "
            f"{r['aircraft']} aircraft, {r['degraded']} degraded, {r['spoofed']} spoofed, "
            f"{r['claimed']} claimed",
            highlight=False,
        )
    try:
        if out is not None and out.suffix.lower() == ".parquet":
            write_parquet(counts, out)
        elif out is not None:
            out.write_text(json.dumps(feature_collection(rows)) + "\n", encoding="utf-8")
        if png is not None:
            from skyfence.reporting.figures import interference_map

            merged = picture.counts(merge_hours=True) if only is None else counts
            cells = [{**r, "ring": cell_outline(int(r["cell"], 16))} for r in records(merged)]
            span = f"{hours[0][:13]}h" if len(hours) == 1 else f"{len(hours)} hours"
            title = f"GNSS interference, {span} UTC, " + ", ".join(p.name for p in inputs)
            features = [zone_display_feature(z) for z in drawn]
            png.write_bytes(interference_map(cells, features, title=title))
    except OSError as exc:
        raise _fail(str(exc)) from None
    for written in (out, png):
        if written is not None:
            console.print(f"written to [bold]{escape(str(written))}[/]")


@zones_app.command("list")
def zones_list() -> None:
    """List the bundled zone sets.

    Each is usable by name wherever a zone file is expected.
    """
    from rich.table import Table

    from skyfence.zones.bundled import bundled_ids, bundled_names

    table = Table(title="Bundled zone sets")
    for name in ("name", "zones", "ids"):
        table.add_column(name)
    for name in bundled_names():
        ids = bundled_ids(name)
        table.add_row(name, str(len(ids)), ", ".join(ids))
    console.print(table)


@zones_app.command("show")
def zones_show(
    source: Annotated[str, typer.Argument(help="Zone file or bundled set name.")],
    geojson: Annotated[bool, typer.Option(metavar="", help="Print the zones as GeoJSON.")] = False,
) -> None:
    """Show a set's zones.

    Band, activity, applicability and size of each.
    """
    import shapely
    from pyproj import Geod
    from rich.table import Table

    from skyfence.zones.geojson import zone_to_feature

    zones = _load([source])
    if geojson:
        doc = {"type": "FeatureCollection", "features": [zone_to_feature(z) for z in zones]}
        print(json.dumps(doc))
        return
    geod = Geod(ellps="WGS84")
    table = Table(title=source)
    for name in (
        "id",
        "name",
        "band",
        "active (UTC)",
        "applies to",
        "exempt",
        "area km²",
        "vertices",
    ):
        table.add_column(name)
    for z in zones:
        area = abs(geod.geometry_area_perimeter(z.geometry)[0]) / 1e6
        active = zone_to_feature(z)["properties"].get("active", "always")
        table.add_row(
            z.id,
            z.name,
            z.band_text(),
            "always" if active == "always" else "; ".join(f"{a} → {b or '…'}" for a, b in active),
            json.dumps(z.applies_to.to_json()) if z.applies_to else "everyone",
            json.dumps(z.exempt.to_json()) if not z.exempt.is_empty else "",
            f"{area:,.0f}",
            str(shapely.get_num_coordinates(z.geometry)),
        )
    console.print(table)


@zones_app.command("check")
def zones_check(
    sources: Annotated[list[str], typer.Argument(help="Zone files.")],
) -> None:
    """Validate zone files.

    Every problem is listed with the feature it is in.
    """
    zones = _load(sources)
    console.print(f"[green]OK[/]: {counted(len(zones), 'zone')} in {counted(len(sources), 'file')}")


@zones_app.command("import")
def zones_import(
    sources: Annotated[
        list[Path],
        typer.Argument(help="Published zone files, any known format."),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="GeoJSON zone file to write.")
    ] = None,
) -> None:
    """Convert published zones to skyfence's zone GeoJSON.

    OpenAir, ICAO NOTAM, FAA TFR XML, ED-269, ED-318 or AIXM 5.1: the format is detected from
    the content, and errors name where.
    """
    from skyfence.zones.geojson import zones_from_geojson
    from skyfence.zones.load import import_file
    from skyfence.zones.model import ZoneError

    say = console if output is not None else errors  # stdout may be the GeoJSON itself
    features: list[dict[str, object]] = []
    try:
        for source in sources:
            imported = import_file(source)
            say.print(
                f"{escape(str(source))}: {imported.format}, {counted(len(imported.zones), 'zone')}"
                + (f", {len(imported.skipped)} skipped" if imported.skipped else "")
            )
            for line in imported.skipped:
                say.print(f"  skipped: {escape(line)}", highlight=False)
            features += imported.document["features"]
        document = {"type": "FeatureCollection", "features": features}
        zones = zones_from_geojson(document, ", ".join(str(s) for s in sources))
    except ZoneError as exc:
        raise _fail(str(exc)) from None
    text = json.dumps(document, indent=1) + "\n"
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"{counted(len(zones), 'zone')} written to [bold]{escape(str(output))}[/]")


@zones_app.command("import-openair", hidden=True)
def zones_import_openair(
    source: Annotated[Path, typer.Argument(help="OpenAir airspace file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="GeoJSON zone file to write.")],
) -> None:
    """Convert OpenAir airspace to skyfence's zone GeoJSON (kept for scripts: `zones import`)."""
    from skyfence.zones.geojson import zones_from_geojson
    from skyfence.zones.model import ZoneError
    from skyfence.zones.openair import openair_to_geojson

    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise _fail(f"{source}: {exc.strerror or exc}") from None
    try:
        document = openair_to_geojson(text, str(source))
        zones = zones_from_geojson(document, str(source))
    except ZoneError as exc:
        raise _fail(str(exc)) from None
    output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    console.print(f"{counted(len(zones), 'zone')} written to [bold]{output}[/]")
