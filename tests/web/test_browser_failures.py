"""Failures in the map's footer, in a real browser: a feed whose receiver refuses connections
and a webhook that is down are shown with their reason, not only in a tooltip."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fakes import free_port, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser

THY9BP = Path(__file__).parents[2] / "skyfence/samples/thy9bp_spoofing_2024-09-17.json.gz"


def test_a_refused_feed_and_a_failing_webhook_are_shown_in_the_footer(
    tmp_path: Path, browser: Browser
) -> None:
    feed_port, hook_port = free_port(), free_port()
    with serving(
        tmp_path, "watch", "--zones", "ukraine",
        "--source", f"beast://127.0.0.1:{feed_port}", "--source", THY9BP,
        "--speed", "0", "--webhook", f"http://127.0.0.1:{hook_port}/secret-token",
        "--web", "--store", tmp_path / "events.sqlite",
    ) as url:  # fmt: skip
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
