"""Shared fixtures: the real recordings of the `traffic` package, read without importing it."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import WatchProcess

HERE = Path(__file__).parent
TEST_DATA = HERE / "data"


def traffic_samples() -> Path:
    spec = importlib.util.find_spec("traffic")
    assert spec is not None and spec.submodule_search_locations, "pip install -e '.[test]'"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    return traffic_samples()


@pytest.fixture(scope="session")
def paris_zones_path() -> Path:
    return TEST_DATA / "paris_zones.geojson"


@pytest.fixture(scope="session")
def demo_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store `skyfence demo` writes: two real recordings replayed through `watch`."""
    from typer.testing import CliRunner

    from skyfence.cli import app

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    run = CliRunner().invoke(app, ["demo", "--no-web", "--store", str(path)])
    assert run.exit_code == 0, run.output
    return path


@pytest.fixture
def watches() -> Iterator[list[WatchProcess]]:
    """The `watch` subprocesses a test starts, killed when it ends however it ends."""
    started: list[WatchProcess] = []
    yield started
    for watch in started:
        watch.kill()
