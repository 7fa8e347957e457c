"""Spark in local mode gives exactly the events of the local engine, on real traffic split into
files across which tracks continue."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from opensky_files import write_hourly

from skyfence.audit import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.engine.zoneset import EngineSettings
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from skyfence.scale.spark import spark_session

    session = spark_session("local[2]", "skyfence tests")
    yield session
    session.stop()


def test_spark_equals_the_local_engine_across_file_boundaries(
    spark: object, samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    from skyfence.scale.spark import run_spark_audit

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    # files of 10 minutes: most tracks cross several file boundaries, some while inside a zone
    files = write_hourly(sv, tmp_path / "history", hour_s=600.0)
    assert len(files) >= 6
    zones = load_zones(paris_zones_path) + load_zones("ukraine")
    settings = EngineSettings()
    local: list[Event] = []
    run_audit(files, Engine(zones, settings), [], on_events=local.extend)

    result = run_spark_audit(
        spark, [str(tmp_path / "history")], zones, settings, tmp_path / "events", partitions=3
    )
    table = pq.read_table(tmp_path / "events")
    got = sorted(zip(table["id"].to_pylist(), table["kind"].to_pylist(), strict=True))
    want = sorted((e.id, e.kind) for e in local)
    assert got == want
    assert result.events == len(local) > 100
    kinds = {k for _, k in want}
    assert {"entry", "exit", "predicted_entry", "lost_contact"} <= kinds
    # tracks really did cross files while inside a zone: an entry in one file, its exit in another
    by_pair: dict[tuple[str, str], list[Event]] = {}
    for e in sorted(local, key=Event.sort_key):
        by_pair.setdefault((e.icao24, e.zone_id), []).append(e)
    crossing = [
        pair
        for pair, evs in by_pair.items()
        if any(
            a.kind == "entry"
            and b.kind in ("exit", "lost_contact")
            and a.t_s // 600 != b.t_s // 600
            for a, b in itertools.pairwise(evs)
        )
    ]
    assert len(crossing) >= 5
    # the records themselves are the same, column by column
    local_by_id = {e.id: e.to_dict() for e in local}
    for row in table.to_pylist():
        want_row = local_by_id[row["id"]]
        assert (row["zone_id"], row["icao24"], row["callsign"]) == (
            want_row["zone_id"], want_row["icao24"], want_row["callsign"]
        )  # fmt: skip
        assert np.isclose(row["lat"], want_row["lat"]) and np.isclose(row["lon"], want_row["lon"])


def test_audit_engine_spark_from_the_command_line(
    spark: object, samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """Last in this module: the command stops the session it used."""
    from typer.testing import CliRunner

    from skyfence.cli import app

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    write_hourly(sv, tmp_path / "history")
    out = tmp_path / "events"
    args = ["audit", str(tmp_path / "history"), "-z", str(paris_zones_path), "--engine", "spark"]
    run = CliRunner().invoke(app, [*args, "--master", "local[2]", "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert "events (" in run.output and "local[2]" in run.output
    assert pq.read_table(out).num_rows > 100
    refused = CliRunner().invoke(app, [*args])
    assert refused.exit_code == 2 and "give -o DIR" in refused.output
