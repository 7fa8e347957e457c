"""The web map and its API: everything shown comes from the event store, nothing else.

The store is the only interface between the watcher and the web: `serve` can run beside a
`watch` in another process, or inside it (`watch --web`), and shows the same thing. Reads open
their own read-only connections; the only write, acknowledging an event, needs the token.

Security, by default: the server binds 127.0.0.1 (the CLI decides), writes need a bearer token
compared in constant time, request bodies are capped, no cross-origin requests are allowed, and
no request names a file: static assets are served from the package folder only.
"""

from __future__ import annotations

import asyncio
import gzip
import hmac
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParameter
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyfence.alerts.destinations import destination_name
from skyfence.engine.events import EventKind
from skyfence.kinds import kinds_table
from skyfence.reporting import exports
from skyfence.reporting.windows import window_s
from skyfence.store.errors import EventNotFoundError
from skyfence.store.events import EventStore, StoreError
from skyfence.store.records import StoredEvent
from skyfence.store.rows import EventFilter
from skyfence.store.zone_ids import no_such_zone, zone_named

STATIC = Path(str(files("skyfence") / "web" / "static"))
MAX_BODY_BYTES = 16 * 1024  # an acknowledgement note is all the API ever accepts
STREAM_PERIOD_S = 1.0
INTERFERENCE_HOUR_S = 3600
INTERFERENCE_DEFAULT_S = 24 * 3600.0
INTERFERENCE_MAX_S = 7 * 86_400.0
MAX_OFFSET = 1_000_000_000  # far beyond any store, far below SQLite's 64-bit integers
MAX_EVENT_ID = 64  # a longer id names no event: answered without reading the store

_bearer = HTTPBearer(auto_error=False)


class Acknowledgement(BaseModel):
    note: str = Field("", max_length=2000, description="Why, or what was done.")
    by: str = Field("analyst", max_length=100, description="Who acknowledges.")


def create_app(
    store: EventStore,
    token: str,
    *,
    cors_origins: tuple[str, ...] = (),
    allowed_hosts: tuple[str, ...] | None = None,
    health: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
    metrics: Callable[[], tuple[bytes, str]] | None = None,
) -> FastAPI:
    """The application over an open store. `token` guards every write; requests whose Host
    header is not one of `allowed_hosts` are refused (400) before anything else (None: any
    host, for an app that is not served on a socket). A watch serving its map passes its
    `health` and `metrics` (`skyfence.monitoring`); without them `/healthz` checks the store
    can be read and `/metrics` does not exist."""
    app = FastAPI(
        title="skyfence",
        version=version("skyfence"),
        description="No-fly-zone monitor: zones, live aircraft, events and acknowledgements.",
        docs_url=None,  # served below from the vendored Swagger UI: the CDN one breaks the CSP
        redoc_url=None,
    )
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET"])

    app.add_middleware(Guard, token=token)
    if allowed_hosts is not None:  # added last: runs first
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts, www_redirect=False)

    def writer(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "a valid token is needed", {"WWW-Authenticate": "Bearer"})

    zones_cache = ZoneCache(store)

    @app.get("/api/zones", summary="The zones watched, as GeoJSON", response_class=JSONBytes)
    def zones() -> Response:
        return JSONBytes(zones_cache.collection())

    @app.get(
        "/api/aircraft", summary="The live air picture, as GeoJSON points", response_class=JSONBytes
    )
    def aircraft() -> Response:
        return _json(_aircraft_collection(store.aircraft()))

    @app.get(
        "/api/events",
        summary="Events, filtered and paginated (newest first)",
        response_class=JSONBytes,
    )
    def events(
        since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
        until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
        zone: str | None = None,
        kind: EventKind | None = None,
        icao24: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{6}$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Response:
        since_utc, until_utc = _window(since, until)
        icao = icao24.lower() if icao24 else None
        zone = _zone_id(store, zone)
        which = EventFilter(since_utc, until_utc, zone_id=zone, kind=kind, icao24=icao)
        page = store.query(which, limit, offset, newest_first=True)
        items = [e.to_json(acknowledged=True) for e in page]
        total = store.count(which)
        return _json({"total": total, "limit": limit, "offset": offset, "items": items})

    @app.get(
        "/api/events/{event_id}",
        summary="One event, its track and its zone",
        response_class=JSONBytes,
    )
    def event(event_id: str) -> Response:
        stored = _event_or_404(store, event_id)
        around = window_s(stored.kind)  # the same track as the event's report
        track = store.positions(stored.icao24, stored.t_s - around, stored.t_s + around)
        zone = store.event_zone(event_id)  # the version in force at the event
        if zone is not None:
            zone = _with_activity([zone], time.time())[0]
        record = stored.to_json(acknowledged=True)
        return _json({"event": record, "track": track, "track_around_s": around, "zone": zone})

    @app.post(
        "/api/events/{event_id}/ack",
        summary="Acknowledge an event (needs the token)",
        dependencies=[Depends(writer)],
    )
    def acknowledge(event_id: str, body: Acknowledgement) -> dict[str, Any]:
        if len(event_id) > MAX_EVENT_ID:
            raise HTTPException(404, "no such event")
        try:
            return store.acknowledge(event_id, body.by, body.note).to_json(acknowledged=True)
        except EventNotFoundError as exc:  # its reason names the event, not the store's file
            raise HTTPException(404, exc.reason) from None

    @app.get("/api/export/events", summary="Events as GeoJSON, KML or CSV (same filters)")
    def export_events(
        format: Annotated[str, Query(pattern="^(geojson|kml|csv)$")] = "geojson",
        since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
        until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
        zone: str | None = None,
        kind: EventKind | None = None,
        icao24: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{6}$")] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    ) -> Response:
        icao = icao24.lower() if icao24 else None
        zone = _zone_id(store, zone)
        start, end = _window(since, until)
        records = store.query(EventFilter(start, end, zone_id=zone, kind=kind, icao24=icao), limit)
        zones = exports.event_zones(store, records) if format == "kml" else []
        return _download(exports.render_events(format, records, "skyfence events", zones),
                         format, "events")  # fmt: skip

    @app.get("/api/export/track/{icao24}", summary="One aircraft's logged track")
    def export_track(
        icao24: Annotated[str, PathParameter(pattern="^[0-9a-fA-F]{6}$")],
        since: Annotated[datetime | None, Query(description="ISO time (default: all)")] = None,
        until: Annotated[datetime | None, Query(description="ISO time (default: all)")] = None,
        format: Annotated[str, Query(pattern="^(geojson|kml|csv)$")] = "geojson",
    ) -> Response:
        """Default: the whole logged track, as `skyfence export track` gives it; a window given
        with both ends spans at most 7 days."""
        start, end = _window(since, until)
        if start is not None and end is not None and end - start > timedelta(days=7):
            raise HTTPException(422, "at most 7 days of track at once")
        address = icao24.lower()
        start_s = 0.0 if start is None else start.timestamp()  # the CLI's defaults
        end_s = 4e9 if end is None else end.timestamp()
        positions = store.positions(address, start_s, end_s, limit=10**6)
        zones = []
        if format == "kml":
            around = store.query(EventFilter(start_s, end_s, icao24=address), limit=1000)
            zones = exports.event_zones(store, around)
        text = exports.render_track(format, positions, f"track of {address}", zones)
        return _download(text, format, f"track-{address}")

    @app.get(
        "/api/interference",
        summary="GNSS interference per hour and H3 cell, as GeoJSON polygons",
        response_class=JSONBytes,
    )
    def interference(
        since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
        until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
    ) -> Response:
        """Default: the last 24 stored hours. Each feature is one cell in one hour; `hours`
        lists the hours present, for a time slider."""
        from skyfence.gnss.outputs import feature_collection, from_rows, records

        start, end = _window(since, until)
        stored = store.interference_hours()
        last = stored[1] + INTERFERENCE_HOUR_S if stored else time.time()
        end_s = end.timestamp() if end is not None else last
        start_s = start.timestamp() if start is not None else end_s - INTERFERENCE_DEFAULT_S
        if end_s - start_s > INTERFERENCE_MAX_S:
            raise HTTPException(422, "at most 7 days of interference at once")
        rows = records(from_rows(store.interference(start_s, end_s)))
        body = feature_collection(rows)
        body["hours"] = sorted({r["hour"] for r in rows})
        return _json(body)

    @app.get("/api/kinds", summary="The event kinds: label, colour, severity, explanation")
    def kinds() -> dict[str, dict[str, Any]]:
        return kinds_table()

    @app.get("/api/status", summary="Sources, message rates and counts")
    def status() -> dict[str, Any]:
        return _status(store)

    add_operations(app, store, health, metrics)

    @app.get("/api/stream", summary="Server-sent events: aircraft, alert and status")
    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(
            _stream(store, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/basemap", summary="Natural Earth country outlines (public domain)")
    def basemap() -> Response:
        return Response(_basemap(), media_type="application/json")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(StoreError)
    async def store_failed(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"event store unavailable: {exc.reason}"}, 503)

    return app


class JSONBytes(Response):
    """JSON serialised once with the standard library: FastAPI's encoder walks every
    coordinate of a zone outline in Python, which costs more than the query."""

    media_type = "application/json"


def _json(content: Any) -> JSONBytes:
    return JSONBytes(_dumps(content))


def _dumps(content: Any) -> bytes:
    return json.dumps(content, separators=(",", ":"), allow_nan=False).encode()


class ZoneCache:
    """The zones as served, re-read from the store at most every `ttl_s`: they change when a
    watch starts, and their outlines are the largest thing the map asks for."""

    def __init__(self, store: EventStore, ttl_s: float = 5.0) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at = -math.inf
        self._body = b""

    def _refresh(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._at < self.ttl_s:
                return
            features = _with_activity(self.store.zones(), time.time())
            self._body = _dumps(_collection(features))
            self._at = now

    def collection(self) -> bytes:
        self._refresh()
        return self._body


class Guard:
    """Writes need the token, bodies are capped, responses get security headers: checked here,
    in plain ASGI, before any body is read or parsed, so an anonymous client learns nothing
    from how a write would have been handled."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        refusal = None
        writing = scope["method"] not in ("GET", "HEAD", "OPTIONS")
        given = _bearer_token(headers)
        if writing and not (given and hmac.compare_digest(given, self.expected)):
            refusal = JSONResponse(
                {"detail": "a valid token is needed"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            refusal = JSONResponse({"detail": "request body too large"}, status_code=413)
        elif writing and length is None:
            refusal = JSONResponse({"detail": "Content-Length required"}, status_code=411)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _bearer_token(headers: dict[bytes, bytes]) -> bytes:
    """The credentials of `Authorization: Bearer ...`; the scheme name is case-insensitive
    (RFC 7235, and RFC 6750 for Bearer)."""
    scheme, _, credentials = headers.get(b"authorization", b"").strip().partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" else b""


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # no page may frame ours: a framed Acknowledge is clickjacked
    (
        b"content-security-policy",
        b"default-src 'self'; worker-src 'self' blob:; child-src blob:; "
        b"img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
        b"frame-ancestors 'none'",
    ),
]


_MEDIA = {"geojson": "application/geo+json", "kml": "application/vnd.google-earth.kml+xml"}


def _download(text: str, fmt: str, name: str) -> Response:
    return Response(
        text,
        media_type=_MEDIA.get(fmt, "text/csv"),
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def add_operations(
    app: FastAPI,
    store: EventStore,
    health: Callable[[], tuple[bool, dict[str, Any]]] | None,
    metrics: Callable[[], tuple[bytes, str]] | None,
) -> None:
    """`/healthz` and `/metrics`, on the map's app or alone (`watch --metrics-port`)."""

    @app.get("/healthz", summary="200 when healthy, else 503 with the reasons")
    def healthz() -> JSONResponse:
        if health is not None:
            ok, body = health()
        else:
            try:
                store.count()
                ok, body = True, {"status": "ok", "reasons": []}
            except StoreError as exc:
                ok, body = False, {"status": "unhealthy", "reasons": [f"event store: {exc.reason}"]}
        return JSONResponse(body, 200 if ok else 503, headers={"Cache-Control": "no-store"})

    if metrics is not None:
        render = metrics

        @app.get("/metrics", summary="Prometheus metrics of the watch")
        def prometheus() -> Response:
            body, content_type = render()
            return Response(body, media_type=content_type)


def operations_app(
    store: EventStore,
    health: Callable[[], tuple[bool, dict[str, Any]]],
    metrics: Callable[[], tuple[bytes, str]],
    allowed_hosts: tuple[str, ...],
) -> FastAPI:
    """Only `/healthz` and `/metrics`: `watch --metrics-port` without the map."""
    app = FastAPI(title="skyfence operations", docs_url=None, redoc_url=None, openapi_url=None)
    add_operations(app, store, health, metrics)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts, www_redirect=False)
    return app


def _deliveries(store: EventStore) -> list[dict[str, Any]]:
    """The outbox per destination, for the footer: the URL's secret left out."""
    now = time.time()
    return [
        {
            "name": destination_name(row.url),
            "pending": row.pending,
            "oldest_pending_s": None
            if row.oldest_pending_at is None
            else round(max(0.0, now - row.oldest_pending_at), 1),
            "last_error": row.last_error,
        }
        for row in store.outbox_health()
    ]


def _status(store: EventStore) -> dict[str, Any]:
    return {
        "sources": store.sources(),
        "deliveries": _deliveries(store),
        "aircraft": len(store.aircraft()),
        "events": store.count(),
        "version": version("skyfence"),
    }


async def _stream(store: EventStore, request: Request) -> AsyncIterator[str]:
    """Aircraft every second when they change, each new event once, status every 5 s. A client
    that reconnects starts from the events stored after it connects (it re-reads the list)."""
    last_rowid = await asyncio.to_thread(store.last_rowid)
    last_picture = ""
    tick = 0
    while not await request.is_disconnected():
        picture = json.dumps(_aircraft_collection(await asyncio.to_thread(store.aircraft)))
        if picture != last_picture:
            last_picture = picture
            yield f"event: aircraft\ndata: {picture}\n\n"
        new, last_rowid = await asyncio.to_thread(store.events_after, last_rowid)
        for stored in new:
            yield f"event: alert\ndata: {json.dumps(stored.to_json(acknowledged=True))}\n\n"
        if tick % 5 == 0:
            yield f"event: status\ndata: {json.dumps(await asyncio.to_thread(_status, store))}\n\n"
        tick += 1
        await asyncio.sleep(STREAM_PERIOD_S)


def _zone_id(store: EventStore, text: str | None) -> str | None:
    """The store's zone id that `text` names, in any case, as `skyfence export --zone` reads it:
    an id the store does not know is a 422 naming the known ones, not an empty answer that
    reads as "no incursion"."""
    if text is None:
        return None
    known = store.zone_ids()
    zone = zone_named(known, text)
    if zone is None:
        raise HTTPException(422, f"zone {text[:100]!r}: {no_such_zone(known)}")
    return zone


def _event_or_404(store: EventStore, event_id: str) -> StoredEvent:
    record = store.get(event_id) if len(event_id) <= MAX_EVENT_ID else None
    if record is None:
        raise HTTPException(404, "no such event")
    return record


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _aircraft_collection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _collection(
        [
            {
                "type": "Feature",
                "id": row["icao24"],
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": row,
            }
            for row in rows
        ]
    )


def _with_activity(features: list[dict[str, Any]], now_s: float) -> list[dict[str, Any]]:
    """Each zone with `active_now`: periods are stored as ISO texts, open-ended as None."""
    out = []
    for feature in features:
        periods = feature["properties"].get("active") or []
        active = not periods or any(
            _seconds(start) <= now_s and (end is None or now_s < _seconds(end))
            for start, end in periods
        )
        out.append({**feature, "properties": {**feature["properties"], "active_now": active}})
    return out


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _window(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The window in UTC; one that ends before it starts is a 422, as in `audit`, `report` and
    `export`, not an empty answer that reads as "nothing happened"."""
    start, end = _aware(since), _aware(until)
    if start is not None and end is not None and start >= end:
        raise HTTPException(422, "since must be before until")
    return start, end


def _aware(moment: datetime | None) -> datetime | None:
    """Times without a zone are UTC, as everywhere in skyfence."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@cache
def _basemap() -> bytes:
    path = files("skyfence") / "data" / "countries.geojson.gz"
    return gzip.decompress(path.read_bytes())
