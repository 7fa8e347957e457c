"""Notifications through Apprise (Telegram, Discord, ntfy, e-mail and 100+ more), from the outbox.

A destination is an Apprise URL with skyfence's own options in its query, stripped before
Apprise sees the URL:

- `skyfence-zones=UKLV,EPWA`: only events of these zones (case-insensitive);
- `skyfence-kinds=entry,exit`: only these event kinds;
- `skyfence-severity=warning`: only kinds at least this severe (info < warning < critical);
- `skyfence-per-minute=10`: at most this many messages a minute; beyond, one summary message
  covers every event waiting ("37 more events: 20 entry UKLV, ...").

The outbox rows are keyed `apprise:DIGEST` (SHA-256 of the Apprise URL, its first 16 bytes in
hex): a bot token or password in the URL never reaches the database. An event a destination's
filters leave out is marked delivered without a message; every event is accounted for, by its
own message, a summary, or a filter.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack
from urllib.parse import unquote

from skyfence.alerts.message import Text, event_message, summary_message
from skyfence.alerts.outbox import Message, OutboxWorker, WorkerOptions
from skyfence.errors import InputError
from skyfence.kinds import EVENT_KINDS, KINDS, KindSeverity
from skyfence.store.events import Delivery, EventStore
from skyfence.store.records import StoredEvent

if TYPE_CHECKING:
    import apprise

OPTION_PREFIX = "skyfence-"
SEVERITIES: tuple[KindSeverity, ...] = ("info", "warning", "critical")
DEFAULT_PER_MINUTE = 10
WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Destination:
    """An Apprise URL and what it wants: zones, kinds, a minimum severity, a rate."""

    url: str  # for Apprise; may hold a secret: never stored, never logged
    zones: frozenset[str] | None = None  # upper case; None: all
    kinds: frozenset[str] | None = None
    severity: KindSeverity = "info"
    per_minute: int = DEFAULT_PER_MINUTE

    @property
    def key(self) -> str:
        """The outbox key: a digest, stable across runs, that does not reveal the URL."""
        return "apprise:" + hashlib.sha256(self.url.encode()).hexdigest()[:32]

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0]

    def wants(self, event: StoredEvent) -> bool:
        if self.zones is not None and event.zone_id.upper() not in self.zones:
            return False
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        rank = SEVERITIES.index(KINDS[event.kind].severity)
        return rank >= SEVERITIES.index(self.severity)


def parse_destination(text: str) -> Destination:
    """`--notify URL` as a destination, or a ValueError naming what is wrong (not the URL,
    which may hold a secret: its scheme and the option at fault)."""
    base, _, query = text.partition("?")
    scheme = base.partition("://")[0]
    if "://" not in base or not scheme:
        raise InputError(f"--notify {_shown(text)}: expected an Apprise URL, SERVICE://...")
    kept: list[str] = []
    options: dict[str, str] = {}
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        if not name.lower().startswith(OPTION_PREFIX):
            kept.append(part)
            continue
        name = name.lower()
        if name in options:
            raise InputError(f"--notify {scheme}://...: {name} is given twice")
        options[name] = value
    known = {"zones", "kinds", "severity", "per-minute"}
    for name in options:
        if name.removeprefix(OPTION_PREFIX) not in known:
            allowed = ", ".join(OPTION_PREFIX + k for k in sorted(known))
            raise InputError(f"--notify {scheme}://...: unknown option {name} (known: {allowed})")
    zones = _listed(options.get("skyfence-zones"))
    kinds = _listed(options.get("skyfence-kinds"), upper=False)
    if kinds is not None and (unknown := sorted(kinds - set(EVENT_KINDS))):
        raise InputError(
            f"--notify {scheme}://...: skyfence-kinds: unknown kind {', '.join(unknown)}"
            f" (kinds: {', '.join(EVENT_KINDS)})"
        )
    severity = options.get("skyfence-severity", "info").lower()
    if severity not in SEVERITIES:
        raise InputError(
            f"--notify {scheme}://...: skyfence-severity={severity}: expected one of"
            f" {', '.join(SEVERITIES)}"
        )
    rate = options.get("skyfence-per-minute", str(DEFAULT_PER_MINUTE))
    if not rate.isdigit() or int(rate) < 1:
        raise InputError(
            f"--notify {scheme}://...: skyfence-per-minute={rate}: expected a whole number >= 1"
        )
    url = base + ("?" + "&".join(kept) if kept else "")
    return Destination(url, zones, kinds, severity, int(rate))


def parse_destinations(texts: Sequence[str]) -> list[Destination]:
    """Every `--notify`, checked as `watch` starts: a destination refused at the first event
    would never deliver anything, and one given twice would get each message twice."""
    destinations = [parse_destination(t) for t in texts]
    seen: set[str] = set()
    for d in destinations:
        if d.key in seen:
            raise InputError(f"--notify {d.scheme}://...: the same destination is given twice")
        seen.add(d.key)
        _apprise(d)  # refused now, not at the first event
    return destinations


class AppriseDelivery(OutboxWorker):
    """A worker thread sending the store's pending events for one destination through Apprise.

    Apprise's own retries stay at its default, none (the outbox retries, with backoff, across
    restarts); `timeout_s` bounds one notification. `close` cannot cut a notification in flight
    (Apprise gives no handle on it); it waits `timeout` seconds at most and leaves the rows
    pending.
    """

    kind = "notify"

    def __init__(
        self,
        store: EventStore,
        destination: Destination,
        *,
        public_url: str | None = None,
        window_s: float = WINDOW_S,
        **worker: Unpack[WorkerOptions],
    ) -> None:
        self._apprise = _apprise(destination)
        name = str(next(iter(self._apprise)).url(privacy=True))  # type: ignore[no-untyped-call]
        worker.setdefault("timeout_s", 10.0)  # a notification service answers slower than a hook
        worker.setdefault("batch", 1000)  # a storm is summarised: take all that is due at once
        super().__init__(store, destination.key, name=name, **worker)
        self.destination = destination
        self.public_url = public_url
        self.window_s = float(window_s)  # the rate's minute (shorter in tests)
        self._sends: deque[float] = deque()  # monotonic times of this minute's messages
        self.start()

    def ready_in(self) -> float:
        now = time.monotonic()
        while self._sends and self._sends[0] <= now - self.window_s:
            self._sends.popleft()
        if len(self._sends) < self.destination.per_minute:
            return 0.0
        return self._sends[0] + self.window_s - now

    def plan(self, due: Sequence[Delivery]) -> list[Message]:
        """Filtered-out events marked done; the rest one message each while the rate allows,
        and the remainder as one summary that takes the last slot (none while it is spent)."""
        wanted = [d for d in due if self.destination.wants(d.event)]
        skipped = [d for d in due if not self.destination.wants(d.event)]
        messages = [Message(skipped, send=False)] if skipped else []
        if not wanted or self.ready_in() > 0:  # the rate is spent: they wait, and add up
            return messages
        slots = self.destination.per_minute - len(self._sends)  # >= 1: `ready_in` pruned
        if len(wanted) <= slots:
            return messages + [Message([d]) for d in wanted]
        single = [Message([d]) for d in wanted[: slots - 1]]
        return messages + single + [Message(wanted[slots - 1 :])]

    def send(self, message: Message) -> str | None:
        import apprise

        text = self._text(message)
        result = self._apprise.notify(
            body=text.body,
            title=text.title,
            notify_type=_NOTIFY_TYPES[text.severity],
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self.timeout_s,
        )
        if result:  # only messages that arrived count against the rate: the backoff spaces
            self._sends.append(time.monotonic())  # failed attempts
            return None
        said = "; ".join(e.message for e in result.logs() if e.level in ("WARNING", "ERROR"))
        return f"apprise: {said or result.status}"

    def _text(self, message: Message) -> Text:
        if len(message.deliveries) > 1:
            return summary_message([d.event for d in message.deliveries], self.public_url)
        (delivery,) = message.deliveries
        zone = None
        if not delivery.event.details.get("zone_name"):
            feature = self.store.event_zone(delivery.event_id)
            zone = feature["properties"] if feature else None
        return event_message(delivery.event, zone, self.public_url)


_NOTIFY_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}


def _apprise(destination: Destination) -> apprise.Apprise:
    """An Apprise object for the destination alone, its retries left to the outbox."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(destination.url):
        raise InputError(
            f"--notify {destination.scheme}://...: Apprise cannot use this URL (an unknown"
            " service, or a part it requires is missing or malformed; see"
            " https://github.com/caronc/apprise/wiki)"
        )
    return notifier


def _listed(value: str | None, *, upper: bool = True) -> frozenset[str] | None:
    if value is None:
        return None
    items = {v.strip() for v in unquote(value).split(",")}
    items.discard("")
    return frozenset(v.upper() if upper else v.lower() for v in items)


def _shown(text: str) -> str:
    """A URL as an error message shows it: the scheme only (the rest may be a secret)."""
    return text.split("://")[0] + "://..." if "://" in text else repr(text[:20])
