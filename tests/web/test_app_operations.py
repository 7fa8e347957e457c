"""`/healthz` and `/metrics` on the app, and the deliveries in `/api/status` (the footer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from skyfence.store.events import EventStore
from skyfence.web.app import create_app, operations_app

HOOK = "https://discord.com/api/webhooks/1/secret-token"


def test_without_a_watch_healthz_says_whether_the_store_can_be_read(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.db")
    with TestClient(create_app(store, "t")) as client:
        ok = client.get("/healthz")
        assert ok.status_code == 200 and ok.json() == {"status": "ok", "reasons": []}
        assert client.get("/metrics").status_code == 404  # only a watch has metrics
        store.close()
        down = client.get("/healthz")
        assert down.status_code == 503
        assert down.json()["reasons"] == ["event store: the event store is closed"]


def test_a_watch_s_health_and_metrics_are_served_as_given(tmp_path: Path) -> None:
    verdict: list[tuple[bool, dict[str, Any]]] = [(True, {"status": "ok", "reasons": []})]

    def health() -> tuple[bool, dict[str, Any]]:
        return verdict[0]

    def metrics() -> tuple[bytes, str]:
        return b"x 1\n", "text/plain"

    with EventStore(tmp_path / "events.db") as store:
        alone = operations_app(store, health, metrics, ("testserver",))
        for app in (create_app(store, "t", health=health, metrics=metrics), alone):
            verdict[0] = (True, {"status": "ok", "reasons": []})
            with TestClient(app) as client:
                assert client.get("/healthz").status_code == 200
                assert client.get("/metrics").text == "x 1\n"
                verdict[0] = (False, {"status": "unhealthy", "reasons": ["feed x down"]})
                answer = client.get("/healthz")
                assert answer.status_code == 503 and answer.json()["reasons"] == ["feed x down"]
                assert answer.headers["cache-control"] == "no-store"


def test_the_status_names_each_destination_s_backlog_without_its_secret(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.db", [HOOK])
    with store, TestClient(create_app(store, "t")) as client:
        answer = client.get("/api/status")
        (delivery,) = answer.json()["deliveries"]
        assert delivery["name"].startswith("https://discord.com/…")
        assert delivery | {"name": ""} == {
            "name": "",
            "pending": 0,
            "oldest_pending_s": None,
            "last_error": None,
        }
        assert "secret" not in answer.text
