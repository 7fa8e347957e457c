"""`skyfence watch`: live feeds or recordings, into the store, the sinks and the map."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from skyfence.cli.common import (
    AllowedHostOption,
    HostOption,
    NotifyOption,
    PortOption,
    PublicUrlOption,
    WebOption,
    ZonesOption,
    console,
    default_store,
    errors,
    fail,
    load_or_fail,
    non_negative_or_fail,
    outputs_or_fail,
    receiver_or_fail,
    settings_or_fail,
    store_to_write,
)
from skyfence.cli.config import ConfigOption
from skyfence.cli.operations import MetricsPortOption, Operations, UnhealthyAfterOption
from skyfence.cli.render import kinds_text, print_each
from skyfence.cli.rules import SquawksOption, WatchedOnlyZoneOption, WatchlistOption, rules_or_fail
from skyfence.engine.events import Event
from skyfence.web.defaults import DEFAULT_HOST, DEFAULT_PORT
from skyfence.wording import counted

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from skyfence.alerts.files import EventSink
    from skyfence.engine.engine import Rules
    from skyfence.settings import EngineSettings
    from skyfence.sources.receiver import Receiver
    from skyfence.store.events import EventStore
    from skyfence.zones.model import Zone


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
    config: ConfigOption = None,
    store: Annotated[
        Path | None,
        typer.Option(
            help="Event store (SQLite), in a folder that exists; default in the user data folder."
        ),
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option(metavar="URL", help="POST every event here (retried until delivered)."),
    ] = None,
    notify: NotifyOption = None,
    public_url: PublicUrlOption = None,
    mqtt: Annotated[
        list[str] | None,
        typer.Option(
            metavar="URL",
            help="Publish events, the aircraft inside each zone and Home Assistant discovery to "
            "this broker: mqtt[s]://[USER:PASS@]HOST[:PORT], then /PREFIX if not skyfence "
            "(events retried until acknowledged).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Also write events here: a .jsonl or .csv file is appended to (a restart keeps "
            "what it holds); beside a .parquet file that exists, the next part is written "
            "(events.1.parquet, ...). Events the file holds already are not written again.",
        ),
    ] = None,
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
    watchlist: WatchlistOption = None,
    watched_only_zone: WatchedOnlyZoneOption = None,
    squawks: SquawksOption = True,
    metrics_port: MetricsPortOption = None,
    unhealthy_after: UnhealthyAfterOption = 60.0,
) -> None:
    """Watch live feeds or recordings against zones.

    Every event is stored, and sent to the webhooks, notifications, MQTT brokers and files given.
    """
    from skyfence.alerts.mqtt import parse_mqtt_url

    non_negative_or_fail("--speed", speed)
    non_negative_or_fail("--unhealthy-after", unhealthy_after)
    outputs_or_fail(source, [out] if out is not None else [])
    webhooks, notifiers = deliveries_or_fail(webhook or [], notify or [], public_url)
    for url in mqtt or []:
        try:
            parse_mqtt_url(url)
        except ValueError as exc:
            raise fail(str(exc)) from None
    settings = settings_or_fail(lookahead, lost_contact)
    antenna = receiver_or_fail(receiver) if receiver is not None else None
    zone_list = load_or_fail(zones)
    watch_session(
        zone_list,
        source,
        settings,
        store_path=store_to_write(store, default_store()),
        webhooks=webhooks,
        notify=notifiers,
        public_url=public_url,
        out=out,
        speed=speed or None,
        receiver=antenna,
        web=(host, port) if web else None,
        allowed_hosts=tuple(allowed_host or ()),
        zone_sources=zones,
        rules=rules_or_fail(watchlist, watched_only_zone, squawks, zone_list, settings),
        mqtt=mqtt or [],
        metrics=(host, metrics_port) if metrics_port is not None else None,
        unhealthy_after_s=unhealthy_after,
    )


def deliveries_or_fail(
    webhooks: Sequence[str], notify: Sequence[str], public_url: str | None
) -> tuple[list[str], list[str]]:
    """The webhooks and Apprise URLs, checked: `--notify` takes both, told apart by scheme in
    the outputs' table (an http(s) URL is a webhook)."""
    from skyfence.alerts.notify import parse_destinations
    from skyfence.alerts.registry import NOTIFIER, output_for
    from skyfence.alerts.webhook import check_webhook_url

    hooks, notifiers = list(webhooks), list[str]()
    for url in notify:
        (notifiers if output_for(url) == NOTIFIER else hooks).append(url)
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise fail(f"--public-url {public_url}: expected http(s)://HOST[:PORT][/PATH]")
    try:
        for url in hooks:
            check_webhook_url(url)
        parse_destinations(notifiers)  # refused now, before any source is opened
    except ValueError as exc:
        raise fail(str(exc)) from None
    return list(dict.fromkeys(hooks)), notifiers  # one worker per URL: two would send twice


def watch_session(
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
    rules: Rules | None = None,
    notify: Sequence[str] = (),
    public_url: str | None = None,
    mqtt: Sequence[str] = (),
    metrics: tuple[str, int] | None = None,
    unhealthy_after_s: float = 60.0,
) -> None:
    """Sources, engine, store, webhooks, map and console for one run of `watch` (or `demo`).
    `notify`: Apprise URLs (with skyfence's query options), `public_url`: the map they link to.
    With `zone_sources`, the zones are reloaded on SIGHUP and when one of the files changes.
    `epilogue` speaks after the run's summary, before the map is kept up until Ctrl-C.
    `rules` are the rules beyond areas (skyfence.cli.rules).
    `mqtt` brokers get the events (through the store's outbox) and the live picture.

    `metrics` is where to serve `/metrics` and `/healthz` without the map."""
    from skyfence.alerts.appending import prepare_appending
    from skyfence.alerts.mqtt import MqttOutput, parse_mqtt_url
    from skyfence.alerts.notify import AppriseDelivery, parse_destinations
    from skyfence.alerts.outbox import OutboxWorker
    from skyfence.alerts.webhook import WebhookDelivery
    from skyfence.decoding.dedup import FrameDeduplicator
    from skyfence.engine.engine import Engine
    from skyfence.sources.recordings import RecordingError
    from skyfence.store.events import BUSY_PATIENCE_S, EventStore, StoreError
    from skyfence.watching import LivePicture, open_source, run_watch
    from skyfence.zones.geojson import zone_display_feature

    engine = Engine(zones, settings, keep_judged=True, rules=rules)
    try:
        dedup = FrameDeduplicator()  # one transmission heard by several receivers: decode once
        sources = [open_source(s, speed, dedup=dedup, receiver=receiver) for s in source_texts]
        destinations = parse_destinations(notify)
        brokers = [parse_mqtt_url(url) for url in mqtt]
        keys = [d.key for d in destinations] + [b.key for b in brokers]  # one outbox row each
        appending = prepare_appending(out) if out is not None else None  # refused first
        if appending is not None and appending.written != out:
            errors.print(
                f"{escape(str(out))} exists, and a Parquet file cannot be appended to: this run "
                f"writes its events to {escape(str(appending.written))} (read all the parts as "
                "one table: docs/usage.md)",
                highlight=False,
            )
        event_store = EventStore(
            store_path,
            webhook_urls=tuple(webhooks),
            notifiers=keys,
            busy_patience_s=BUSY_PATIENCE_S,  # another program's lock: waited out, said
        )
        sinks: list[EventSink] = [event_store]
        file_sink = appending.open() if appending is not None else None
        if file_sink is not None:
            sinks.append(file_sink)
    except (RecordingError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    event_store.set_zones([zone_display_feature(z) for z in zones])
    picture = LivePicture(engine, sources, event_store)
    deliveries: list[OutboxWorker] = [WebhookDelivery(event_store, url) for url in webhooks]
    for d in destinations:
        deliveries.append(AppriseDelivery(event_store, d, public_url=public_url))
    published = [MqttOutput(event_store, broker, zones) for broker in brokers]
    deliveries += [output.delivery for output in published]

    def tick(events: list[Event], *, force: bool = False) -> None:
        picture.tick(events, force=force)
        for output in published:
            output.tick(picture.aircraft, engine.zones.zones, engine.clock_s)

    ops = Operations(
        engine,
        sources,
        event_store,
        picture,
        deliveries,
        live_view=console.is_terminal,
        unhealthy_after_s=unhealthy_after_s,
        served=web is not None or metrics is not None,
    )
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

            server = WebServer(
                event_store, api_token(), *web, extra_hosts=allowed_hosts, **ops.web_options()
            )
            try:
                server.start()
            except OSError as exc:
                raise fail(str(exc)) from None
            console.print(f"map and API: {server.url}#token={server.token}")
        if metrics is not None:
            try:
                url = ops.serve(*metrics, allowed_hosts)
            except OSError as exc:
                raise fail(str(exc)) from None
            console.print(f"metrics: {url}metrics, health: {url}healthz")
        console.print(
            f"watching {counted(len(sources), 'source')}; "
            f"events stored in {escape(str(store_path))}"
        )
        if console.is_terminal:
            from rich.live import Live

            from skyfence.alerts.console import render

            with Live(console=console, refresh_per_second=2, transient=False) as view:

                def redraw(events: list[Event]) -> None:
                    tick(events)
                    ops.tick(events)
                    view.update(render(picture.aircraft, picture.status, picture.recent))

                result = run_watch(
                    sources,
                    engine,
                    sinks,
                    should_stop=stop.is_set,
                    on_tick=redraw,
                    reload_zones=reloader,
                    result=ops.result,
                )
        else:

            def each_tick(events: list[Event]) -> None:
                tick(events)
                ops.tick(events)

            result = run_watch(
                sources,
                engine,
                sinks,
                should_stop=stop.is_set,
                on_events=print_each,
                on_tick=each_tick,
                reload_zones=reloader,
                result=ops.result,
            )
        ops.finish()
        tick([], force=True)
        event_store.flush()
        console.print(
            f"{counted(result.rows, 'state vector')}, {counted(result.events, 'event')} "
            f"({kinds_text(result.by_kind)})."
        )
        if appending is not None and file_sink is not None and file_sink.skipped:  # a replay
            where = escape(str(out)) + (" and its parts" if appending.written != out else "")
            console.print(
                f"{counted(file_sink.skipped, 'event')} already in {where}: not written again"
            )
        for name, n in result.future.items():
            refused = counted(n, "fix", "fixes")
            console.print(f"{refused} from {escape(name)} refused: stamped in the future")
        deadline = time.monotonic() + 10.0  # a replay ends: give its deliveries a moment
        while deliveries and any(d.stats.pending for d in deliveries):
            if time.monotonic() > deadline or stop.is_set():
                pending = ", ".join(
                    f"{counted(d.stats.pending, 'event')} for {d.kind} {escape(d.name)}"
                    for d in deliveries
                    if d.stats.pending
                )
                console.print(f"deliveries still pending ({pending}): sent when watch runs again")
                break
            ops.tick()  # a webhook failing at the end is said too
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
        ops.stop()
        for delivery in deliveries:
            delivery.close()
        for output in published:
            output.close()
        for sink in sinks:
            try:
                sink.close()
            except StoreError as exc:  # names the file its unwritten events were saved in
                failures.append(str(exc))
    if failures:
        raise fail(
            "\n".join(failures) + "\nwatch stopped: the event store cannot take events (was it "
            "written to by another program?); restore it, or recover what it holds with "
            "`sqlite3 FILE .recover`"
        )
