"""The API's inputs under fuzzing: any query, path or body gives a 2xx or 4xx, never a 500;
writes without the token are always refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from mutations import EXTREME_NUMBERS, OVERLONG

from skyfence.store.events import EventStore
from skyfence.web.app import STATIC, create_app

TOKEN = "fuzz-token"
TEXT = st.text(max_size=40) | st.sampled_from(
    ["2024-07-06T07:00:00Z", "2024-13-01", "-1", "1e309", "NaN", "4baac6", "' OR 1=1 --",
     "../../etc/passwd", "%00", "\u202e", "entry", "UKLV", "0" * 20, "9" * 400]
) | EXTREME_NUMBERS | OVERLONG  # fmt: skip
PARAMETERS = st.dictionaries(
    st.sampled_from(["since", "until", "zone", "kind", "icao24", "limit", "offset", "format"]),
    TEXT,
    max_size=6,
)


@pytest.fixture(scope="module")
def client(demo_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("fuzz") / "store.sqlite"
    shutil.copy(demo_store_path, path)
    with EventStore(path) as store, TestClient(create_app(store, TOKEN)) as client:
        yield client


ENDPOINTS = ["/api/events", "/api/export/events", "/api/zones", "/api/aircraft", "/api/status"]


@given(endpoint=st.sampled_from(ENDPOINTS), params=PARAMETERS)
def test_queries(client: TestClient, endpoint: str, params: dict[str, str]) -> None:
    response = client.get(endpoint, params=params)
    assert response.status_code < 500, (endpoint, params, response.text)


@given(segment=TEXT, params=PARAMETERS)
def test_paths(client: TestClient, segment: str, params: dict[str, str]) -> None:
    quoted = quote(segment, safe="/.")  # traversal attempts stay as they are
    for path in (f"/api/events/{quoted}", f"/api/export/track/{quoted}", f"/static/{quoted}"):
        response = client.get(path, params=params)
        assert response.status_code < 500, (path, response.text)
        if path.startswith("/static/") and response.status_code == 200:  # only package files
            served = (STATIC / segment).resolve()
            assert served.is_relative_to(STATIC.resolve()) and served.is_file(), segment


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@given(body=st.binary(max_size=300) | TEXT.map(str.encode), token=st.none() | HEADER_TEXT)
def test_acknowledgements(client: TestClient, body: bytes, token: str | None) -> None:
    event_id = client.get("/api/events", params={"limit": 1}).json()["items"][0]["id"]
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = client.post(f"/api/events/{event_id}/ack", content=body, headers=headers)
    assert response.status_code < 500, response.text
    if token != TOKEN:
        assert response.status_code == 401  # the token is checked before anything else
