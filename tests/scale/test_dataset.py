"""An hourly Parquet history on one machine: streamed, split over worker processes, and the
same events as one engine over the whole."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fakes import audited as audited_by
from opensky_files import one_engine_events, opensky_table, squawking_history, write_hourly

from bench.peer import zone_file
from skyfence.audit_options import AuditOptions
from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.scale import dataset
from skyfence.scale.dataset import audit_dataset, dataset_files
from skyfence.schema import StateVectors
from skyfence.settings import EngineSettings
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones


def test_workers_give_the_events_of_one_engine(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    files = write_hourly(sv, tmp_path / "history" / "2021-10-07", hour_s=600.0)
    assert dataset_files(tmp_path / "history") == files  # time order
    zones = load_zones(paris_zones_path) + load_zones("ukraine")
    local: list[Event] = []
    audited = run_audit(files, Engine(zones, EngineSettings()), [], on_events=local.extend)
    want = [e.to_dict() for e in sorted(local, key=Event.sort_key)]
    assert len(want) > 100 and any(e["kind"] == "lost_contact" for e in want)
    for workers in (1, 2):
        found: list[Event] = []
        result = audit_dataset(tmp_path / "history", zones, workers=workers, on_events=found.extend)
        assert [e.to_dict() for e in found] == want, workers
        assert result.rows == len(sv) and result.inputs == len(files)
        assert result.peak_rss_mb is not None and 0 < result.peak_rss_mb < 4096
        # the one result type, filled as the single engine fills it
        assert audited_by(result) == audited_by(audited) and result.events == len(want)


def test_one_file_and_its_hourly_folder_give_the_same_events(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/peer.py's workload in small: quickstart at 10 s, again under other addresses, and
    the same aircraft a day later (they come back after a silence), against the peer's three
    zones; read as one Parquet file by `run_audit` and as hourly files by the workers, with
    batch boundaries that fall elsewhere on each side (a reported 12,120 vs 12,200 exits came
    from two versions of the engine, not from the two paths: this pins the paths together)."""
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    sv = sv.take(np.flatnonzero(np.floor(sv.t_s) % 10 == 0))
    copies = [
        sv,
        replace(sv, icao24=sv.icao24 ^ np.uint32(1 << 20)),
        replace(sv, t_s=sv.t_s + 86_400.0, t_pos_s=sv.t_pos_s + 86_400.0),
    ]
    sv = StateVectors.concat(copies)
    sv = sv.take(np.argsort(sv.t_s, kind="stable"))
    one = tmp_path / "one.parquet"
    pq.write_table(opensky_table(sv), one)
    files = write_hourly(sv, tmp_path / "history")
    assert len(files) == 6
    zone_file(tmp_path / "zones.geojson")  # the peer benchmark's three zones
    zones = load_zones(tmp_path / "zones.geojson")
    local: list[Event] = []
    audited = run_audit(
        [one], Engine(zones, EngineSettings()), [], batch_rows=70_000, on_events=local.extend
    )
    want = [e.to_dict() for e in sorted(local, key=Event.sort_key)]
    kinds = {e["kind"] for e in want}
    assert {"entry", "exit", "lost_contact", "predicted_entry"} <= kinds, kinds
    # in-process (one worker) with batches of another size; then two worker processes
    monkeypatch.setattr(dataset, "ENGINE_ROWS", 45_000)
    for workers in (1, 2):
        found: list[Event] = []
        result = audit_dataset(tmp_path / "history", zones, workers=workers, on_events=found.extend)
        assert [e.to_dict() for e in found] == want, workers
        assert audited_by(result) == audited_by(audited)


def test_a_folder_raises_the_emergency_squawks_one_file_raises(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """`--squawks` (on by default) was not applied to a folder: the same rows audited as one file
    gave an `emergency_squawk` event, as a folder none."""
    one, history = squawking_history(samples, tmp_path)
    zones = load_zones(paris_zones_path)
    settings = EngineSettings()
    local = one_engine_events(one, zones)
    want = [e.to_dict() for e in sorted(local, key=Event.sort_key)]
    squawks = [e for e in want if e["kind"] == "emergency_squawk"]
    assert [(e["icao24"], e["details"]["squawk"]) for e in squawks] == [("393322", "7700")]
    assert {"entry", "exit"} <= {e["kind"] for e in want}
    for workers in (1, 2):
        found: list[Event] = []
        options = AuditOptions(settings, squawks=True)
        audit_dataset(history, zones, options, workers=workers, on_events=found.extend)
        assert [e.to_dict() for e in found] == want, workers
    without: list[Event] = []  # and none when not asked for, as `--no-squawks` on files
    audit_dataset(history, zones, AuditOptions(settings), workers=1, on_events=without.extend)
    assert [e.to_dict() for e in without] == [e for e in want if e["kind"] != "emergency_squawk"]


def test_audit_of_a_folder_and_of_its_rows_as_one_file_say_the_same_squawk(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from skyfence.cli import app

    one, history = squawking_history(samples, tmp_path)
    found = []
    for data, more in ((one, []), (history, ["--workers", "1"])):
        out = tmp_path / f"{data.stem}.jsonl"
        args = ["audit", str(data), "-z", str(paris_zones_path), "-o", str(out), *more]
        run = CliRunner().invoke(app, args)
        assert run.exit_code == 0, run.output
        assert "emergency_squawk" in run.output
        found.append(sorted(out.read_text().splitlines()))  # one file: in the order found
    assert found[0] == found[1]
    assert sum('"kind": "emergency_squawk"' in line for line in found[0]) == 1


def test_audit_of_a_folder_from_the_command_line(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    write_hourly(sv, tmp_path / "history", hour_s=600.0)
    out = tmp_path / "events.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "skyfence", "audit", str(tmp_path / "history"),
         "-z", str(paris_zones_path), "--workers", "2", "-o", str(out), "--show", "3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) > 100 and "peak memory" in run.stdout and "(first 3 of" in run.stdout
    # the summary of the same files audited one by one: the same words, the same numbers
    from typer.testing import CliRunner

    from skyfence.cli import app

    files = [str(p) for p in dataset_files(tmp_path / "history")]
    each = CliRunner().invoke(app, ["audit", *files, "-z", str(paris_zones_path), "--show", "0"])
    assert each.exit_code == 0, each.output
    said = [line for line in run.stdout.splitlines() if " state vectors of " in line]
    assert len(said) == 1 and f"in {len(files)} files: " in said[0] and " events (" in said[0]
    assert said[0] in each.output.splitlines()


def test_a_bad_file_stops_every_worker_with_its_name(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """A file the reader refuses, in the middle of the history: the error reaches the caller
    from the reading thread and from a worker process alike, and names the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pytest

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    files = write_hourly(sv, tmp_path / "history", hour_s=600.0)
    bad = files[len(files) // 2 + 1]
    pq.write_table(pa.table({"time": [1], "lat": [48.0], "lon": [2.0]}), bad)  # no icao24
    zones = load_zones(paris_zones_path)
    for workers in (1, 2):
        with pytest.raises(ValueError, match=rf"{bad.name}: missing OpenSky columns \['icao24'\]"):
            audit_dataset(tmp_path / "history", zones, workers=workers)


def test_a_damaged_file_in_a_folder_is_named(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """pyarrow's errors do not name the file: a folder's audit said "Unexpected end of stream"
    (damage in a page) or "Parquet magic bytes not found" (a cut footer), not which of its
    files. Both are real ways a download or a full disk leaves a history."""
    import pytest

    from skyfence.sources.base import RecordingError

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    files = write_hourly(sv, tmp_path / "history", hour_s=600.0)
    zones = load_zones(paris_zones_path)
    bad = files[len(files) // 2]
    data = bytearray(bad.read_bytes())
    page = data.index(b"PAR1") + 4  # the first column chunk's first page
    data[page + 40 : page + 4_000] = b"\x55" * len(data[page + 40 : page + 4_000])
    bad.write_bytes(bytes(data))
    for workers in (1, 2):
        with pytest.raises(RecordingError, match=rf"{bad.name}: damaged Parquet file: "):
            audit_dataset(tmp_path / "history", zones, workers=workers)
    bad.write_bytes(bytes(data[: len(data) // 2]))  # cut: the footer is gone
    with pytest.raises(RecordingError, match=rf"{bad.name}: damaged Parquet file: "):
        audit_dataset(tmp_path / "history", zones, workers=1)


def test_malformed_rows_are_said_per_file_whatever_the_workers(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """Each worker skips the malformed rows of its own aircraft: merged, the count per file is
    the file's, as one engine reading it would say."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    files = write_hourly(sv, tmp_path / "history", hour_s=600.0)
    bad = files[3]
    table = pq.read_table(bad)
    lat = table.column("lat").to_numpy().copy()
    lat[[0, len(lat) // 2, -1]] = 200.0  # three rows, of different aircraft
    pq.write_table(table.set_column(table.schema.get_field_index("lat"), "lat", pa.array(lat)), bad)
    zones = load_zones(paris_zones_path)
    one = run_audit([bad], Engine(zones, EngineSettings()), [])
    assert one.skipped[str(bad)][0] == 3
    for workers in (1, 2):
        result = audit_dataset(tmp_path / "history", zones, workers=workers)
        assert list(result.skipped) == [str(bad)], workers
        n, problems = result.skipped[str(bad)]
        assert n == 3 and len(problems) >= 1 and all(str(bad) in p for p in problems)
