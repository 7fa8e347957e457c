"""Short strings of state vectors (callsigns, squawks) as fixed-width numpy strings: the fast
path from Arrow's bytes gives exactly numpy's own cast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording


def numpy_cast(values: list[object], width: int) -> np.ndarray:
    text = ["" if v is None or v != v else str(v).strip() for v in values]
    return np.array(text, dtype=object).astype(f"U{width}")


def test_real_callsigns_from_arrow_equal_numpys_cast(samples: Path) -> None:
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    real = [str(c) for c in sv.callsign.tolist()]
    values: list[object] = [f" {c} " if i % 3 == 0 else c for i, c in enumerate(real)]
    values[::97] = [None] * len(values[::97])
    values[1] = "ABCDEFGHIJKL"  # longer than the column: cut as numpy cuts it
    chunked = pa.chunked_array([values[:1000], values[1000:]], pa.string())
    sliced = pa.array(values, pa.string()).slice(77, 5000)
    assert len(set(real)) > 100
    for given, expected in [
        (chunked, numpy_cast(values, 8)),
        (sliced, numpy_cast(values[77 : 77 + 5000], 8)),
        (values, numpy_cast(values, 8)),
    ]:
        built = StateVectors.build(callsign=given).callsign
        assert built.dtype == np.dtype("U8")
        assert np.array_equal(built, expected)


def test_squawks_given_as_numbers_and_empty_columns() -> None:
    built = StateVectors.build(squawk=[7700, None, 1200]).squawk
    assert built.tolist() == ["7700", "", "1200"]
    assert StateVectors.build(callsign=pa.array([], pa.string())).callsign.dtype == np.dtype("U8")
