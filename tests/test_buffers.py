"""Arrow to numpy through buffers gives what pyarrow's own conversion gives, on the shapes real
columns take: missing values, slices that start mid-byte, chunks, empty arrays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skyfence.buffers import booleans, floats, integers, present

RNG = np.random.default_rng(17)
N = 1_003


def _with_nulls(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    mask = RNG.random(len(values)) < 0.1
    return pa.array(values, typ, mask=mask)


SLICES = [(0, N), (3, 500), (8, 16), (13, 0), (N - 5, 5)]


@pytest.mark.parametrize(("start", "length"), SLICES)
@pytest.mark.parametrize(
    "typ", [pa.float64(), pa.float32(), pa.int64(), pa.int32(), pa.int8(), pa.uint32()]
)
def test_numbers_as_float_with_nan_where_missing(typ: pa.DataType, start: int, length: int) -> None:
    low = 0 if pa.types.is_unsigned_integer(typ) else -100
    arr = _with_nulls(RNG.integers(low, 100, N), typ).slice(start, length)
    expected = np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    assert np.array_equal(floats(arr), expected, equal_nan=True)
    assert np.array_equal(present(arr), np.asarray(arr.is_valid().to_numpy(False)))


@pytest.mark.parametrize(("start", "length"), SLICES)
def test_integers_take_the_given_value_where_missing(start: int, length: int) -> None:
    arr = _with_nulls(RNG.integers(0, 2**24, N), pa.int32()).slice(start, length)
    expected = np.asarray(pa.compute.fill_null(arr, -1).to_numpy(zero_copy_only=False))
    assert np.array_equal(integers(arr, missing=-1), expected)


@pytest.mark.parametrize(("start", "length"), SLICES)
def test_booleans_are_false_where_missing(start: int, length: int) -> None:
    arr = _with_nulls(RNG.random(N) < 0.5, pa.bool_()).slice(start, length)
    expected = np.asarray(pa.compute.fill_null(arr, False).to_numpy(zero_copy_only=False))
    assert np.array_equal(booleans(arr), expected)


def test_arrays_of_nothing() -> None:
    assert np.isnan(floats(pa.nulls(3))).all()
    assert not present(pa.nulls(3)).any()
    assert len(floats(pa.array([], pa.float64()))) == 0
    assert len(booleans(pa.array([], pa.bool_()))) == 0


def test_auditing_opensky_parquet_does_not_import_pandas(tmp_path: Path) -> None:
    """pandas is 0.2-0.3 s of import that every audit of a Parquet file paid before its first
    batch reached the engine; the peer workload's columns, missing values included."""
    n = 5_000
    table = pa.table(
        {
            "time": pa.array(1_633_600_000 + np.arange(n) // 10 * 10, pa.int64()),
            "icao24": pa.array([f"{0x3C0000 + i % 10:06x}" for i in range(n)]),
            "lat": _with_nulls(48.8 + RNG.random(n) * 0.2, pa.float64()),
            "lon": _with_nulls(2.3 + RNG.random(n) * 0.2, pa.float64()),
            "velocity": _with_nulls(RNG.random(n) * 200, pa.float64()),
            "heading": _with_nulls(RNG.random(n) * 360, pa.float64()),
            "vertrate": _with_nulls(RNG.random(n), pa.float64()),
            "callsign": _with_nulls(np.array([f"AFR{i % 10:<5}" for i in range(n)]), pa.string()),
            "onground": _with_nulls(RNG.random(n) < 0.1, pa.bool_()),
            "squawk": _with_nulls(np.array(["7000", "1000"] * (n // 2)), pa.string()),
            "baroaltitude": _with_nulls(RNG.random(n) * 3000, pa.float64()),
            "lastposupdate": _with_nulls(1_633_600_000 + np.arange(n) / 10.0, pa.float64()),
        }
    )
    path = tmp_path / "states.parquet"
    pq.write_table(table, path)
    code = (
        "import sys\n"
        f"sys.argv = ['skyfence', 'audit', {str(path)!r}, '-z', 'demo', '--show', '0']\n"
        "from skyfence.cli import app\n"
        "try:\n    app()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('pandas' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert "5,000 state vectors" in run.stdout.replace("\n", " ")
    assert run.stdout.splitlines()[-1] == "False"
