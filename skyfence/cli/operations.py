"""What `watch` tells whoever runs it: failure lines on stderr, `/healthz` and `/metrics`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from skyfence.cli.common import errors

if TYPE_CHECKING:
    from skyfence.alerts.outbox import OutboxWorker
    from skyfence.engine.engine import Engine
    from skyfence.monitoring.metrics import WatchMetrics
    from skyfence.store.events import EventStore
    from skyfence.watching import LivePicture, Source
    from skyfence.web.server import OperationsServer

MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        metavar="PORT",
        min=0,
        max=65535,
        help="Serve /metrics (Prometheus) and /healthz on this port of --host, without the map"
        " (with --web they are on the map's port too).",
    ),
]
UnhealthyAfterOption = Annotated[
    float,
    typer.Option(
        metavar="SECONDS", help="/healthz answers 503 once a feed is disconnected this long."
    ),
]


class Operations:
    """The monitor of one watch, its metrics when served, and the server of `--metrics-port`.
    Failure lines go to stderr unless the live view shows them (stdout and stderr both a
    terminal): a piped watch (systemd, docker, `2> file`) must say why nothing comes."""

    def __init__(
        self,
        engine: Engine,
        sources: Sequence[Source],
        store: EventStore,
        picture: LivePicture,
        deliveries: Sequence[OutboxWorker],
        *,
        live_view: bool,
        unhealthy_after_s: float,
        served: bool,
    ) -> None:
        from skyfence.monitoring.monitor import WatchMonitor
        from skyfence.watching import WatchResult

        self.result = WatchResult()
        say = None if live_view and errors.is_terminal else self._say
        self.monitor = WatchMonitor(
            engine,
            sources,
            store,
            picture,
            self.result,
            deliveries,
            say=say,
            unhealthy_after_s=unhealthy_after_s,
        )
        self.metrics: WatchMetrics | None = None
        if served:  # before the watch starts: the latency histogram sees every commit
            from skyfence.monitoring.metrics import WatchMetrics

            self.metrics = WatchMetrics(self.monitor)
        self.server: OperationsServer | None = None

    @staticmethod
    def _say(line: str) -> None:
        errors.print(escape(line), highlight=False)

    def web_options(self) -> dict[str, Any]:
        """`health` and `metrics` for the map's `WebServer`."""
        if self.metrics is None:
            return {}
        return {"health": self.monitor.health, "metrics": self.metrics.render}

    def serve(self, host: str, port: int, allowed_hosts: tuple[str, ...]) -> str:
        """Start the `--metrics-port` server; returns its URL (raises OSError)."""
        from skyfence.web.server import OperationsServer

        assert self.metrics is not None
        self.server = OperationsServer(
            self.monitor.store,
            self.monitor.health,
            self.metrics.render,
            host,
            port,
            extra_hosts=allowed_hosts,
        )
        self.server.start()
        return self.server.url

    def tick(self, events: object = None) -> None:
        self.monitor.tick(events)

    def finish(self) -> None:
        """The watch loop has ended: no longer stalled, whatever the clock says."""
        self.monitor.finished = True

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
