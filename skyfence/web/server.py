"""Running the web app: in the foreground (`serve`) or beside a watch, in a thread."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from skyfence.errors import ServerError
from skyfence.store.events import EventStore
from skyfence.web.app import create_app, operations_app
from skyfence.web.defaults import DEFAULT_HOST, DEFAULT_PORT

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def allowed_hosts(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The names a request's Host header may carry: this machine's, the bound address unless it
    is a wildcard, and those the user names. A page on another site whose name an attacker
    re-points at 127.0.0.1 (DNS rebinding) sends its own name, and is refused."""
    bound = () if host in _WILDCARDS else (f"[{host}]" if ":" in host else host,)
    return tuple(dict.fromkeys(name.lower() for name in (*LOCAL_NAMES, *bound, *extra)))


def api_token() -> str:
    """SKYFENCE_TOKEN if set, else a fresh random one (printed, so the user can act)."""
    return os.environ.get("SKYFENCE_TOKEN") or secrets.token_urlsafe(18)


class ThreadedServer:
    """uvicorn serving `app`, in the foreground or on its own thread."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.host, self.port = host, port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C or SIGTERM)."""
        self.server.run()

    def start(self) -> None:
        """Serve in a background thread; returns once the socket listens."""
        self._thread = threading.Thread(target=self.server.run, name="skyfence-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self.server.started:
            if not self._thread.is_alive():
                raise ServerError(f"the web server could not start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                raise ServerError(f"the web server did not start on {self.host}:{self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5.0)


class WebServer(ThreadedServer):
    """The map and API on their own thread, so that a watch and its map share one store and one
    writer. A watch passes its `health` and `metrics` (see `create_app`)."""

    def __init__(
        self,
        store: EventStore,
        token: str,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        cors_origins: tuple[str, ...] = (),
        *,
        extra_hosts: tuple[str, ...] = (),
        health: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
    ) -> None:
        app = create_app(
            store,
            token,
            cors_origins=cors_origins,
            allowed_hosts=allowed_hosts(host, extra_hosts),
            health=health,
            metrics=metrics,
        )
        super().__init__(app, host, port)
        self.token = token


class OperationsServer(ThreadedServer):
    """Only `/healthz` and `/metrics`, for `watch --metrics-port` (Prometheus without the map)."""

    def __init__(
        self,
        store: EventStore,
        health: Callable[[], tuple[bool, dict[str, Any]]],
        metrics: Callable[[], tuple[bytes, str]],
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        extra_hosts: tuple[str, ...] = (),
    ) -> None:
        app = operations_app(store, health, metrics, allowed_hosts(host, extra_hosts))
        super().__init__(app, host, port)
