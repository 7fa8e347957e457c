"""Column conversions of tabular recordings (OpenSky, traffic, SBS), on real flights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from test_recordings import opensky_table

import skyfence
from skyfence.schema import StateVectors
from skyfence.sources.recordings import RecordingError, read_recording

# what upstream tools leave in a squawk column, and what each is as a squawk: a value that is
# not one is never cut into one (a "77000" or a "7700" followed by a control character read as
# an emergency, or not, depending on the other values of its batch or row group)
SQUAWKS = {
    "7700.0": "7700",  # a squawk that went through a float column, then text
    "700.0": "0700",
    "77000": "",
    "7700\x1b": "",
    "\x007700": "",
    "77 00": "",
    "0700": "0700",
}


def test_squawks_that_are_not_squawks_never_become_one(samples: Path, tmp_path: Path) -> None:
    flight = StateVectors.concat(list(read_recording(samples / "rs1090/full_flight_short.jsonl")))
    table = opensky_table(flight)
    n = table.num_rows
    written = list(SQUAWKS)
    squawks = [written[i * len(written) // n] for i in range(n)]  # a stretch of each
    callsigns = table.column("callsign").to_pylist()
    callsigns[0] = "AFR\u202e34ZG"  # one hostile callsign: the rest must not change with it
    callsigns[1] = "AFR34ZGXYZ"  # too long: cut to 8, as everywhere
    table = table.set_column(
        table.schema.get_field_index("squawk"), "squawk", pa.array(squawks, pa.string())
    )
    table = table.set_column(
        table.schema.get_field_index("callsign"), "callsign", pa.array(callsigns, pa.string())
    )
    pq.write_table(table, tmp_path / "states.parquet")  # one row group: one dictionary
    pacsv.write_csv(table, tmp_path / "states.csv")
    expected = np.array([SQUAWKS[s] for s in squawks])
    for name in ("states.parquet", "states.csv"):
        for batch_rows in (n, 100):
            sv = StateVectors.concat(list(read_recording(tmp_path / name, batch_rows=batch_rows)))
            assert sv.squawk.tolist() == expected.tolist(), (name, batch_rows)
            assert sv.callsign[1] == "AFR34ZGX", (name, batch_rows)
            assert sv.callsign[0].startswith("AFR\\u202e"), (name, batch_rows)

    garbage = table.filter(pa.array([SQUAWKS[s] == "" for s in squawks]))
    pq.write_table(garbage, tmp_path / "garbage.parquet")
    found = skyfence.audit(tmp_path / "garbage.parquet", [])
    assert "emergency_squawk" not in found.column("kind").to_pylist()
    genuine = table.filter(pa.array([s == "7700.0" for s in squawks]))
    pq.write_table(genuine, tmp_path / "genuine.parquet")
    found = skyfence.audit(tmp_path / "genuine.parquet", [])
    assert found.column("kind").to_pylist().count("emergency_squawk") == 1


def test_times_in_integer_nanoseconds_read_as_seconds(samples: Path, tmp_path: Path) -> None:
    """Epoch nanoseconds as integers (pandas' `astype("int64")` of its timestamps) exceed the
    integers float64 holds exactly: Arrow's checked cast refused the whole file."""
    flight = StateVectors.concat(list(read_recording(samples / "rs1090/full_flight_short.jsonl")))
    table = opensky_table(flight)
    seconds = np.array(table.column("time").to_pylist(), np.int64)
    nanoseconds = seconds * 1_000_000_000 + 123_456_789
    table = table.set_column(0, "time", pa.array(nanoseconds))
    pq.write_table(table, tmp_path / "states.parquet")
    sv = StateVectors.concat(list(read_recording(tmp_path / "states.parquet")))
    assert np.allclose(sv.t_s, seconds + 0.123456789, rtol=0, atol=1e-6)


def test_a_column_named_twice_is_refused_naming_it(samples: Path, tmp_path: Path) -> None:
    """Two `callsign` columns (a join's output written as it came): which one to read is
    ambiguous; the reader raised a bare KeyError from Arrow, a traceback at the command line."""
    flight = StateVectors.concat(list(read_recording(samples / "rs1090/full_flight_short.jsonl")))
    table = opensky_table(flight)
    table = table.append_column("callsign", table.column("callsign"))
    pq.write_table(table, tmp_path / "joined.parquet")
    with pytest.raises(RecordingError, match=r"joined\.parquet: column 'callsign' appears 2 times"):
        list(read_recording(tmp_path / "joined.parquet"))


def test_a_parquet_file_without_a_required_column_is_refused_naming_its_layout(
    samples: Path, tmp_path: Path
) -> None:
    """The OpenSky and traffic readers and a folder's workers each checked their required
    columns, in words of their own ("missing columns", "missing OpenSky columns"): one check
    (`open_parquet`), one wording, which names the layout (tests/scale for the folder)."""
    flight = StateVectors.concat(list(read_recording(samples / "rs1090/full_flight_short.jsonl")))
    table = opensky_table(flight)
    pq.write_table(table.drop_columns(["icao24"]), tmp_path / "opensky.parquet")
    with pytest.raises(RecordingError, match=r"y\.parquet: missing OpenSky columns \['icao24'\]$"):
        list(read_recording(tmp_path / "opensky.parquet", format="opensky-parquet"))
    traffic_names = {"time": "timestamp", "lat": "latitude", "lon": "longitude"}
    traffic = table.rename_columns([traffic_names.get(n, n) for n in table.column_names])
    pq.write_table(traffic.drop_columns(["latitude"]), tmp_path / "traffic.parquet")
    with pytest.raises(
        RecordingError, match=r"c\.parquet: missing traffic columns \['latitude'\]$"
    ):
        list(read_recording(tmp_path / "traffic.parquet", format="traffic-parquet"))
