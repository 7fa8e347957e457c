"""`serve` beside a running `watch`: two processes, one SQLite store, both writing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
from fakes import free_port

from skyfence.store.events import EventStore
from skyfence.web.server import WebServer, allowed_hosts

TOKEN = "server-test-token"


def wait_until_serving(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(url + "/api/status", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not start"
        time.sleep(0.2)


def test_acknowledgements_beside_a_running_watch_are_never_refused_for_a_lock(
    demo_store_path: Path, tmp_path: Path
) -> None:
    """Issue 12: 32 of 300 parallel acknowledgements, and sequential ones, got `503 database
    is locked` while a watch wrote to the same store."""
    store = tmp_path / "events.sqlite"
    shutil.copy(demo_store_path, store)
    env = {**os.environ, "SKYFENCE_TOKEN": TOKEN}
    frames = files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"
    port = free_port()
    run = [sys.executable, "-m", "skyfence"]
    watch = subprocess.Popen(
        [*run, "watch", "--zones", "demo", "--source", str(frames), "--speed", "20",
         "--store", str(store)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    serve = subprocess.Popen(
        [*run, "serve", "--store", str(store), "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, serve)
        ids = [e["id"] for e in httpx.get(url + "/api/events?limit=1000").json()["items"]]
        positions_before = httpx.get(url + "/api/status").json()
        assert len(ids) >= 7

        def acknowledge(n: int) -> tuple[int, str]:
            response = httpx.post(
                f"{url}/api/events/{ids[n % len(ids)]}/ack",
                json={"by": "duty analyst", "note": f"ack {n}"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            )
            return response.status_code, response.text[:200]

        with ThreadPoolExecutor(16) as pool:
            parallel = list(pool.map(acknowledge, range(300)))
        sequential = [acknowledge(n) for n in range(50)]
        assert watch.poll() is None, "the watch must still be writing"
        answers = Counter(status for status, _ in parallel + sequential)
        assert answers == {200: 350}, [text for status, text in parallel if status != 200][:3]
        assert httpx.get(url + "/api/status").json() != positions_before  # the watch wrote
    finally:
        for process in (serve, watch):
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.parametrize(
    ("host", "extra", "expected"),
    [
        ("127.0.0.1", (), ("localhost", "127.0.0.1", "[::1]")),
        ("::1", (), ("localhost", "127.0.0.1", "[::1]")),
        ("0.0.0.0", (), ("localhost", "127.0.0.1", "[::1]")),  # a wildcard names no host
        ("192.0.2.7", ("Monitor.LAN",), ("localhost", "127.0.0.1", "[::1]", "192.0.2.7",
                                          "monitor.lan")),
        ("2001:db8::7", (), ("localhost", "127.0.0.1", "[::1]", "[2001:db8::7]")),
    ],
)  # fmt: skip
def test_the_hosts_answered_are_this_machine_the_bound_address_and_those_named(
    host: str, extra: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert allowed_hosts(host, extra) == expected


def test_a_rebound_host_name_is_refused(demo_store_path: Path, tmp_path: Path) -> None:
    """Issue 12: DNS rebinding. A page from evil.example re-points its name at 127.0.0.1 and
    reads the API as same-origin; its requests carry `Host: evil.example`."""
    store_path = tmp_path / "store.sqlite"
    shutil.copy(demo_store_path, store_path)
    port = free_port()
    with EventStore(store_path) as store:
        server = WebServer(store, TOKEN, port=port, extra_hosts=("monitor.lan",))
        server.start()
        try:
            url = f"http://127.0.0.1:{port}/api/events"
            for name in ("evil.example", "127.0.0.1.evil.example", "localhost.", "", "monitor"):
                answer = httpx.get(url, headers={"Host": f"{name}:{port}"})
                assert answer.status_code == 400, name
                assert "items" not in answer.text
            for name in ("localhost", "127.0.0.1", "[::1]", "LOCALHOST", "monitor.lan"):
                answer = httpx.get(url, headers={"Host": f"{name}:{port}"})
                assert answer.status_code == 200 and answer.json()["total"] == 7, name
            ack = httpx.post(
                url + f"/{answer.json()['items'][0]['id']}/ack",
                json={"by": "x"},
                headers={"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"},
            )
            assert ack.status_code == 400  # refused even with the token
        finally:
            server.stop()
