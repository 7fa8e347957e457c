"""MQTT publishing to a real broker on 127.0.0.1: Debian's mosquitto, started per test.

`scripts/test` installs mosquitto with apt (as it does Chromium); without it these tests are
skipped, except in CI (CI=true), where a missing broker fails them. The events are the engine's
findings on real recordings; subscribers are paho clients, as Home Assistant's is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from fakes import free_port
from paho.mqtt.enums import CallbackAPIVersion

from skyfence.alerts.mqtt import (
    MqttDelivery,
    MqttPublisher,
    discovery_config,
    parse_mqtt_url,
    topic_segment,
)
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore
from skyfence.store.rows import event_row, stored_event
from skyfence.watching import LivePicture, ReplaySource, run_watch
from skyfence.zones.geojson import load_zones

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
pytestmark = pytest.mark.skipif(
    not Path(MOSQUITTO).exists() and os.environ.get("CI") != "true",
    reason="Debian's mosquitto is not installed (scripts/test installs it)",
)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Broker:
    """mosquitto on 127.0.0.1:`port`, with persistence in `folder`: stopped with SIGTERM, it
    saves its retained messages and persistent sessions, and a restart loads them."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nlog_dest stderr\n"
        )
        self.log = folder / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        wait_for(self._listening, 10, f"mosquitto on port {self.port} ({self.log})")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
            self.process = None

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(folder)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """A paho client that records every message on `topics`; with `session`, a persistent
    session (QoS 1 messages published while it was away are kept for it by the broker)."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("#",), session: str = "") -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=session,
            clean_session=not session,
            protocol=mqtt.MQTTv311,
        )
        client.reconnect_delay_set(1, 1)
        client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_message = self._on_message
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.client = client
        wait_for(self._subscribed.is_set, 10, "the subscription")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                Message(message.topic, bytes(message.payload), message.qos, bool(message.retain))
            )

    def received(self, prefix: str = "") -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic.startswith(prefix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def subscribed(
    port: int, topics: tuple[str, ...] = ("#",), session: str = ""
) -> Iterator[Subscriber]:
    subscriber = Subscriber(port, topics, session)
    try:
        yield subscriber
    finally:
        subscriber.close()


def retained(
    port: int,
    topics: tuple[str, ...] = ("#",),
    until: Callable[[dict[str, Message]], bool] = lambda state: True,
) -> dict[str, Message]:
    """What a subscriber arriving now gets at once: the retained message of each topic; asked
    again (a new subscriber) until `until` holds or 10 s passed, as what was just published may
    still be on its way to the broker."""
    deadline = time.monotonic() + 10
    while True:
        with subscribed(port, topics) as late:
            time.sleep(0.5)  # retained messages come right after the SUBACK
            state = {m.topic: m for m in late.received() if m.retain}
        if until(state) or time.monotonic() > deadline:
            return state


@pytest.fixture(scope="module")
def events(samples: Path, paris_zones_path: Path) -> list[Event]:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    engine = Engine(load_zones(paris_zones_path))
    return engine.process(sv) + engine.finish()


def fast_delivery(store: EventStore, publisher: MqttPublisher) -> MqttDelivery:
    return MqttDelivery(store, publisher, base_backoff_s=0.05, max_backoff_s=0.5, poll_s=0.1)


def test_a_url_gives_the_broker_the_prefix_and_a_key_without_the_password() -> None:
    target = parse_mqtt_url("mqtt://ha:s%40cret@broker.lan/home/skyfence")
    assert (target.host, target.port, target.tls) == ("broker.lan", 1883, False)
    assert (target.username, target.password, target.prefix) == ("ha", "s@cret", "home/skyfence")
    assert target.key == "mqtt://ha@broker.lan:1883/home/skyfence"
    assert "cret" not in target.key
    assert parse_mqtt_url("mqtts://10.0.0.2:8884").key == "mqtts://10.0.0.2:8884/skyfence"
    assert parse_mqtt_url("mqtts://h").port == 8883
    for url, why in [
        ("http://host", "expected mqtt://"),
        ("mqtt://host:0", "the port is not a number"),
        ("mqtt://host:99999", "the port is not a number"),
        ("mqtt://host/a/+/b", "without '+', '#'"),
        ("mqtt://host/a//b", "separated by single '/'"),
        ("mqtt://host/p?retain=1", "no ?query"),
        ("mqtt://host/home/#", "'#' is an MQTT wildcard"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            parse_mqtt_url(url)


def test_watch_refuses_a_bad_mqtt_url_at_start(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    url = "mqtt://127.0.0.1:1883/home/#"
    command = [sys.executable, "-m", "skyfence", "watch", "-z", "ukraine", "-s", "beast://127.0.0.1:9",
               "--store", str(store), "--mqtt", url]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2, run.stderr
    assert f"MQTT URL '{url}': '#' is an MQTT wildcard" in " ".join(run.stderr.split())
    assert "Traceback" not in run.stderr and not store.exists()


def test_zone_ids_cannot_leave_their_topic_level() -> None:
    target = parse_mqtt_url("mqtt://localhost")
    event = Event("entry", "EG/R+157#", "4baac6", "THY9BP", "TR", 1726565064.7, 49.6, 23.9, None)
    assert target.event_topic(stored_event(event_row(event))) == "skyfence/events/EG_R_157_/entry"
    assert target.inside_topic("a/b") == "skyfence/zones/a_b/inside"
    assert topic_segment("") == "_" and topic_segment("line\nbreak") == "line_break"
    assert target.discovery_topic("EG R/157") == "homeassistant/sensor/skyfence_EG_R_157/config"


def test_every_event_is_published_once_the_broker_is_back(
    events: list[Event], broker: Broker, tmp_path: Path
) -> None:
    target = parse_mqtt_url(f"mqtt://127.0.0.1:{broker.port}")
    with subscribed(broker.port, ("skyfence/events/#",), session="ha-test") as subscriber:
        broker.stop()  # the subscriber's session is saved with the broker's state
        with EventStore(tmp_path / "events.sqlite", notifiers=[target.key]) as store:
            publisher = MqttPublisher(target, timeout_s=2, max_reconnect_s=1)
            with fast_delivery(store, publisher) as delivery:
                store.write(events)
                store.flush()
                wait_for(lambda: delivery.stats.failed_attempts >= 3, 10, "failed attempts")
                assert delivery.stats.pending == len(events)  # none lost, none marked
                assert "not connected" in str(_last_error(store.path, target.key))
                broker.start()
                wait_for(lambda: delivery.stats.pending == 0, 60, "every delivery")
                wait_for(lambda: len(subscriber.received()) >= len(events), 20, "every message")
                stored = {r.id: r.to_json() for r in store.query(limit=len(events))}
    got = subscriber.received()
    assert {m.json()["id"] for m in got} == set(stored)
    for message in got:
        record = message.json()
        assert record == stored[record["id"]]  # the record the API gives
        assert message.topic == f"skyfence/events/{record['zone_id']}/{record['kind']}"
        assert message.qos == 1 and not message.retain


def test_a_watch_killed_before_the_broker_answered_delivers_on_the_next_run(
    broker: Broker, tmp_path: Path
) -> None:
    """The real command: the outbox row is committed with the event, survives a kill -9 while
    the broker is down, and the next `watch` (same recording, same store) publishes it."""
    recording = Path(__file__).parents[2] / "skyfence/samples/thy9bp_spoofing_2024-09-17.json.gz"
    store = tmp_path / "events.sqlite"
    url = f"mqtt://127.0.0.1:{broker.port}/test/sky"
    command = [sys.executable, "-m", "skyfence", "watch", "-z", "ukraine", "-s", str(recording),
               "--speed", "0", "--store", str(store), "--mqtt", url]  # fmt: skip
    with subscribed(broker.port, ("test/sky/#", "homeassistant/#"), session="ha-kill") as sub:
        broker.stop()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: _pending(store) == 1, 60, "the event's outbox row")
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.communicate(timeout=10)
        broker.start()
        run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
        assert _pending(store) == 0
        wait_for(lambda: bool(sub.received("test/sky/events/")), 10, "the event")
    (message,) = sub.received("test/sky/events/")
    record = message.json()
    assert message.topic == "test/sky/events/UKLV/suspect_position"
    with EventStore(store) as events:
        stored = events.get(record["id"])
        assert stored is not None and stored.to_json() == record
    state = retained(broker.port)
    assert state["test/sky/status"].payload == b"offline"  # said goodbye at the end
    zones = load_zones("ukraine")
    target = parse_mqtt_url(url)
    for zone in zones:
        config = state[target.discovery_topic(zone.id)].json()
        assert config == json.loads(json.dumps(discovery_config(target, zone.id, zone.name)))
        assert config["state_topic"] == f"test/sky/zones/{topic_segment(zone.id)}/inside"
        inside = state[config["state_topic"]].json()
        assert inside == {"count": 0, "aircraft": []}  # the flight left long ago
    picture = state["test/sky/picture"].json()
    assert set(picture["zones"]) == {z.id for z in zones}


def test_the_picture_is_retained_for_a_late_subscriber(
    samples: Path, paris_zones_path: Path, broker: Broker
) -> None:
    """After an hour of a real recording, some aircraft are inside the Paris zones: a late
    subscriber reads those the engine has inside each zone among those the map shows (heard in
    the last five minutes: one whose contact was lost stays "inside" for the engine)."""
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    zones = load_zones(paris_zones_path)
    engine = Engine(zones, keep_judged=True)
    first_hour = sv.take(np.flatnonzero(sv.t_s < sv.t_s.min() + 3600.0))
    picture = LivePicture(engine, [], None, every_s=0.0)
    run_watch([ReplaySource(first_hour, batch_rows=5_000)], engine, [], on_tick=picture.tick)
    inside = engine.inside()
    shown = {row["icao24"] for row in picture.aircraft}
    assert any(f"{a:06x}" in shown for a in inside), "aircraft inside a zone after the hour"
    target = parse_mqtt_url(f"mqtt://127.0.0.1:{broker.port}")
    publisher = MqttPublisher(target, [(z.id, z.name) for z in zones])
    try:
        assert publisher.wait_connected(10)
        publisher.publish_picture(picture.aircraft, engine.clock_s)
        state = retained(
            broker.port, until=lambda s: all(target.inside_topic(z.id) in s for z in zones)
        )
        for zone in zones:
            expected = sorted(
                f"{a:06x}" for a, ids in inside.items() if zone.id in ids and f"{a:06x}" in shown
            )
            got = state[target.inside_topic(zone.id)].json()
            assert got["count"] == len(expected)
            assert [a["icao24"] for a in got["aircraft"]] == expected
            assert state[target.discovery_topic(zone.id)].json()["name"] == (
                f"Aircraft inside {zone.name}"
            )
        assert state["skyfence/status"].payload == b"online"
        kept = zones[0]
        publisher.set_zones([(kept.id, kept.name)])  # the zone file was edited: one zone left
        after = retained(
            broker.port,
            until=lambda s: all(target.discovery_topic(z.id) not in s for z in zones[1:]),
        )
        for zone in zones[1:]:
            assert target.discovery_topic(zone.id) not in after  # the sensor is removed
            assert target.inside_topic(zone.id) not in after
        assert target.discovery_topic(kept.id) in after
    finally:
        publisher.close()


def test_a_dead_watcher_is_announced_by_its_last_will(broker: Broker) -> None:
    target = parse_mqtt_url(f"mqtt://127.0.0.1:{broker.port}/will")
    code = (
        "import sys, time\n"
        "from skyfence.alerts.mqtt import MqttPublisher, parse_mqtt_url\n"
        "p = MqttPublisher(parse_mqtt_url(sys.argv[1]))\n"
        "assert p.wait_connected(10)\n"
        "print('connected', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, f"mqtt://127.0.0.1:{broker.port}/will"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "connected"
        state = retained(broker.port, until=lambda s: target.status_topic in s)
        assert state[target.status_topic].payload == b"online"
    finally:
        child.kill()
        child.wait(timeout=10)
    wait_for(
        lambda: retained(broker.port)[target.status_topic].payload == b"offline",
        10,
        "the last will",
    )


def _pending(store: Path) -> int:
    if not store.exists():
        return 0
    with contextlib.closing(sqlite3.connect(store, timeout=5)) as conn:
        try:
            sql = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # not created yet
            return 0


def _last_error(store: Path, key: str) -> str | None:
    with contextlib.closing(sqlite3.connect(store)) as conn:
        sql = "SELECT last_error FROM outbox WHERE url = ? AND last_error IS NOT NULL LIMIT 1"
        row = conn.execute(sql, (key,)).fetchone()
    return None if row is None else str(row[0])
