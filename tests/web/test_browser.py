"""The map in a real browser (Debian's Chromium, driven by Playwright) against a real watch:
a replay feeds the store, the page draws zones and aircraft, an alert arrives live and is
acknowledged. The screenshot is kept in test-artifacts/ for a human to look at."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fakes import free_port, page_errors, serving

from skyfence.kinds import KINDS

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from skyfence.engine.events import Event

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
TOKEN = "browser-test-token"


@pytest.fixture()
def watcher(tmp_path: Path) -> Iterator[str]:
    """`skyfence watch --web` replaying real frames at 100x: the first alert comes ~14 s in."""
    frames = files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"
    with serving(
        tmp_path, "watch", "--zones", "demo", "--source", str(frames), "--speed", "100",
        "--web", "--store", tmp_path / "events.sqlite", env={"SKYFENCE_TOKEN": TOKEN},
    ) as url:  # fmt: skip
        yield url


def test_an_alert_arrives_live_and_is_acknowledged(watcher: str, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    problems = page_errors(page)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url) if not r.url.startswith((watcher, "data:", "blob:")) else None
        ),
    )
    page.goto(f"{watcher}#token={TOKEN}&by=mallory")  # a link cannot name who acknowledges
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
    labels = page.locator(".zone-label").all_inner_texts()
    assert any("temporary reserved area" in text.lower() or "DEMO" in text for text in labels)
    page.wait_for_selector(".aircraft[data-icao24='393322']", timeout=30_000)

    # the first alert is a predicted entry, pushed by the server while we watch
    alert = page.locator(".alert.kind-predicted_entry.new").first
    alert.wait_for(timeout=60_000)
    assert "AFR34ZG" in alert.inner_text()
    colour = alert.evaluate("e => getComputedStyle(e).getPropertyValue('--k').trim()")
    assert colour == KINDS["predicted_entry"].colour  # the kinds' table, through /api/kinds
    assert alert.locator(".kind").inner_text().lower() == KINDS["predicted_entry"].label
    assert page.locator("#by").input_value() == ""
    page.locator("#by").fill("Duty Analyst")  # the user types it
    alert.locator("button.ack").click()
    page.wait_for_selector(".alert.kind-predicted_entry.acked", timeout=10_000)
    event_id = alert.get_attribute("data-id")
    stored = httpx.get(f"{watcher}api/events/{event_id}").json()["event"]
    assert stored["acknowledged"]["by"] == "Duty Analyst"

    # and the aircraft turns red once inside
    page.wait_for_selector(".aircraft.state-inside", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "map_live_alert.png"))
    assert not problems, problems
    assert not outside, f"the page reached outside the server: {outside}"
    assert re.search(r"\.png$", str(ARTIFACTS / "map_live_alert.png"))


@pytest.fixture()
def server(demo_store_path: Path, tmp_path: Path) -> Iterator[str]:
    """`skyfence serve` over the store the demo's watch wrote (THY9BP's hours included)."""
    store = tmp_path / "demo.sqlite"
    store.write_bytes(demo_store_path.read_bytes())
    with serving(
        tmp_path, "serve", "--store", store, name="serve", env={"SKYFENCE_TOKEN": TOKEN}
    ) as url:
        yield url


def test_the_interference_layer_steps_through_the_hours(server: str, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    problems = page_errors(page)
    page.goto(f"{server}#token={TOKEN}")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
    panel = page.locator("#interference")
    assert panel.is_visible()
    slider = page.locator("#if-hour")
    assert slider.get_attribute("max") == "2"  # THY9BP's three hours, the latest shown
    assert page.locator("#if-label").inner_text().startswith("2024-09-17 10:00 UTC")
    slider.fill("1")  # 09:00, when the position froze over Romania and then was spoofed
    label = page.locator("#if-label").inner_text()
    assert label.startswith("2024-09-17 09:00 UTC") and "3 flagged" in label, label
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "map_interference.png"))
    page.locator("#if-show").uncheck()
    assert page.evaluate("document.querySelector('#if-show').checked") is False
    assert not problems, problems


def test_the_api_docs_render_from_the_server_alone(
    demo_store_path: Path, tmp_path: Path, browser: Browser
) -> None:
    """Issue 12: /docs was blank, its Swagger UI coming from a CDN that our own CSP blocks."""
    from skyfence.store.events import EventStore
    from skyfence.web.server import WebServer

    store_path = tmp_path / "store.sqlite"
    store_path.write_bytes(demo_store_path.read_bytes())
    with EventStore(store_path) as store:
        server = WebServer(store, TOKEN, port=free_port())
        server.start()
        try:
            page = browser.new_page()
            problems = page_errors(page)
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None,
            )
            page.goto(server.url + "docs")
            page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert {"/api/events", "/api/events/{event_id}/ack"} <= set(paths)
            assert page.locator(".swagger-ui .info .title").inner_text().startswith("skyfence")
        finally:
            server.stop()
    assert not problems, problems
    assert not outside, f"the page reached outside the server: {outside}"


def test_the_first_view_shows_every_zone_and_event_and_the_story(
    server: str, browser: Browser
) -> None:
    """A newcomer after the demo: every zone and event in view, the recordings shown as
    finished, and THY9BP's card with the trusted track it departs from (over Poland)."""
    ARTIFACTS.mkdir(exist_ok=True)
    zones = httpx.get(f"{server}api/zones").json()["features"]
    events = httpx.get(f"{server}api/events", params={"limit": 100}).json()["items"]
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    problems = page_errors(page)
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "map_first_view.png"))
    box = page.locator("#map").bounding_box()
    assert box is not None
    points = [(e["lon"], e["lat"]) for e in events]
    for zone in zones:
        rings = zone["geometry"]["coordinates"]
        rings = rings if zone["geometry"]["type"] == "Polygon" else [r[0] for r in rings]
        points += [tuple(xy[:2]) for ring in rings for xy in ring]
    pixels = page.evaluate("pts => pts.map(p => window.skyfenceMap.project(p))", points)
    assert all(0 <= px["x"] <= box["width"] and 0 <= px["y"] <= box["height"] for px in pixels)

    shown = page.evaluate(
        "[...document.querySelectorAll('.zone-label')].filter(n =>"
        " getComputedStyle(n).visibility !== 'hidden' && n.offsetParent)"
        ".map(n => n.getBoundingClientRect().toJSON())"
    )
    assert len(shown) >= 2
    labelled = page.evaluate(
        "[...document.querySelectorAll('.zone-label:not(.crowded)')].map(n => n.dataset.zone)"
    )
    assert {e["zone_id"] for e in events} <= set(labelled)  # the zones alerts are about
    for a, b in itertools.combinations(shown, 2):  # no label drawn over another
        assert not (
            a["left"] < b["right"] and b["left"] < a["right"]
            and a["top"] < b["bottom"] and b["top"] < a["bottom"]
        ), (a, b)  # fmt: skip

    finished = page.locator("#sources .source.finished")
    assert finished.count() == 2 and "finished" in finished.first.inner_text()
    assert page.locator("#sources .source.disconnected").count() == 0

    page.locator(".alert.kind-suspect_position").first.click()
    verdict = page.locator("#details .verdict")
    verdict.wait_for(timeout=10_000)
    trusted = int(verdict.get_attribute("data-trusted") or 0)
    quarantined = int(verdict.get_attribute("data-quarantined") or 0)
    assert trusted > 100  # the path flown before and after, around the spoofed stretch
    assert quarantined == 741 and "within 60 min of the event" in verdict.inner_text()
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "map_suspect_card.png"))
    assert not problems, problems


def test_a_notification_link_opens_its_event(server: str, browser: Browser) -> None:
    """`watch --public-url URL` links each notification to URL#event=ID: the card opens."""
    events = httpx.get(f"{server}api/events", params={"kind": "entry", "limit": 1}).json()
    event = events["items"][0]
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    page.goto(f"{server}#event={event['id']}")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
    page.locator("#details").wait_for(timeout=10_000)
    assert event["callsign"] in page.locator("#details").inner_text()
    assert page.locator(".alert.selected").get_attribute("data-id") == event["id"]


def test_a_rules_event_shows_its_rule_not_a_blank_zone(
    rule_events: list[Event], tmp_path: Path, browser: Browser
) -> None:
    """An emergency squawk and a watched aircraft have no zone: the list and the card say
    the rule's finding ("squawk 7700 (emergency)", "watch list (Airlines)"), not a dash."""
    from skyfence.store.events import EventStore
    from skyfence.web.server import WebServer

    with EventStore(tmp_path / "rules.sqlite") as store:
        store.write(rule_events)
        store.flush(timeout=10)
        server = WebServer(store, TOKEN, port=free_port())
        server.start()
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            problems = page_errors(page)
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
            squawk = page.locator(".alert.kind-emergency_squawk")
            assert squawk.locator(".zone").inner_text() == "squawk 7700 (emergency)"
            watched = page.locator(".alert.kind-watched_aircraft .zone")
            assert watched.inner_text() == "watch list (Airlines)"
            squawk.locator("button.open").click()
            rule = page.locator("#details dd.rule")
            rule.wait_for(timeout=10_000)
            assert rule.inner_text() == "squawk 7700 (emergency)"
            assert page.locator("#details dd.band").count() == 0  # no zone, no zone band
        finally:
            server.stop()
    assert not problems, problems
