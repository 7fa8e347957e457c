"""MQTT: events, the live picture and Home Assistant discovery on a broker (`watch --mqtt`).

Events are the store's: each goes through the durable outbox like a webhook delivery (keyed by
the broker URL without its password), so a broker that is down gets them once it is back, and
a kill -9 loses none. One event is delivered when the broker acknowledged its QoS 1 PUBLISH
(PUBACK); until then its outbox row stays pending. The cost is at-least-once: an event whose
PUBACK or "delivered" mark was lost is published again, with the same `id` in its JSON for the
subscriber to recognise it.

The live picture (aircraft inside each zone) and the discovery configs are state, not history:
they are retained on the broker, not queued in the outbox, and published again after every
reconnection (a broker restarted without persistence has forgotten them). A late subscriber
reads the current picture at once. The last will (`PREFIX/status` = `offline`, retained) tells
Home Assistant the sensors are unavailable when `watch` dies without saying goodbye.

paho-mqtt is imported when a publisher is made, not with this module: `watch --help` and the
other commands do not pay for it.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import unquote

from skyfence.alerts.destinations import url_parts
from skyfence.alerts.outbox import (
    CLOSE_TIMEOUT_S,
    DeliveryStats,
    Message,
    OutboxWorker,
    WorkerOptions,
)
from skyfence.engine.events import iso_time
from skyfence.errors import InputError
from skyfence.store.events import Delivery, EventStore
from skyfence.store.records import StoredEvent

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from skyfence.zones.model import Zone

SCHEMES = ("mqtt", "mqtts")
DEFAULT_PREFIX = "skyfence"
DISCOVERY_PREFIX = "homeassistant"  # Home Assistant's default discovery prefix
ONLINE, OFFLINE = "online", "offline"
INSIDE_STATES = ("inside", "suspect")  # a picture row whose `zones` are the engine's "inside"
_UNSAFE_SEGMENT = re.compile(r"[+#/\x00-\x1f\x7f]")  # MQTT wildcards, level separator, controls
_UNSAFE_OBJECT_ID = re.compile(r"[^A-Za-z0-9_-]")  # what Home Assistant accepts in an object id


@dataclass(frozen=True, slots=True)
class MqttTarget:
    """A broker and the topic prefix to publish under: `mqtt[s]://[USER[:PASS]@]HOST[:PORT][/PREFIX]`."""

    host: str
    port: int
    tls: bool
    prefix: str
    username: str | None = None
    password: str | None = None

    @property
    def key(self) -> str:
        """The outbox key: the URL without its password, so the store holds no secret and a
        changed password keeps the pending events."""
        user = f"{self.username}@" if self.username else ""
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{user}{self.host}:{self.port}/{self.prefix}"

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/status"

    @property
    def picture_topic(self) -> str:
        return f"{self.prefix}/picture"

    def inside_topic(self, zone_id: str) -> str:
        return f"{self.prefix}/zones/{topic_segment(zone_id)}/inside"

    def event_topic(self, event: StoredEvent) -> str:
        zone, kind = topic_segment(event.zone_id), topic_segment(event.kind)
        return f"{self.prefix}/events/{zone}/{kind}"

    def discovery_topic(self, zone_id: str) -> str:
        return f"{DISCOVERY_PREFIX}/sensor/{self.node_id(zone_id)}/config"

    def node_id(self, zone_id: str) -> str:
        return _UNSAFE_OBJECT_ID.sub("_", f"{self.prefix}_{zone_id}")


def parse_mqtt_url(url: str) -> MqttTarget:
    """The target, or an InputError saying what is wrong: checked when `watch` starts."""
    parts = url_parts(url, SCHEMES, "MQTT URL", "mqtt://[USER:PASS@]HOST[:PORT][/PREFIX]")
    port = parts.port
    if "#" in url:  # urlsplit would take it for a fragment and drop it from the prefix
        raise InputError(
            f"MQTT URL {url!r}: '#' is an MQTT wildcard, not allowed in the topic prefix"
            " (in a password, write it %23)"
        )
    if parts.query:
        raise InputError(f"MQTT URL {url!r}: no ?query is understood")
    prefix = unquote(parts.path).strip("/") or DEFAULT_PREFIX
    levels = prefix.split("/")
    if any(not level or _UNSAFE_SEGMENT.search(level) for level in levels):
        raise InputError(
            f"MQTT URL {url!r}: the topic prefix {prefix!r} must be levels separated by single"
            " '/', without '+', '#' or control characters"
        )
    tls = parts.scheme == "mqtts"
    return MqttTarget(
        host=parts.hostname or "",  # url_parts refused a URL without one
        port=port or (8883 if tls else 1883),
        tls=tls,
        prefix=prefix,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def topic_segment(text: str) -> str:
    """One topic level from a zone id or kind: MQTT's wildcards (`+`, `#`), its level separator
    and control characters become `_`, so a zone called "a/b" or "#" cannot publish elsewhere
    or make a subscription's filter match what it should not."""
    return _UNSAFE_SEGMENT.sub("_", text) or "_"


def inside_by_zone(zone_ids: Iterable[str], aircraft: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per zone, the aircraft the engine has inside it now (rows of the live picture)."""
    inside: dict[str, list[dict[str, Any]]] = {zone: [] for zone in zone_ids}
    for row in aircraft:
        if row.get("state") not in INSIDE_STATES:
            continue
        for zone in row.get("zones", ()):
            if zone in inside:
                inside[zone].append(
                    {k: row.get(k) for k in ("icao24", "callsign", "lat", "lon", "altitude_ft")}
                )
    return {
        zone: {"count": len(rows), "aircraft": sorted(rows, key=lambda r: str(r["icao24"]))}
        for zone, rows in inside.items()
    }


def discovery_config(target: MqttTarget, zone_id: str, zone_name: str) -> dict[str, Any]:
    """Home Assistant's MQTT discovery config of the zone's "aircraft inside" sensor."""
    node = target.node_id(zone_id)
    return {
        "name": f"Aircraft inside {zone_name or zone_id}",
        "unique_id": f"{node}_inside",
        "state_topic": target.inside_topic(zone_id),
        "value_template": "{{ value_json.count }}",
        "json_attributes_topic": target.inside_topic(zone_id),
        "unit_of_measurement": "aircraft",
        "state_class": "measurement",
        "icon": "mdi:airplane-alert",
        "availability_topic": target.status_topic,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": {
            "identifiers": [_UNSAFE_OBJECT_ID.sub("_", target.prefix)],
            "name": f"skyfence ({target.prefix})",
            "manufacturer": "skyfence",
        },
    }


class MqttPublisher:
    """One connection to the broker: `send` publishes an outbox delivery and waits for its
    PUBACK; `publish_picture` and `set_zones` keep the retained state current. paho's network
    thread reconnects by itself."""

    def __init__(
        self,
        target: MqttTarget,
        zones: Sequence[tuple[str, str]] = (),
        *,
        timeout_s: float = 5.0,
        client_id: str | None = None,
        max_reconnect_s: int = 60,
    ) -> None:
        """`zones` are (id, name) pairs; `timeout_s` bounds the wait for one PUBACK; a lost
        connection is tried again after 1 s, then twice as long each time up to
        `max_reconnect_s`."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.target = target
        self.timeout_s = float(timeout_s)
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._aborted = threading.Event()
        self._last_error: str | None = "not connected yet"
        self._retained: dict[str, bytes] = {}  # topic -> payload: the state to publish again
        self._zones: dict[str, str] = {}
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"skyfence-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv311,
        )
        if target.username:
            client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        client.will_set(target.status_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(1, max_reconnect_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        self.set_zones(zones)
        client.connect_async(target.host, target.port, keepalive=30)
        client.loop_start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def send(self, delivery: Delivery) -> str | None:
        """Publish one stored event (QoS 1); None once the broker acknowledged it, else what
        went wrong (not connected, no PUBACK within `timeout_s`, aborted)."""
        if not self._connected.is_set():  # paho would queue it in memory: the outbox does that
            return f"not connected to {self.target.host}:{self.target.port}: {self._last_error}"
        payload = json.dumps(delivery.event.to_json(), ensure_ascii=False, allow_nan=False)
        info = self._client.publish(self.target.event_topic(delivery.event), payload, qos=1)
        if info.rc != 0:
            return f"publish refused: {_error_text(info.rc)}"
        deadline = time.monotonic() + self.timeout_s
        while not info.is_published():
            if self._aborted.is_set():
                return "stopped"
            left = deadline - time.monotonic()
            if left <= 0:
                broker = f"{self.target.host}:{self.target.port}"
                return f"no PUBACK from {broker} within {self.timeout_s:g} s"
            info.wait_for_publish(min(left, 0.1))
        return None

    def set_zones(self, zones: Sequence[tuple[str, str]]) -> None:
        """The zones watched: a discovery config for each new one; a removed zone's config and
        picture are cleared (an empty retained message deletes them)."""
        new = dict(zones)
        with self._lock:
            old, self._zones = self._zones, new
        for zone_id in old.keys() - new.keys():
            self._retain(self.target.discovery_topic(zone_id), b"")
            self._retain(self.target.inside_topic(zone_id), b"")
        for zone_id, name in new.items():
            config = discovery_config(self.target, zone_id, name)
            self._retain(self.target.discovery_topic(zone_id), _json(config))

    def publish_picture(self, aircraft: Sequence[dict[str, Any]], clock_s: float) -> None:
        """Retain the aircraft inside each zone (rows of the live picture), publishing only the
        topics whose content changed; `clock_s` (the engine's clock) dates the whole picture."""
        with self._lock:
            zones = list(self._zones)
        inside = inside_by_zone(zones, aircraft)
        changed = False
        for zone_id, content in inside.items():
            changed |= self._retain(self.target.inside_topic(zone_id), _json(content))
        if changed or self.target.picture_topic not in self._retained:
            when = iso_time(clock_s) if math.isfinite(clock_s) else None
            self._retain(self.target.picture_topic, _json({"time": when, "zones": inside}))

    def abort(self) -> None:
        """Make a `send` waiting for its PUBACK return at once (left pending in the outbox)."""
        self._aborted.set()

    def close(self, timeout_s: float = 2.0) -> None:
        """Say `offline` (retained) and disconnect; the retained picture stays as it was last."""
        self._aborted.set()
        if self._connected.is_set():
            info = self._client.publish(self.target.status_topic, OFFLINE, qos=1, retain=True)
            if info.rc == 0:
                info.wait_for_publish(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()

    # -- internals --------------------------------------------------------------------------

    def _retain(self, topic: str, payload: bytes) -> bool:
        """Publish retained state if it changed (an empty payload clears the topic); it is
        published again after every reconnection."""
        with self._lock:  # held while publishing: a reconnection's replay is not interleaved
            if self._retained.get(topic) == payload:
                return False
            if payload:
                self._retained[topic] = payload
            else:
                self._retained.pop(topic, None)
            if self._connected.is_set():
                self._client.publish(topic, payload, qos=1, retain=True)
        return True

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._last_error = f"the broker refused the connection: {reason}"
            return
        self._last_error = None
        client.publish(self.target.status_topic, ONLINE, qos=1, retain=True)
        with self._lock:  # what `_retain` changes from now on, it publishes itself
            self._connected.set()
            for topic, payload in self._retained.items():
                client.publish(topic, payload, qos=1, retain=True)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._last_error = "cannot connect (refused, or no route to the broker)"

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._connected.clear()
        if self._last_error is None:
            self._last_error = f"disconnected: {reason}"


class MqttDelivery(OutboxWorker):
    """The store's pending events for one broker, through the outbox's one delivery loop
    (order, backoff with jitter, pausing a broker that is down), published by `publisher`.
    `close` leaves what was not acknowledged pending."""

    kind = "mqtt"

    def __init__(
        self, store: EventStore, publisher: MqttPublisher, **worker: Unpack[WorkerOptions]
    ) -> None:
        key = publisher.target.key
        worker.setdefault("timeout_s", publisher.timeout_s)
        super().__init__(store, key, name=key, **worker)
        self.publisher = publisher
        self._closed = False
        self.start()

    def send(self, message: Message) -> str | None:
        for delivery in message.deliveries:
            error = self.publisher.send(delivery)
            if error is not None:
                return error
        return None

    def cut(self) -> None:
        self.publisher.abort()  # a send waiting for its PUBACK returns; the row stays pending

    def close(self, timeout: float | None = CLOSE_TIMEOUT_S) -> None:
        if self._closed:
            return
        self._closed = True
        super().close(timeout)
        self.publisher.close()


class MqttOutput:
    """What `watch --mqtt URL` runs for one broker: the store's events through the outbox, and
    after each tick the live picture and, when the zones were reloaded, the discovery configs."""

    def __init__(self, store: EventStore, target: MqttTarget, zones: Sequence[Zone]) -> None:
        self.publisher = MqttPublisher(target, [(z.id, z.name) for z in zones])
        self.delivery = MqttDelivery(store, self.publisher)
        self._zones = tuple(z.id for z in zones)
        self._aircraft: object = None  # the picture rows last published (a new list when new)

    @property
    def stats(self) -> DeliveryStats:
        return self.delivery.stats

    def tick(
        self, aircraft: Sequence[dict[str, Any]], zones: Sequence[Zone], clock_s: float
    ) -> None:
        """Publish the picture (only what changed); `zones` are the engine's now."""
        ids = tuple(z.id for z in zones)
        if ids != self._zones:
            self.publisher.set_zones([(z.id, z.name) for z in zones])
            self._zones, self._aircraft = ids, None
        if aircraft is not self._aircraft:  # the live picture makes a new list when refreshed
            self.publisher.publish_picture(aircraft, clock_s)
            self._aircraft = aircraft

    def close(self) -> None:
        self.delivery.close()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True).encode()


def _error_text(rc: int) -> str:
    import paho.mqtt.client as mqtt

    return str(mqtt.error_string(rc))
