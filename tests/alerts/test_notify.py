"""Notifications through Apprise to a real HTTP server on 127.0.0.1, with no mock of Apprise.

The events are the engine's findings on real recordings (Air France's Mode S frames against the
demo zones, the `traffic` quickstart collection against the Paris zones); Apprise's `json://`,
`form://` and `ntfy://` services post them to a local server that records every request.
"""

from __future__ import annotations

import collections
import contextlib
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from skyfence.alerts.notify import AppriseDelivery, Destination, parse_destination
from skyfence.alerts.notify import parse_destinations as parse_all
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.kinds import KINDS
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore, OutboxCounts
from skyfence.zones.geojson import load_zones, zone_display_feature

SAMPLES = files("skyfence") / "samples"


@pytest.fixture(scope="module")
def afr_events() -> list[Event]:
    """AFR34ZG, Paris to Toulouse: predicted entries, entries and exits of two demo zones."""
    sv = StateVectors.concat(list(read_recording(str(SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz"))))
    engine = Engine(load_zones("demo"))
    return engine.process(sv) + engine.finish()


@pytest.fixture(scope="module")
def storm(quickstart_events: list[Event]) -> list[Event]:
    """Over a thousand events of many aircraft at once: a storm."""
    return quickstart_events


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    content_type: str
    body: dict[str, Any]  # JSON, or a form's fields


class Receiver:
    """An HTTP server that records what it is sent and answers 200 (or 500 while `failing`)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Request] = []
        self.failing = 0  # answer this many requests with a 500 first
        self.hold: threading.Event | None = None  # the first request waits for it
        self.held = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                kind = self.headers.get("Content-Type", "")
                if kind.startswith("application/json"):
                    body = json.loads(raw)
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                with receiver.lock:
                    hold, receiver.hold = receiver.hold, None
                    receiver.held += hold is not None
                if hold is not None:
                    hold.wait(60)  # recorded once released: the sender may be gone by then
                with receiver.lock:
                    fail = receiver.failing > 0
                    receiver.failing -= int(fail)
                    if not fail:
                        receiver.requests.append(Request(self.path, kind, body))
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self) -> list[Request]:
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def receiving(port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(port)
    try:
        yield receiver
    finally:
        receiver.close()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def worker(store: EventStore, d: Destination, **kwargs: Any) -> AppriseDelivery:
    """Backoffs of a few ms, so that failures cost little time; a timeout long enough that a
    busy machine causes no resend (at-least-once would allow it, the counts here would not)."""
    fast = {"max_backoff_s": 0.05, "base_backoff_s": 0.01, "poll_s": 0.05, "rng": random.Random(3)}
    return AppriseDelivery(store, d, timeout_s=30, **(fast | kwargs))  # no resend: slow


def deliver(
    tmp_path: Path, events: list[Event], url: str, receiver: Receiver, **kwargs: Any
) -> tuple[EventStore, AppriseDelivery]:
    """Store the events for the destination, deliver them all, and stop the worker."""
    d = parse_destination(url)
    store = EventStore(tmp_path / "events.db", notifiers=[d.key])
    store.set_zones([zone_display_feature(z) for z in load_zones("demo")])
    store.write(events)
    store.flush(timeout=10)
    delivery = worker(store, d, **kwargs)
    try:
        wait_for(lambda: delivery.stats.pending == 0, 30, "every delivery")
    finally:
        delivery.close(timeout=10)
    return store, delivery


def test_every_event_is_a_readable_message(afr_events: list[Event], tmp_path: Path) -> None:
    with receiving() as receiver:
        url = f"json://127.0.0.1:{receiver.port}/skyfence"
        store, delivery = deliver(
            tmp_path, afr_events, url, receiver, public_url="https://skyfence.example/"
        )
        requests = receiver.received()
    assert delivery.stats.messages == delivery.stats.sent == len(afr_events) == len(requests)
    assert store.outbox_counts() == OutboxCounts(pending=0, delivered=len(afr_events))
    store.close()
    for event, request in zip(afr_events, requests, strict=True):  # in the events' order
        record = event.to_dict()
        label = KINDS[event.kind].label
        assert request.path == "/skyfence"
        assert request.body["title"] == f"{label.capitalize()}: AFR34ZG - {event.zone_id}"
        assert request.body["type"] == {"critical": "failure"}.get(
            KINDS[event.kind].severity, KINDS[event.kind].severity
        )
        text = request.body["message"]
        assert f"({record['details']['zone_name']})" in text  # what and where
        assert f"zone band {record['details']['band']}" in text
        assert f"ICAO {event.icao24}, FR" in text  # who
        assert f"{record['altitude_ft']:,} ft" in text
        assert f"Time: {record['time']}" in text
        assert "Integrity: trusted position" in text
        assert f"Map: https://skyfence.example/#event={event.id}" in text
    whys = [r.body["message"].split("Why: ")[1].split("\n")[0] for r in requests]
    for event, reason in zip(afr_events, whys, strict=True):
        if event.kind == "entry":
            assert reason == f"{event.details['crossing']} crossing"
        if event.kind == "exit":
            inside = event.details["time_inside_s"]
            assert reason == f"{event.details['crossing']} crossing, {inside} s inside"
        if event.kind == "predicted_entry":
            assert reason == f"entry predicted in {event.details['seconds_to_entry']} s"


def test_ntfy_and_form_targets_on_a_local_host(afr_events: list[Event], tmp_path: Path) -> None:
    """Apprise's ntfy service pointed at a self-hosted server (here, ours), and a plain form."""
    for n, (scheme, path) in enumerate([("ntfy", "/"), ("form", "/form")]):
        with receiving() as receiver:
            target = "skyfence-alerts" if scheme == "ntfy" else "form"
            url = f"{scheme}://127.0.0.1:{receiver.port}/{target}"
            store, _ = deliver(tmp_path / str(n), afr_events[:2], url, receiver)
            store.close()
            requests = receiver.received()
        assert [r.path for r in requests] == [path, path]
        assert all("AFR34ZG" in r.body["title"] for r in requests)
        assert all(f"ICAO {afr_events[0].icao24}" in r.body["message"] for r in requests)
        if scheme == "ntfy":
            assert {r.body["topic"] for r in requests} == {"skyfence-alerts"}


def test_filters_send_only_what_a_destination_wants(
    afr_events: list[Event], tmp_path: Path
) -> None:
    with receiving() as receiver:
        url = (
            f"json://127.0.0.1:{receiver.port}/only?skyfence-zones=demo-r-approach"
            "&skyfence-kinds=entry,exit,predicted_entry&skyfence-severity=warning"
        )
        store, delivery = deliver(tmp_path, afr_events, url, receiver)
        requests = receiver.received()
    wanted = [
        e for e in afr_events if e.zone_id == "DEMO-R-APPROACH" and KINDS[e.kind].severity != "info"
    ]
    assert 0 < len(wanted) < len(afr_events)
    assert [r.body["message"].split("Event ")[-1] for r in requests] == [e.id for e in wanted]
    assert delivery.stats.messages == len(wanted)
    assert store.outbox_counts() == OutboxCounts(pending=0, delivered=len(afr_events))  # all done
    store.close()


def test_a_storm_is_summarised_not_dropped(storm: list[Event], tmp_path: Path) -> None:
    with receiving() as receiver:
        url = f"json://127.0.0.1:{receiver.port}/storm?skyfence-per-minute=5"
        store, delivery = deliver(tmp_path, storm, url, receiver, batch=len(storm))
        requests = receiver.received()
    assert store.outbox_counts() == OutboxCounts(pending=0, delivered=len(storm))
    assert len(requests) == delivery.stats.messages == 5  # the rate: 4 events, then a summary
    store.close()
    singles, summary = requests[:4], requests[4]
    ordered = sorted(storm, key=lambda e: (e.t_s, e.id))
    assert [r.body["message"].split("Event ")[-1] for r in singles] == [e.id for e in ordered[:4]]
    rest = ordered[4:]
    assert summary.body["title"] == f"skyfence: {len(rest):,} more events"
    head = summary.body["message"].split("\n")[0]
    counts = collections.Counter((KINDS[e.kind].label, e.zone_id) for e in rest)
    listed = re.findall(r"([\d,]+) ([a-z ]+?) (\S+?)(?:,|$)", head.split(": ", 1)[1])
    assert {
        (label, zone): int(n.replace(",", "")) for n, label, zone in listed
    } == counts  # every one counted
    assert f"and {len(rest) - 20:,} more in the event store" in summary.body["message"]


def test_events_held_back_by_the_rate_add_up_to_one_summary(
    afr_events: list[Event], tmp_path: Path
) -> None:
    """Two messages a window: two events go out; four more, committed at once while the
    window is spent, wait, then go out as one summary (or one message and a summary of three,
    as the window slides past the first send and then the second)."""
    with receiving() as receiver:
        d = parse_destination(f"json://127.0.0.1:{receiver.port}/rate?skyfence-per-minute=2")
        with EventStore(tmp_path / "events.db", notifiers=[d.key]) as store:
            store.write(afr_events[:2])
            delivery = worker(store, d, window_s=2.0)
            try:
                wait_for(lambda: len(receiver.received()) == 2, 30, "the first two")
                store.write(afr_events[2:])
                store.flush(timeout=10)
                wait_for(lambda: delivery.stats.pending == 0, 30, "every delivery")
            finally:
                delivery.close(timeout=10)
        requests = receiver.received()
    assert len(requests) in (3, 4) and requests[-1].body["title"].startswith("skyfence: ")
    lines = {
        e.id: f"{e.to_dict()['time']} {KINDS[e.kind].label} {e.zone_id} AFR34ZG" for e in afr_events
    }
    covered = []
    for r in requests[:-1]:
        covered.append(lines[r.body["message"].split("Event ")[-1]])
    rest = requests[-1].body["message"].split("\n")
    assert rest[0].startswith(f"{len(afr_events) - len(covered)} more events: ")
    assert covered + rest[2:] == list(lines.values())  # each event once, in order


def test_an_endpoint_down_then_up_gets_everything(afr_events: list[Event], tmp_path: Path) -> None:
    with receiving() as probe:
        port = probe.port  # free now, refused until the receiver binds it again
    d = parse_destination(f"json://127.0.0.1:{port}/late")
    with EventStore(tmp_path / "events.db", notifiers=[d.key]) as store:
        store.write(afr_events)
        store.flush(timeout=10)
        delivery = worker(store, d)
        try:
            wait_for(lambda: delivery.stats.failed_attempts >= 3, 30, "refused attempts")
            assert delivery.stats.pending == len(afr_events)
            with receiving(port) as receiver:
                receiver.failing = 2  # and it answers 500 twice as it comes up
                wait_for(lambda: delivery.stats.pending == 0, 30, "every delivery")
                requests = receiver.received()
        finally:
            delivery.close(timeout=10)
    sent = collections.Counter(r.body["message"].split("Event ")[-1] for r in requests)
    assert sent == collections.Counter(e.id for e in afr_events)  # each once (failed: retried)
    with contextlib.closing(sqlite3.connect(tmp_path / "events.db")) as conn:
        errors = [e for (e,) in conn.execute("SELECT last_error FROM outbox") if e]
    assert errors and all(e.startswith("apprise: ") for e in errors)


def test_the_store_keeps_no_secret_of_the_url(afr_events: list[Event], tmp_path: Path) -> None:
    url = "tgram://123456789:AAE-secret-bot-token/-100123456?skyfence-kinds=entry"
    d = parse_destination(url)
    assert d.url == "tgram://123456789:AAE-secret-bot-token/-100123456"
    assert d.key.startswith("apprise:") and "secret" not in d.key
    with EventStore(tmp_path / "events.db", notifiers=[d.key]) as store:
        store.write(afr_events)
        store.flush(timeout=10)
    assert b"secret" not in (tmp_path / "events.db").read_bytes()
    with EventStore(tmp_path / "empty.db", notifiers=[d.key]) as empty, worker(empty, d) as w:
        assert w.name.startswith("tgram://") and "secret" not in w.name  # what logs show
    assert parse_destination(url + "&skyfence-zones=x").key == d.key  # filters are not the key


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("json://h/p?skyfence-zone=A", "unknown option skyfence-zone (known: skyfence-kinds,"),
        ("json://h/p?skyfence-kinds=entry,landing", "unknown kind landing (kinds: predicted_"),
        ("json://h/p?skyfence-severity=high", "skyfence-severity=high: expected one of info,"),
        ("json://h/p?skyfence-per-minute=0", "skyfence-per-minute=0: expected a whole number"),
        ("json://h/p?skyfence-kinds=entry&skyfence-kinds=exit", "skyfence-kinds is given twice"),
        ("telegram-bot-token", "expected an Apprise URL, SERVICE://..."),
        ("nosuchservice://tok3n@h", "nosuchservice://...: Apprise cannot use this URL"),
    ],
)
def test_a_bad_destination_is_refused_by_what_is_wrong(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)) as caught:
        parse_all([url])
    assert "tok3n" not in str(caught.value)  # the URL's secrets are not echoed


def test_the_same_destination_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="the same destination is given twice"):
        parse_all(["json://h/p?skyfence-kinds=entry", "json://h/p"])


# -- `watch --notify`, killed with SIGKILL mid-run --------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def watch(tmp_path: Path, name: str, *args: str | Path) -> subprocess.Popen[bytes]:
    """`python -m skyfence watch`, its output in files (a full pipe cannot block it)."""
    with (tmp_path / f"{name}.out").open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "skyfence", "watch", *map(str, args)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
        )


def stored(store: Path) -> dict[str, int]:
    """Event id -> 1 if its notification is marked delivered, else 0 (read as another process)."""
    if not store.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)) as conn:
        try:
            sql = "SELECT event_id, delivered_at IS NOT NULL FROM outbox"
            return {event_id: int(done) for event_id, done in conn.execute(sql)}
        except sqlite3.OperationalError:  # the schema is not there yet
            return {}


def test_watch_killed_mid_run_then_restarted_delivers_every_event(
    afr_events: list[Event], tmp_path: Path
) -> None:
    """The endpoint holds the first notification unanswered; watch is killed with SIGKILL once
    three events are stored; a second watch of the same recording delivers every one."""
    recording = SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz"
    store = tmp_path / "events.sqlite"
    with receiving() as receiver:
        receiver.hold = release = threading.Event()
        args = (
            "--zones", "demo", "--source", str(recording), "--store", store,
            "--notify", f"json://127.0.0.1:{receiver.port}/watch?skyfence-per-minute=60",
            "--public-url", "https://skyfence.example/map/",
        )  # fmt: skip
        first = watch(tmp_path, "first", *args, "--speed", "200")
        try:
            wait_for(lambda: len(stored(store)) >= 3 and receiver.held > 0, 60, "3 events")
        finally:
            first.kill()  # SIGKILL
            first.wait(10)
            release.set()
        assert first.returncode == -signal.SIGKILL
        before = stored(store)
        assert 3 <= len(before) < len(afr_events) and sum(before.values()) == 0

        second = watch(tmp_path, "second", *args, "--speed", "0")
        assert second.wait(60) == 0, (tmp_path / "second.out").read_text()
        requests = receiver.received()
    assert stored(store) == {e.id: 1 for e in afr_events}
    sent = collections.Counter(r.body["message"].split("Event ")[-1] for r in requests)
    assert set(sent) == {e.id for e in afr_events}  # every event, from either run
    assert [i for i, n in sent.items() if n > 1] in ([], [afr_events[0].id])  # only the held one
    link = f"Map: https://skyfence.example/map/#event={afr_events[-1].id}"
    assert any(link in r.body["message"] for r in requests)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--notify", "nosuch://tok3n@host"], "--notify nosuch://...: Apprise cannot use this URL"),
        (["--notify", "json://h/p?skyfence-rate=3"], "unknown option skyfence-rate"),
        (["--public-url", "ftp://map"], "--public-url ftp://map: expected http(s)://HOST"),
        (["--notify", "https://127.0.0.1:0/hook"], "the port is not a number from 1 to 65535"),
    ],
)
def test_watch_and_demo_refuse_a_bad_destination_at_start(
    args: list[str], error: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from skyfence.cli import app

    recording = str(SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz")
    store = str(tmp_path / "events.sqlite")
    for command in (["watch", "-z", "demo", "-s", recording], ["demo", "--no-web"]):
        run = CliRunner().invoke(app, [*command, "--store", store, *args])
        assert run.exit_code == 2, run.output
        assert error in " ".join(run.output.split()) and "tok3n" not in run.output
        assert not Path(store).exists()  # refused before anything was opened
