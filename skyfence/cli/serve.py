"""`skyfence serve`: the map and API over a store another process keeps current."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyfence.cli.common import (
    AllowedHostOption,
    HostOption,
    PortOption,
    console,
    existing_store,
    fail,
)
from skyfence.web.defaults import DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    pass


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

    store_path = existing_store(store)
    try:
        event_store = EventStore(store_path)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
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
