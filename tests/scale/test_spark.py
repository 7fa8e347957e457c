"""Spark in local mode gives exactly the events of the local engine, on real traffic split into
files across which tracks continue."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fakes import audited as audited_by
from opensky_files import one_engine_events, squawking_history, write_hourly

from skyfence.audit_options import AuditOptions
from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings
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

    day = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    # the same aircraft fly again the next day: two sessions each, which may run on different
    # partitions; files of 10 minutes: most tracks cross several file boundaries, some while
    # inside a zone
    again = day.take(np.arange(len(day)))
    again.t_s[:] += 86_400.0
    again.t_pos_s[:] += 86_400.0
    sv = StateVectors.concat([day, again])
    files = write_hourly(sv, tmp_path / "history", hour_s=600.0)
    assert len(files) >= 12
    zones = load_zones(paris_zones_path) + load_zones("ukraine")
    settings = EngineSettings()
    local: list[Event] = []
    audited = run_audit(files, Engine(zones, settings), [], on_events=local.extend)

    result = run_spark_audit(
        spark, [str(tmp_path / "history")], zones, None, tmp_path / "events", partitions=3
    )
    table = pq.read_table(tmp_path / "events")
    got = sorted(zip(table["id"].to_pylist(), table["kind"].to_pylist(), strict=True))
    want = sorted((e.id, e.kind) for e in local)
    assert got == want
    assert result.events == len(local) > 100
    # the one result type, filled as the single engine fills it
    assert audited_by(result) == audited_by(audited) and result.inputs == len(files)
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
    # the sessions of one aircraft really ran on different partitions
    from pyspark.sql import functions as F

    from skyfence.scale.spark import by_session

    history = spark.read.parquet(str(tmp_path / "history"))  # type: ignore[attr-defined]
    frame = by_session(history, 3, 3600.0)
    spread = (
        frame.withColumn("partition", F.spark_partition_id())
        .groupBy("icao24")
        .agg(
            F.countDistinct("session").alias("sessions"),
            F.countDistinct("partition").alias("partitions"),
        )
        .collect()
    )
    assert all(row["sessions"] >= 2 for row in spread)
    assert sum(row["partitions"] > 1 for row in spread) > len(spread) / 3
    # the records themselves are the same, column by column
    local_by_id = {e.id: e.to_dict() for e in local}
    for row in table.to_pylist():
        want_row = local_by_id[row["id"]]
        assert (row["zone_id"], row["icao24"], row["callsign"]) == (
            want_row["zone_id"], want_row["icao24"], want_row["callsign"]
        )  # fmt: skip
        assert np.isclose(row["lat"], want_row["lat"]) and np.isclose(row["lon"], want_row["lon"])


def test_spark_raises_the_emergency_squawks_of_the_local_engine(
    spark: object, samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """`--squawks` is on by default: Spark's executors run the rule as the local engine does."""
    from skyfence.scale.spark import run_spark_audit

    one, history = squawking_history(samples, tmp_path)
    zones = load_zones(paris_zones_path)
    settings = EngineSettings()
    local = one_engine_events(one, zones)
    options = AuditOptions(settings, squawks=True)
    run_spark_audit(spark, [str(history)], zones, options, tmp_path / "events", partitions=3)
    table = pq.read_table(tmp_path / "events")
    got = sorted(zip(table["id"].to_pylist(), table["kind"].to_pylist(), strict=True))
    assert got == sorted((e.id, e.kind) for e in local)
    assert [k for _, k in got].count("emergency_squawk") == 1


def test_sessions_of_one_dataframe_twice_leave_its_schema_alone(
    spark: object, samples: Path, tmp_path: Path
) -> None:
    """`by_session` used to add its column to the frame's cached schema: the frame then
    claimed a `session` column it does not have, and a second audit of it failed."""
    from skyfence.scale.spark import by_session

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    few = np.isin(sv.icao24, np.unique(sv.icao24)[:10])
    write_hourly(sv.take(np.flatnonzero(few)), tmp_path / "history")
    history = spark.read.parquet(str(tmp_path / "history"))  # type: ignore[attr-defined]
    columns = list(history.columns)
    counts = [by_session(history, 2, 3600.0).count() for _ in range(2)]
    assert history.columns == columns and "session" not in columns
    assert counts == [few.sum()] * 2


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
    assert " state vectors of " in run.output  # the summary a local audit prints
    assert pq.read_table(out).num_rows > 100
    refused = CliRunner().invoke(app, [*args])
    assert refused.exit_code == 2 and "give -o DIR" in refused.output


def test_spark_workers_run_the_drivers_python_when_the_venv_is_not_on_path(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """skyfence run by its path, the venv not activated: the `python3` on PATH is not the one
    with skyfence and pyarrow, and the Python workers must not be started with it."""
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    few = np.isin(sv.icao24, np.unique(sv.icao24)[:20])
    write_hourly(sv.take(np.flatnonzero(few)), tmp_path / "history")
    script = Path(sys.executable).with_name("skyfence")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "skyfence"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env |= {k: os.environ[k] for k in ("PYTHONPATH", "JAVA_HOME") if k in os.environ}
    out = tmp_path / "events"
    args = ["audit", str(tmp_path / "history"), "-z", str(paris_zones_path), "--engine", "spark"]
    run = subprocess.run(
        [*command, *args, "--master", "local[1]", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "events (" in run.stdout
    assert pq.read_table(out).num_rows > 0


def test_sessions_are_cut_where_the_engine_forgets_whatever_the_batches(samples: Path) -> None:
    from skyfence.engine.engine import _after_long_silence
    from skyfence.scale.spark import _Run, _sessions

    day = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    again = day.take(np.arange(len(day)))
    again.t_s[:] += 5_000.0  # the same aircraft back after a silence of 5,000 s or less
    sv = StateVectors.concat([day, again])
    sv = sv.take(np.lexsort((sv.t_s, sv.icao24)))
    fix, icao24 = sv.fix_time_s(), sv.icao24.astype(np.int64)
    whole, _ = _sessions(icao24, fix, _Run(-1, -np.inf, 0), 3600.0)
    # a new session exactly where the engine starts an aircraft afresh
    new = np.append(False, (np.diff(whole) > 0) & (icao24[1:] == icao24[:-1]))
    engine_cuts = np.append(False, np.diff(fix) > 3600.0) & np.append(
        False, icao24[1:] == icao24[:-1]
    )
    assert np.array_equal(new, engine_cuts) and new.sum() > 100
    assert _after_long_silence(sv.icao24, fix, 3600.0).sum() == (whole > 0).sum()
    # streamed in batches of any size, the numbering is the same
    for size in (1_000, 33_333):
        carried, parts = _Run(-1, -np.inf, 0), []
        for start in range(0, len(sv), size):
            part, carried = _sessions(
                icao24[start : start + size], fix[start : start + size], carried, 3600.0
            )
            parts.append(part)
        assert np.array_equal(np.concatenate(parts), whole)
