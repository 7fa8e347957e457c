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
    PortOption,
    WebOption,
    ZonesOption,
    console,
    default_store,
    fail,
    load_or_fail,
    receiver_or_fail,
)
from skyfence.cli.render import print_each
from skyfence.engine.events import Event
from skyfence.web.defaults import DEFAULT_HOST, DEFAULT_PORT
from skyfence.wording import counted

if TYPE_CHECKING:
    from collections.abc import Callable

    from skyfence.alerts.files import EventSink
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
        raise fail("--speed must be >= 0")
    for url in webhook or []:
        try:
            check_webhook_url(url)
        except ValueError as exc:
            raise fail(str(exc)) from None
    settings = EngineSettings(lookahead_s=lookahead, lost_contact_s=lost_contact)
    antenna = receiver_or_fail(receiver) if receiver is not None else None
    watch_session(
        load_or_fail(zones),
        source,
        settings,
        store_path=store or default_store(),
        webhooks=webhook or [],
        out=out,
        speed=speed or None,
        receiver=antenna,
        web=(host, port) if web else None,
        allowed_hosts=tuple(allowed_host or ()),
        zone_sources=zones,
    )


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
        raise fail(str(exc)) from None
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
                raise fail(str(exc)) from None
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
                on_events=print_each,
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
        raise fail(
            "\n".join(failures) + "\nwatch stopped: the event store cannot take events (was it "
            "written to by another program?); restore it, or recover what it holds with "
            "`sqlite3 FILE .recover`"
        )
