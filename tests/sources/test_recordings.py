"""Recording readers on the real samples shipped with the `traffic` package.

Expected values are computed independently from the raw files (stdlib json), and the OpenSky
and Parquet files are built here from real samples, converted to those formats' names and units.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats
from skyfence.sources.columns import open_parquet
from skyfence.sources.opensky import to_state_vectors
from skyfence.sources.recordings import (
    FORMATS,
    RecordingError,
    RecordingReader,
    detect_format,
    read_recording,
)

_spec = importlib.util.find_spec("traffic")
assert _spec is not None and _spec.origin is not None
SAMPLES = Path(_spec.origin).parent / "data" / "samples"
QUICKSTART = SAMPLES / "collections" / "quickstart.json.gz"
SPOOFING = SAMPLES / "noisy" / "noisy_spoofing.json.gz"
TRACE = SAMPLES / "readsb" / "trace_full_ac671b.json"
FRAMES = SAMPLES / "rs1090" / "full_flight_short.jsonl"

M_PER_FT, MS_PER_KT = 0.3048, 1852 / 3600


def read_all(reader: RecordingReader) -> StateVectors:
    return StateVectors.concat(list(reader))


@pytest.fixture(scope="module")
def quickstart_records() -> list[dict[str, Any]]:
    with gzip.open(QUICKSTART) as f:
        records: list[dict[str, Any]] = json.load(f)
    return records


@pytest.fixture(scope="module")
def quickstart(quickstart_records: list[dict[str, Any]]) -> StateVectors:
    return read_all(read_recording(QUICKSTART))


@pytest.fixture(scope="module")
def spoofing() -> StateVectors:
    return read_all(read_recording(SPOOFING))


# --- traffic JSON -----------------------------------------------------------------------------


def test_traffic_json_records(
    quickstart: StateVectors, quickstart_records: list[dict[str, Any]]
) -> None:
    assert len(quickstart) == len(quickstart_records) == 284_505
    assert len(np.unique(quickstart.icao24)) == len({r["icao24"] for r in quickstart_records})
    assert len(np.unique(quickstart.icao24)) == 213
    assert quickstart.t_s[0] == quickstart_records[0]["timestamp"] / 1000
    # 2021-10-07 over the Paris region; altitudes in ft, speeds in kt
    assert 1633557600 <= quickstart.t_s.min() < quickstart.t_s.max() <= 1633644000
    assert quickstart.lat_deg.min() > 47 and quickstart.lat_deg.max() < 50.5
    assert np.nanmedian(quickstart.alt_baro_ft[~quickstart.on_ground]) > 5000
    assert np.nanmax(quickstart.gs_kt) < 700
    first = quickstart_records[0]
    assert quickstart.callsign[0] == first["callsign"]
    assert quickstart.squawk[0] == first["squawk"]
    assert quickstart.on_ground.sum() == sum(bool(r.get("onground")) for r in quickstart_records)


def test_traffic_json_columns_orient_shows_stale_positions(spoofing: StateVectors) -> None:
    with gzip.open(SPOOFING) as f:
        doc = json.load(f)
    assert len(spoofing) == len(doc["timestamp"]) == 8681
    assert np.unique(spoofing.icao24).tolist() == [0x4BAAC6]
    age = spoofing.t_s - spoofing.t_pos_s
    assert np.nanmin(age) >= 0
    # Under spoofing/jamming the receiver repeats the last position: t_pos_s stops advancing,
    # and every repeated identical position is one with an unchanged position time.
    assert (age > 60).sum() > 1000
    same_position = (np.diff(spoofing.lat_deg) == 0) & (np.diff(spoofing.lon_deg) == 0)
    same_fix = np.diff(spoofing.t_pos_s) == 0
    assert same_fix.sum() > 3000
    assert np.array_equal(same_position[same_fix], np.ones(same_fix.sum(), bool))


def test_traffic_json_number_squawks_keep_leading_zeros(tmp_path: Path) -> None:
    # traffic writes squawks as numbers when pandas made them floats (savan.json.gz does)
    records = [
        {
            "timestamp": 1647421385000 + i * 1000,
            "icao24": "39b415",
            "latitude": 43.2,
            "longitude": 6.7,
            "squawk": sq,
        }
        for i, sq in enumerate([4720.0, 25.0, None, 7000.0])
    ]
    path = tmp_path / "numbers.json"
    path.write_text(json.dumps(records))
    sv = read_all(read_recording(path))
    assert sv.squawk.tolist() == ["4720", "0025", "", "7000"]


def test_traffic_json_lines_and_iso_times(tmp_path: Path, spoofing: StateVectors) -> None:
    with gzip.open(SPOOFING) as f:
        doc = json.load(f)
    keys = list(doc["timestamp"])
    records = [{c: doc[c][k] for c in doc} for k in keys]
    lines = tmp_path / "spoofing.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert detect_format(lines) == "traffic-json"
    sv = read_all(read_recording(lines, batch_rows=1000))
    assert np.array_equal(sv.t_s, spoofing.t_s)
    assert np.array_equal(sv.t_pos_s, spoofing.t_pos_s, equal_nan=True)

    iso = [dict(r, timestamp=f"{np.datetime64(r['timestamp'], 'ms')}Z") for r in records[:50]]
    iso_path = tmp_path / "iso.json"
    iso_path.write_text(json.dumps(iso))
    assert np.array_equal(read_all(read_recording(iso_path)).t_s, spoofing.t_s[:50])


# --- traffic Parquet --------------------------------------------------------------------------


def test_traffic_parquet(
    tmp_path: Path, quickstart: StateVectors, quickstart_records: list[dict[str, Any]]
) -> None:
    table = pa.Table.from_pylist(quickstart_records)
    ms = table.column("timestamp").cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", ms)
    path = tmp_path / "quickstart.parquet"
    pq.write_table(table, path, row_group_size=40_000)

    assert detect_format(path) == "traffic-parquet"
    reader = read_recording(path, batch_rows=30_000)
    batches = list(reader)
    assert max(len(b) for b in batches) <= 30_000
    sv = StateVectors.concat(batches)
    assert len(sv) == len(quickstart)
    assert np.array_equal(sv.t_s, quickstart.t_s)
    assert np.array_equal(sv.icao24, quickstart.icao24)
    assert np.array_equal(sv.alt_baro_ft, quickstart.alt_baro_ft, equal_nan=True)
    assert reader.stats.rows_skipped == 0


# --- OpenSky ----------------------------------------------------------------------------------


def opensky_table(sv: StateVectors) -> pa.Table:
    """A real sample converted to OpenSky's state vector columns and SI units."""
    return pa.table(
        {
            "time": pa.array(np.floor(sv.t_s).astype(np.int64)),
            "icao24": pa.array([f"{a:06x}" for a in sv.icao24.tolist()]),
            "lat": sv.lat_deg,
            "lon": sv.lon_deg,
            "velocity": sv.gs_kt * MS_PER_KT,
            "heading": sv.track_deg,
            "vertrate": sv.vrate_fpm * M_PER_FT / 60,
            "callsign": pa.array([f"{c:<8}" for c in sv.callsign.tolist()]),
            "onground": pa.array(sv.on_ground),
            "alert": pa.array(np.zeros(len(sv), bool)),
            "spi": pa.array(np.zeros(len(sv), bool)),
            "squawk": pa.array(sv.squawk.tolist()),
            "baroaltitude": sv.alt_baro_ft * M_PER_FT,
            "geoaltitude": sv.alt_geo_ft * M_PER_FT,
            "lastposupdate": sv.t_pos_s,
            "lastcontact": sv.t_s,
        }
    )


def check_opensky(sv: StateVectors, original: StateVectors) -> None:
    assert len(sv) == len(original)
    assert np.array_equal(sv.t_s, np.floor(original.t_s))
    assert np.array_equal(sv.icao24, original.icao24)
    assert np.allclose(sv.gs_kt, original.gs_kt, equal_nan=True)
    assert np.allclose(sv.vrate_fpm, original.vrate_fpm, equal_nan=True)
    assert np.allclose(sv.alt_baro_ft, original.alt_baro_ft, equal_nan=True)
    assert np.allclose(sv.lat_deg, original.lat_deg, equal_nan=True)
    assert np.array_equal(sv.t_pos_s, original.t_pos_s, equal_nan=True)
    assert np.array_equal(sv.callsign, original.callsign)
    assert np.array_equal(sv.on_ground, original.on_ground)


def test_opensky_csv_gz(tmp_path: Path, spoofing: StateVectors) -> None:
    path = tmp_path / "states_2024-09-17-08.csv.gz"
    with pa.CompressedOutputStream(str(path), "gzip") as out:
        pacsv.write_csv(opensky_table(spoofing), out)
    assert detect_format(path) == "opensky-csv"
    reader = read_recording(path, batch_rows=1000)
    batches = list(reader)
    assert max(len(b) for b in batches) <= 1000
    check_opensky(StateVectors.concat(batches), spoofing)
    assert reader.stats.rows_skipped == 0


def test_opensky_csv_bad_rows_are_counted(tmp_path: Path, spoofing: StateVectors) -> None:
    path = tmp_path / "states.csv"
    pacsv.write_csv(opensky_table(spoofing.take(np.arange(100))), str(path))
    lines = path.read_text().splitlines()
    lines.insert(10, "1726560300,4baac6,not-a-latitude" + ",1" * 13)  # bad value
    lines.insert(20, "1726560300,4baac6,41.0")  # missing fields
    path.write_text("\n".join(lines) + "\n")
    reader = read_recording(path)
    sv = read_all(reader)
    assert len(sv) == 100
    assert reader.stats.rows_skipped == 2
    assert reader.stats.rows_read == 102
    assert any("line 21" in p for p in reader.stats.problems)


def test_opensky_csv_bytes_that_are_not_utf8_cost_their_rows_only(
    tmp_path: Path, spoofing: StateVectors
) -> None:
    path = tmp_path / "states.csv"
    pacsv.write_csv(opensky_table(spoofing.take(np.arange(100))), str(path))
    lines = path.read_bytes().splitlines()
    lines[5] = lines[5].replace(b"THY9BP", b"THY\xff\xfeBP")  # noise in a callsign
    lines[40] = lines[40].replace(b",4", b",\xc3", 1)  # a truncated sequence in the address
    path.write_bytes(b"\n".join(lines) + b"\n")
    reader = read_recording(path, batch_rows=30)
    sv = read_all(reader)
    kept = np.delete(np.arange(100), [4, 39])
    check_opensky(sv, spoofing.take(kept))
    assert (reader.stats.rows_read, reader.stats.rows_skipped) == (100, 2)
    assert [p for p in reader.stats.problems if "UTF-8" in p] == [
        "line 6: text that is not UTF-8",  # the header is line 1
        "line 41: text that is not UTF-8",
    ]


def _corrupt_line(path: Path, number: int, damage: Any) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = damage(lines[number - 1])
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda line: line.replace(b",", b",\xff", 3), "text that is not UTF-8"),
        (lambda line: line + b",\xff", "text that is not UTF-8"),  # a field too many as well
        (lambda line: b"\xff" + line[:20], "text that is not UTF-8"),  # too few as well
        (lambda line: line + b",1", "17 fields, 16 expected"),
        (
            lambda line: b",".join([*line.split(b",")[:3], b"abc", *line.split(b",")[4:]]),
            "row without a valid time, address, position or value",
        ),  # longitude "abc"
    ],
)
def test_one_corrupted_row_of_a_real_opensky_csv_costs_that_row_named_by_its_line(
    tmp_path: Path, spoofing: StateVectors, damage: Any, reason: str, capfd: Any
) -> None:
    """The whole sample as OpenSky CSV (8,681 rows), line 4,321 damaged: the other rows are
    read, and the report names line 4,321 (the header is line 1), not a block of rows."""
    path = tmp_path / "states.csv"
    pacsv.write_csv(opensky_table(spoofing), str(path))
    _corrupt_line(path, 4321, damage)
    reader = read_recording(path, batch_rows=1000)
    sv = read_all(reader)
    check_opensky(sv, spoofing.take(np.delete(np.arange(len(spoofing)), 4319)))
    assert (reader.stats.rows_read, reader.stats.rows_skipped) == (len(spoofing), 1)
    assert reader.stats.problems == [f"line 4321: {reason}"]
    assert "Exception ignored" not in capfd.readouterr().err


def test_an_unclosed_quote_costs_no_other_row(tmp_path: Path, spoofing: StateVectors) -> None:
    path = tmp_path / "states.csv"
    pacsv.write_csv(opensky_table(spoofing), str(path))
    _corrupt_line(path, 50, lambda line: line.replace(b'"THY9BP  "', b'"THY9BP,'))
    reader = read_recording(path)
    assert len(read_all(reader)) == len(spoofing) - 1
    assert reader.stats.problems == ["line 50: 17 fields, 16 expected"]


def test_opensky_parquet(tmp_path: Path, spoofing: StateVectors) -> None:
    path = tmp_path / "states.parquet"
    pq.write_table(opensky_table(spoofing), path, row_group_size=2000)
    assert detect_format(path) == "opensky-parquet"
    batches = list(read_recording(path, batch_rows=1500))
    assert max(len(b) for b in batches) <= 1500
    check_opensky(StateVectors.concat(batches), spoofing)


# --- readsb traces ----------------------------------------------------------------------------


def test_opensky_rows_at_altitudes_no_transponder_reports_are_skipped(
    tmp_path: Path, spoofing: StateVectors
) -> None:
    """Three real rows edited to 1e300 ft (a watch stored an entry at that altitude, could not
    write it and stopped) and one to -5 km: counted as bad rows; the others read unchanged."""
    table = opensky_table(spoofing)
    baro = table.column("baroaltitude").to_numpy().copy()
    geo = table.column("geoaltitude").to_numpy().copy()
    baro[[10, 11, 12]] = 1e300
    geo[20] = -5000.0
    table = table.set_column(table.schema.get_field_index("baroaltitude"), "baroaltitude", [baro])
    table = table.set_column(table.schema.get_field_index("geoaltitude"), "geoaltitude", [geo])
    pq.write_table(table, tmp_path / "states.parquet")
    reader = read_recording(tmp_path / "states.parquet")
    sv = read_all(reader)
    assert reader.stats.rows_skipped == 4
    assert "row without a valid time, address, position or value" in reader.stats.problems[0]
    kept = np.setdiff1d(np.arange(len(spoofing)), [10, 11, 12, 20])
    check_opensky(sv, spoofing.take(kept))


def test_readsb_trace() -> None:
    doc = json.loads(TRACE.read_text())
    sv = read_all(read_recording(TRACE))
    assert len(sv) == len(doc["trace"]) == 2500
    assert np.unique(sv.icao24).tolist() == [0xAC671B]
    assert np.all(np.diff(sv.t_s) >= 0)
    assert sv.t_s[0] == doc["timestamp"]
    ground = np.array([row[3] == "ground" for row in doc["trace"]])
    assert np.array_equal(sv.on_ground, ground)
    assert np.all(np.isnan(sv.alt_baro_ft[ground]))
    assert 30000 < np.nanmax(sv.alt_baro_ft) < 45000
    # callsign and NACp only come in occasional details objects, carried forward
    assert "DAL1812" in set(sv.callsign.tolist())
    assert (sv.callsign != "").mean() > 0.95
    assert (sv.nacp == 10).mean() > 0.9


def test_readsb_trace_gzip_named_json(tmp_path: Path) -> None:
    # tar1090 serves trace_full files gzip-compressed under a .json name
    path = tmp_path / "trace_full_ac671b.json"
    path.write_bytes(gzip.compress(TRACE.read_bytes()))
    assert detect_format(path) == "readsb-trace"
    assert len(read_all(read_recording(path))) == 2500


# --- raw frames -------------------------------------------------------------------------------


def test_frames_jsonl() -> None:
    reader = read_recording(FRAMES, batch_rows=10_000)
    batches = list(reader)
    sv = StateVectors.concat(batches)
    assert reader.stats.rows_read == 57_793
    assert reader.stats.decode is not None
    assert reader.stats.decode.positions == 8324
    assert (~sv.on_ground).sum() == 6457  # every airborne position, across batch boundaries
    assert max(len(b) for b in batches) <= 10_000
    assert np.unique(sv.icao24).tolist() == [0x393322]
    assert set(sv.callsign.tolist()) == {"AFR34ZG"}


def test_frames_jsonl_with_receiver_reference() -> None:
    sv = read_all(read_recording(FRAMES, reference=(49.0097, 2.5479)))  # Paris-CDG
    assert len(sv) == 8324  # surface positions too


def test_frames_jsonl_bad_lines(tmp_path: Path) -> None:
    lines = FRAMES.read_text().splitlines()[20_000:22_000]  # airborne
    lines[5] = '{"timestamp": 1720248190.5, "frame": "8d39'  # truncated line
    lines[7] = '{"timestamp": 1720248190.6, "frame": "zz393322580940aa0a8e4d4f6250"}'
    lines[9] = "[1, 2]"
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reader = read_recording(path)
    sv = read_all(reader)
    assert len(sv) > 0
    assert reader.stats.rows_skipped == 3
    assert any("line 6" in p for p in reader.stats.problems)
    assert any("line 10" in p for p in reader.stats.problems)


def test_a_line_nested_past_the_recursion_limit_costs_that_line_only(tmp_path: Path) -> None:
    """A hostile line (a frame nested 100,000 deep) is skipped by its number like any line that
    is not JSON: the flight around it reads the same, first line included."""
    lines = FRAMES.read_text().splitlines()[20_000:22_000]
    hostile = '{"timestamp": 1720248190.5, "frame": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for at in (0, 1000):  # the first line is also what format detection reads
        path = tmp_path / f"frames{at}.jsonl"
        path.write_text("\n".join([*lines[:at], hostile, *lines[at:]]) + "\n")
        clean = tmp_path / "clean.jsonl"
        clean.write_text("\n".join(lines) + "\n")
        reader = read_recording(path, format="frames-jsonl" if at == 0 else None)
        sv, expected = read_all(reader), read_all(read_recording(clean))
        assert reader.stats.rows_skipped == 1
        assert reader.stats.problems == [f"line {at + 1}: not valid JSON"]
        assert len(sv) == len(expected) > 0
        assert np.array_equal(sv.lat_deg, expected.lat_deg, equal_nan=True)


def test_a_document_nested_past_the_recursion_limit_is_a_recording_error(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.json"  # a real readsb trace with one hostile field
    text = TRACE.read_text().rstrip()
    wrapped.write_text(text[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert detect_format(wrapped) == "readsb-trace"
    with pytest.raises(RecordingError, match=r"wrapped\.json: cannot read as readsb-trace"):
        read_all(read_recording(wrapped))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    reader = read_recording(deep)  # a records array whose one record is hostile
    assert len(read_all(reader)) == 0 and reader.stats.problems == ["record 1: not valid JSON"]


# --- format detection and errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (QUICKSTART, "traffic-json"),
        (SPOOFING, "traffic-json"),
        (TRACE, "readsb-trace"),
        (FRAMES, "frames-jsonl"),
    ],
)
def test_detect_format_samples(path: Path, expected: str) -> None:
    assert detect_format(path) == expected
    assert expected in FORMATS


def test_detect_format_ignores_misleading_extension(tmp_path: Path) -> None:
    csv_named = tmp_path / "flights.csv"
    shutil.copy(QUICKSTART, csv_named)
    assert detect_format(csv_named) == "traffic-json"
    parquet_named = tmp_path / "frames.parquet"
    shutil.copy(FRAMES, parquet_named)
    assert detect_format(parquet_named) == "frames-jsonl"
    json_named = tmp_path / "states.json"
    pacsv.write_csv(
        pa.table({"time": [1726560266], "icao24": ["abc123"], "lat": [1.0], "lon": [2.0]}),
        str(json_named),
    )
    assert detect_format(json_named) == "opensky-csv"
    assert len(read_all(read_recording(json_named))) == 1


def test_unreadable_files_raise_recording_error_naming_them(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(QUICKSTART.read_bytes()[:200_000])
    with pytest.raises(RecordingError, match=r"truncated\.json\.gz"):
        read_all(read_recording(truncated))

    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(RecordingError, match=r"garbage\.json"):
        detect_format(garbage)

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match=r"empty\.csv: empty"):
        read_recording(empty)

    parquet = tmp_path / "broken.parquet"
    good = tmp_path / "good.parquet"
    pq.write_table(opensky_table(read_all(read_recording(SPOOFING))), good)
    parquet.write_bytes(good.read_bytes()[:5000] + good.read_bytes()[-8:])
    with pytest.raises(RecordingError, match=r"broken\.parquet"):
        read_all(read_recording(parquet))

    with pytest.raises(RecordingError, match=r"missing\.json: no such file"):
        read_recording(tmp_path / "missing.json")

    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello, world\n")
    with pytest.raises(RecordingError, match=r"notes\.txt"):
        read_recording(unknown)


def test_wrong_explicit_format_is_a_recording_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"trace_full_ac671b\.json"):
        read_all(read_recording(TRACE, format="opensky-csv"))
    with pytest.raises(ValueError, match="unknown format"):
        read_recording(TRACE, format="kml")


def test_bounded_batches(quickstart: StateVectors) -> None:
    reader = read_recording(QUICKSTART, batch_rows=7_000)
    sizes = [len(b) for b in reader]
    assert max(sizes) <= 7_000
    assert sum(sizes) == len(quickstart)
    assert len(sizes) > len(quickstart) // 7_000


def test_every_trajectory_sample_of_traffic_reads(samples: Path) -> None:
    """All of traffic's JSON samples with positions: arrays with or without a final newline."""
    paths = sorted(p for p in samples.glob("*/*.json.gz") if p.parent.name != "performance")
    assert len(paths) > 60
    for path in paths:
        batches = list(read_recording(path, batch_rows=5_000))
        sv = StateVectors.concat(batches)
        assert len(sv) > 100, path
        assert np.isfinite(sv.lat_deg).mean() > 0.5, path


def test_opensky_parquet_text_read_as_dictionaries_gives_the_plain_reading(
    tmp_path: Path, spoofing: StateVectors
) -> None:
    """Addresses, callsigns and squawks are read from Parquet as dictionaries and cleaned once
    per distinct value: the state vectors must be those of the same columns read as plain text,
    missing values, padding, short squawks and hostile text included."""
    table = opensky_table(spoofing)
    n = table.num_rows
    rng = np.random.default_rng(7)
    callsign = np.array(table.column("callsign").to_pylist(), dtype=object)
    callsign[rng.choice(n, 50, replace=False)] = None
    callsign[rng.choice(n, 5, replace=False)] = "\x1b[31mEVIL\u202e"
    squawk = np.array(table.column("squawk").to_pylist(), dtype=object)
    squawk[rng.choice(n, 50, replace=False)] = None
    squawk[rng.choice(n, 20, replace=False)] = "700"
    squawk[rng.choice(n, 20, replace=False)] = " 7700 "
    icao24 = np.array(table.column("icao24").to_pylist(), dtype=object)
    icao24[rng.choice(n, 5, replace=False)] = None
    for name, values in (("callsign", callsign), ("squawk", squawk), ("icao24", icao24)):
        table = table.set_column(
            table.schema.get_field_index(name), name, pa.array(values.tolist(), pa.string())
        )
    path = tmp_path / "states.parquet"
    pq.write_table(table, path, row_group_size=700)

    reader = read_recording(path, batch_rows=500)
    read = StateVectors.concat(list(reader))
    assert pa.types.is_dictionary(open_parquet(path).schema_arrow.field("callsign").type)
    plain = to_state_vectors(pq.read_table(path), ReadStats(), "whole file")
    assert reader.stats.rows_skipped == 5  # the rows without an address
    for column in ("icao24", "callsign", "squawk"):
        assert np.array_equal(getattr(read, column), getattr(plain, column)), column
    for column in ("t_s", "lat_deg", "alt_baro_ft"):
        assert np.array_equal(getattr(read, column), getattr(plain, column), equal_nan=True)
    assert "0700" in read.squawk and "7700" in read.squawk and "" in read.squawk
    callsigns = set(read.callsign.tolist())
    assert any(c.startswith("\\x1b[31m") for c in callsigns)  # escaped, never obeyed
    assert not any("\x1b" in c or "\u202e" in c for c in callsigns)
