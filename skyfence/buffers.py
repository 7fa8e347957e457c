"""Arrow arrays to numpy through their buffers.

pyarrow's own conversions (`to_numpy`, `np.asarray`, `pa.array`, a Python scalar given to a
compute function) import pandas at their first call in a process, zero-copy or not: 0.2-0.3 s
that an audit of a Parquet file paid before its first batch reached the engine, for a library
it never uses. The readers of state vectors convert fixed-width columns here instead; text
goes from Arrow's offsets and bytes (`schema._ascii_rows`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from skyfence.arrays import BOOL, F64


def numbers(arr: pa.Array, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """The values of a fixed-width array as `dtype` (its own width), a read-only view; the slots
    of missing values hold whatever the writer left there."""
    dtype = np.dtype(dtype)
    data = arr.buffers()[1]
    if data is None or len(arr) == 0:
        return np.zeros(len(arr), dtype)
    return np.frombuffer(data, dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def present(arr: pa.Array) -> BOOL:
    """Which values are there (not null)."""
    if arr.null_count == 0:
        return np.ones(len(arr), bool)
    if pa.types.is_null(arr.type):
        return np.zeros(len(arr), bool)
    return _bits(arr.buffers()[0], arr.offset, len(arr))


def floats(arr: pa.Array) -> F64:
    """A numeric array as float64, NaN where missing (a new array, writable); integers beyond
    float64's exact ones (epoch nanoseconds) rounded, not refused as Arrow's checked cast does."""
    if pa.types.is_null(arr.type):
        return np.full(len(arr), np.nan)
    as_float = arr if arr.type == pa.float64() else arr.cast(pa.float64(), safe=False)
    out = np.array(numbers(as_float, np.float64))
    if as_float.null_count:
        out[~present(as_float)] = np.nan
    return out


def integers(arr: pa.Array, missing: int) -> npt.NDArray[np.int64]:
    """An integer array as int64, `missing` where a value is missing."""
    out = numbers(arr, str(arr.type)).astype(np.int64)
    if arr.null_count:
        out[~present(arr)] = missing
    return out


def booleans(arr: pa.Array | pa.ChunkedArray) -> BOOL:
    """A boolean array (a compute function's mask), False where missing."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    data = arr.buffers()[1]
    if data is None or len(arr) == 0:
        return np.zeros(len(arr), bool)
    out = _bits(data, arr.offset, len(arr))
    return out & present(arr) if arr.null_count else out


def _bits(buffer: pa.Buffer, offset: int, n: int) -> BOOL:
    packed = np.frombuffer(buffer, np.uint8)
    first = offset // 8
    bits = np.unpackbits(packed[first : (offset + n + 7) // 8 + 1], bitorder="little")
    return bits[offset - 8 * first : offset - 8 * first + n].astype(bool)
