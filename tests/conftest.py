"""Shared fixtures: the real recordings of the `traffic` package, read without importing it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

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
