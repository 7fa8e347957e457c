"""Failures in the map's footer, in a real browser: a feed whose receiver refuses connections
and a webhook that is down are shown with their reason, not only in a tooltip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
THY9BP = Path(__file__).parents[2] / "skyfence/samples/thy9bp_spoofing_2024-09-17.json.gz"
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (scripts/test installs it)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_feed_and_a_failing_webhook_are_shown_in_the_footer(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    port, feed_port, hook_port = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "skyfence", "watch", "--zones", "ukraine",
            "--source", f"beast://127.0.0.1:{feed_port}", "--source", str(THY9BP),
            "--speed", "0", "--webhook", f"http://127.0.0.1:{hook_port}/secret-token",
            "--web", "--port", str(port), "--store", str(tmp_path / "events.sqlite"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None
            try:
                if httpx.get(url + "api/status", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the watcher's web server did not start"
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            page.goto(url)
            feed = page.locator("#sources .source.disconnected .why")
            feed.wait_for(timeout=30_000)
            assert feed.inner_text() == "Connection refused"
            hook = page.locator("#deliveries .delivery.failing")
            hook.wait_for(timeout=30_000)  # the status comes every 5 s
            text = hook.inner_text()
            assert text.startswith(f"http://127.0.0.1:{hook_port}/…")
            assert " pending · ConnectionRefusedError" in text
            assert "secret-token" not in page.content()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
