"""The one columnar record every source yields and the engine consumes: state vectors.

Every reader (recordings, live feeds, decoded frames) produces `StateVectors`, so the engine has a
single input type whatever the origin. Columns are numpy arrays with units in their names; a
missing value is NaN for floats, -1 for the small integer integrity fields and "" for strings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from skyfence.arrays import BOOL, F64, I8, STR, U32
from skyfence.buffers import booleans, integers
from skyfence.text import plain_ascii

STRING_WIDTH = {"callsign": 8, "squawk": 4}
FLOAT_COLUMNS = (
    "t_s",
    "lat_deg",
    "lon_deg",
    "alt_baro_ft",
    "alt_geo_ft",
    "gs_kt",
    "track_deg",
    "vrate_fpm",
    "t_pos_s",
)


@dataclass(frozen=True, slots=True)
class StateVectors:
    """A batch of aircraft state vectors, one row per observation."""

    t_s: F64
    icao24: U32
    callsign: STR  # at most 8 characters, as ICAO identification
    lat_deg: F64
    lon_deg: F64
    alt_baro_ft: F64
    alt_geo_ft: F64
    gs_kt: F64
    track_deg: F64
    vrate_fpm: F64
    on_ground: BOOL
    squawk: STR
    nic: I8
    nacp: I8
    t_pos_s: F64

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def fix_time_s(self) -> F64:
        """When each position was fixed: `t_pos_s` where the source says, else `t_s`."""
        return np.where(np.isfinite(self.t_pos_s), self.t_pos_s, self.t_s)

    def altitude_ft(self) -> F64:
        """Pressure altitude, or GNSS height where there is none (ADS-B carries no QNH)."""
        return np.where(np.isfinite(self.alt_baro_ft), self.alt_baro_ft, self.alt_geo_ft)

    @classmethod
    def build(cls, n: int | None = None, **columns: Any) -> StateVectors:
        """Make a batch from whatever columns a source has; absent ones are filled as missing.

        `n` is only needed when no column is given. Values are converted to the column's dtype,
        so a reader can pass lists, pandas series or arrow arrays.
        """
        unknown = set(columns) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown state vector columns: {sorted(unknown)}")
        if n is None:
            n = len(next(iter(columns.values())))
        out: dict[str, Any] = {}
        for f in fields(cls):
            value = columns.get(f.name)
            if f.name in FLOAT_COLUMNS:
                out[f.name] = (
                    np.full(n, np.nan)
                    if value is None
                    else np.asarray(value, dtype=np.float64).reshape(n)
                )
            elif f.name == "icao24":
                out[f.name] = (
                    np.zeros(n, np.uint32) if value is None else parse_icao24(value).reshape(n)
                )
            elif f.name in ("nic", "nacp"):
                out[f.name] = (
                    np.full(n, -1, np.int8) if value is None else _small_int(value).reshape(n)
                )
            elif f.name == "on_ground":
                out[f.name] = (
                    np.zeros(n, bool)
                    if value is None
                    else np.asarray(_fill_none(value, False), dtype=bool).reshape(n)
                )
            else:  # short strings as fixed-width unicode: compared in C, not object by object
                width = STRING_WIDTH[f.name]
                out[f.name] = (
                    np.full(n, "", f"U{width}") if value is None else _strings(value, n, width)
                )
        return cls(**out)

    @classmethod
    def empty(cls) -> StateVectors:
        return cls.build(0)

    def take(self, index: npt.NDArray[Any]) -> StateVectors:
        """Rows selected by an integer index or a boolean mask."""
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return StateVectors(
            **{f.name: take_rows(getattr(self, f.name), index) for f in fields(self)}
        )

    @classmethod
    def concat(cls, batches: list[StateVectors]) -> StateVectors:
        if not batches:
            return cls.empty()
        return cls(
            **{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(cls)}
        )


def parse_icao24(values: Any) -> U32:
    """Hex strings ("4baac6") or integers to uint32 addresses; unparseable values become 0."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.uint32)
    strings = np.char.strip(np.char.lower(arr.astype(str)))
    out = np.zeros(strings.shape, np.uint32)
    uniques, inverse = np.unique(strings, return_inverse=True)
    parsed = np.zeros(len(uniques), np.uint32)
    for i, s in enumerate(uniques):  # once per distinct aircraft, not per row
        try:
            parsed[i] = int(s, 16) if 0 < len(s) <= 6 else 0
        except ValueError:
            parsed[i] = 0
    out[...] = parsed[inverse.reshape(strings.shape)]
    return out


def icao24_hex(address: int) -> str:
    return f"{int(address):06x}"


def _fill_none(value: Any, default: Any) -> Any:
    """Missing values (None, NaN) as `default`; typed arrays skip the per-value test."""
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        return np.where(np.isnan(arr), default, arr)
    if arr.dtype == object:
        mask = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in arr.ravel()])
        if mask.any():
            arr = arr.copy()
            arr.ravel()[mask] = default
    return arr


def _small_int(value: Any) -> I8:
    arr = np.asarray(value, dtype=np.float64)
    return np.where(np.isfinite(arr), arr, -1).astype(np.int8)


def _ascii_rows(arr: pa.Array | pa.ChunkedArray, n: int, width: int) -> STR:
    """Strings of printable ASCII (a byte a character) as `U{width}` rows, cut to `width` as
    numpy's cast cuts them, gathered from Arrow's offsets and bytes: a Python string per row
    and numpy's cast of them cost 0.6 s of a 1.1-million-row audit's reading."""
    if n == 0:
        return np.zeros(0, f"U{width}")
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, offsets_buffer, data_buffer = arr.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32)[arr.offset : arr.offset + n + 1]
    data = (
        np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    )
    starts = offsets[:-1].astype(np.int64)
    cols = np.arange(width)
    inside = cols < np.minimum(np.diff(offsets), width)[:, None]
    codes = np.zeros((n, width), np.uint32)
    codes[inside] = data[(starts[:, None] + cols)[inside]]
    return codes.view(f"U{width}").reshape(n)


def _strings(value: Any, n: int, width: int) -> STR:
    """Strings with missing values as "" and surrounding blanks removed (callsigns are padded);
    characters other than printable ASCII escaped: they come from the air."""
    if (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "U"
        and value.dtype.itemsize <= 4 * width
    ):
        # a decoder's own text (callsigns, squawks): when it is all printable ASCII without
        # blanks, there is nothing to trim or escape, and small live batches skip arrow
        if n == 0:
            return np.zeros(0, f"U{width}")
        codes = np.ascontiguousarray(value).reshape(n).view(np.uint32).reshape(n, -1)
        text = codes != 0  # NUL only as the padding after the text: no NUL inside it
        padded_only = not (text[:, 1:] & ~text[:, :-1]).any()
        if padded_only and ((codes > 0x20) & (codes < 0x7F) & (codes != 0x5C) | ~text).all():
            return value.astype(f"U{width}").reshape(n)
    import pyarrow.compute as pc

    if isinstance(value, pa.ChunkedArray) and pa.types.is_dictionary(value.type):
        value = value.unify_dictionaries().combine_chunks()
    if isinstance(value, pa.DictionaryArray):  # each distinct value once, spread by index
        dictionary = value.dictionary
        rows = _strings(dictionary, len(dictionary), width)
        rows = np.append(rows, np.zeros(1, rows.dtype))  # "" for a missing value
        return take_rows(rows, integers(value.indices, missing=len(dictionary)))
    arr = value if isinstance(value, pa.Array | pa.ChunkedArray) else None
    if arr is None:
        raw = np.asarray(value, dtype=object).reshape(n)
        try:
            arr = pa.array(raw, from_pandas=True)  # NaN and None become null
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: rare, convert one by one
            arr = pa.array([None if v is None or v != v else str(v) for v in raw], pa.string())
        if pa.types.is_null(arr.type):
            arr = arr.cast(pa.string())
    arr = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    hostile = np.flatnonzero(booleans(pc.match_substring_regex(arr, r"[^ -\[\]-~]")))
    if not len(hostile):
        return _ascii_rows(arr, n, width)
    text = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object).reshape(n)
    # the rare identifier with control or non-ASCII characters: escaped, whole (see text.py);
    # the others cut to `width` as above, whatever text shares their batch or dictionary
    escaped = {int(i): plain_ascii(text[i][:width]) for i in hostile}
    out = text.astype(f"U{width}").astype(f"U{max(width, *map(len, escaped.values()))}")
    for i, value in escaped.items():
        out[i] = value
    return out


def take_rows(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """`values[index]`; fixed-width strings are moved as rows of 8-byte words, which numpy
    gathers twice as fast as it gathers its string type."""
    size = values.dtype.itemsize
    if values.dtype.kind != "U" or size % 8 or not values.flags.c_contiguous or not len(values):
        return values[index]
    words = values.view(np.uint64).reshape(len(values), size // 8)
    return np.take(words, index, axis=0).reshape(-1).view(values.dtype)
