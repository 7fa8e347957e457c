"""State of registry from the ICAO 24-bit address, for whole arrays of addresses at once.

A no-fly-zone rule often depends on who an aircraft belongs to ("aircraft registered in State X"),
and the only identity ADS-B always carries is the 24-bit address. ICAO allocates those addresses to
States in blocks (Annex 10, Volume III, Chapter 9, Table 9-1), shipped as
``data/icao24_allocations.csv``.

Blocks may nest, and the CSV resolves nesting by order: the first row containing an address wins.
Checking rows one by one per address would be a Python loop per ADS-B message, so the rows are
flattened once into sorted, non-overlapping intervals, each already resolved to its winning row, and
a batch of addresses is answered with one ``np.searchsorted``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "Allocation",
    "AllocationTable",
    "country_name",
    "country_of",
    "country_of_hex",
    "default_table",
    "load_allocations",
]

ADDRESS_MAX = 0xFFFFFF
_HEADER = ["start", "end", "country", "iso2"]
_HEX6_RE = re.compile(r"^[0-9a-f]{6}$")
_ISO2_RE = re.compile(r"^[A-Z]{2}$")
_ADDRESS_RE = re.compile(r"^(?:0[xX])?[0-9a-fA-F]{1,6}$")


@dataclass(frozen=True, slots=True)
class Allocation:
    """One row of the table; ``line`` is kept so later checks can still name the offending line."""

    start: int
    end: int
    country: str
    iso2: str
    line: int


@dataclass(frozen=True, slots=True, eq=False)
class AllocationTable:
    """The rows as written, plus the flattened form used for lookups.

    ``bounds[k]`` is the first address of elementary interval ``k`` (it runs up to ``bounds[k+1]``,
    the last one up to 2**24); ``owner[k]`` is the index of the row that wins there, or -1.
    ``codes`` holds each row's ISO code followed by "" so that ``codes[owner]`` needs no masking.
    """

    rows: tuple[Allocation, ...]
    bounds: npt.NDArray[np.int64]
    owner: npt.NDArray[np.intp]
    codes: npt.NDArray[np.object_]
    names: dict[str, str]
    source: str

    def country_of(self, addresses: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """ISO alpha-2 code of each address, "" where no State holds it; same shape as the input."""
        arr = np.asarray(addresses)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"addresses must be an integer array, got dtype {arr.dtype}")
        # int64 holds every uint32/int32 value exactly and compares cleanly with the bounds.
        values = arr.astype(np.int64, copy=False)
        slot = np.searchsorted(self.bounds, values, side="right") - 1
        owner = np.where(slot >= 0, self.owner[np.maximum(slot, 0)], -1)
        owner = np.where((values < 0) | (values > ADDRESS_MAX), -1, owner)
        result: npt.NDArray[np.object_] = self.codes[owner]
        return result


def _fail(source: str, line: int, message: str) -> ValueError:
    return ValueError(f"{source}, line {line}: {message}")


def _parse_rows(text: str, source: str) -> list[Allocation]:
    rows: list[Allocation] = []
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = next(csv.reader([raw]))
        if not header_seen:
            if [f.strip() for f in fields] != _HEADER:
                raise _fail(source, number, f"expected header {','.join(_HEADER)!r}, got {raw!r}")
            header_seen = True
            continue
        if len(fields) != len(_HEADER):
            raise _fail(source, number, f"expected 4 fields (start,end,country,iso2), got {raw!r}")
        start_text, end_text, country, iso2 = (f.strip() for f in fields)
        for label, value in (("start", start_text), ("end", end_text)):
            if not _HEX6_RE.match(value):
                raise _fail(source, number, f"{label} {value!r} is not 6 lowercase hex digits")
        start, end = int(start_text, 16), int(end_text, 16)
        if start > end:
            raise _fail(source, number, f"start {start_text} is after end {end_text}")
        if not country:
            raise _fail(source, number, "country name is empty")
        if iso2 and not _ISO2_RE.match(iso2):
            raise _fail(source, number, f"iso2 {iso2!r} is not two upper-case letters (or empty)")
        rows.append(Allocation(start, end, country, iso2, number))
    if not header_seen:
        raise ValueError(f"{source}: no header line {','.join(_HEADER)!r} found")
    if not rows:
        raise ValueError(f"{source}: no allocation rows")
    return rows


def _names(rows: list[Allocation], source: str) -> dict[str, str]:
    # One name per code keeps country_name() unambiguous and catches a mistyped code, which would
    # otherwise silently merge two States.
    names: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        if not row.iso2:
            continue
        known = names.setdefault(row.iso2, row.country)
        first_line.setdefault(row.iso2, row.line)
        if known != row.country:
            raise _fail(
                source,
                row.line,
                f"iso2 {row.iso2} is {row.country!r} here but {known!r} "
                f"on line {first_line[row.iso2]}",
            )
    return names


def _flatten(
    rows: list[Allocation], source: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    starts = np.array([r.start for r in rows], dtype=np.int64)
    stops = np.array([r.end + 1 for r in rows], dtype=np.int64)  # exclusive
    bounds = np.unique(np.concatenate([[0], starts, stops, [ADDRESS_MAX + 1]]))
    lo = bounds[:-1]
    # covers[k, i]: row i contains the whole elementary interval k (no row boundary falls inside).
    covers = (starts[None, :] <= lo[:, None]) & (lo[:, None] < stops[None, :])
    hit = covers.any(axis=1)
    owner = np.where(hit, np.argmax(covers, axis=1), -1).astype(np.intp)
    # A row that wins nowhere is hidden by earlier rows: almost always an enclosing block listed
    # before the block it contains, which would make the nested one unreachable.
    used = np.zeros(len(rows), dtype=bool)
    used[owner[owner >= 0]] = True
    if not used.all():
        row = rows[int(np.flatnonzero(~used)[0])]
        raise _fail(
            source,
            row.line,
            f"block {row.start:06x}-{row.end:06x} ({row.country}) is hidden by earlier rows; "
            "list a nested block before the block that encloses it",
        )
    # Merge neighbours with the same owner so searchsorted works on the fewest intervals.
    keep = np.ones(len(owner), dtype=bool)
    keep[1:] = owner[1:] != owner[:-1]
    return lo[keep], owner[keep]


def _build(text: str, source: str) -> AllocationTable:
    rows = _parse_rows(text, source)
    names = _names(rows, source)
    bounds, owner = _flatten(rows, source)
    codes = np.array([r.iso2 for r in rows] + [""], dtype=object)
    return AllocationTable(tuple(rows), bounds, owner, codes, names, source)


def load_allocations(path: str | Path | Traversable) -> AllocationTable:
    """Read and check an allocation CSV; ValueError names the file and line of the first problem."""
    if isinstance(path, str):
        path = Path(path)
    return _build(path.read_text(encoding="utf-8"), str(path))


@cache
def default_table() -> AllocationTable:
    """The packaged ICAO table, parsed and flattened on first use only."""
    return load_allocations(
        resources.files("skyfence.zones").joinpath("data/icao24_allocations.csv")
    )


def country_of(addresses: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """ISO 3166-1 alpha-2 code of the State each address is allocated to ("" when none).

    Vectorised: pass the whole ``icao24`` column as a uint32 array. Out-of-range addresses get "".
    """
    return default_table().country_of(addresses)


def country_of_hex(address: str) -> str:
    """ISO code for one address written in hex ("4baac6", "0x4BAAC6"); "" when unallocated."""
    text = address.strip()
    if not _ADDRESS_RE.match(text):
        raise ValueError(f"{address!r} is not a 24-bit hexadecimal ICAO address")
    code: str = default_table().country_of(np.array([int(text, 16)], dtype=np.uint32))[0]
    return code


def country_name(iso2: str) -> str:
    """Name of the State for an ISO code from the table; "" for "", KeyError for an unknown code."""
    if not iso2:
        return ""
    names = default_table().names
    try:
        return names[iso2.upper()]
    except KeyError:
        raise KeyError(f"{iso2!r} is not the ISO code of any State in the ICAO table") from None
