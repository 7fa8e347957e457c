"""A watch list in Plane-Alert's CSV layout, and the rule that reports listed aircraft.

Plane-Alert (and Planefence) users keep lists such as plane-alert-db.csv:
`$ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category,$#Link`,
the `$`/`#` marks in the header only steering Plane-Alert's own display. The columns are read
by position, so their lists work here unchanged. An aircraft is matched by its ICAO address,
exactly: state vectors carry no registration, operator or type, so those columns describe the
match (they go into the event's details) but do not select aircraft.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from skyfence.engine.events import Event
from skyfence.errors import InputError
from skyfence.schema import StateVectors, icao24_hex
from skyfence.zones.countries import country_of

COLUMNS = (
    "icao",
    "registration",
    "operator",
    "type",
    "icao_type",
    "cmpg",
    "tag1",
    "tag2",
    "tag3",
    "category",
    "link",
)
_ADDRESS = re.compile(r"[0-9a-fA-F]{6}")


class WatchListError(InputError):
    """A watch list that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One row of a watch list: an aircraft and what the list says about it."""

    address: int
    registration: str
    operator: str
    type: str
    icao_type: str
    cmpg: str
    tags: tuple[str, ...]
    category: str
    link: str
    source: str  # "file:line" of the row

    def details(self) -> dict[str, Any]:
        return {
            "registration": self.registration,
            "operator": self.operator,
            "type": self.type,
            "icao_type": self.icao_type,
            "cmpg": self.cmpg,
            "tags": list(self.tags),
            "category": self.category,
            "link": self.link,
            "list": self.source,
        }


class WatchList:
    """Listed aircraft by address; the first row for an address wins, as in Plane-Alert."""

    def __init__(self, rows: list[Listed]) -> None:
        self.rows: dict[int, Listed] = {}
        for row in rows:
            self.rows.setdefault(row.address, row)
        self.addresses = np.array(sorted(self.rows), dtype=np.uint32)

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def load(cls, paths: list[Path]) -> WatchList:
        return cls([row for path in paths for row in read_watchlist(path)])

    def listed(self, icao24: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
        return np.isin(icao24, self.addresses)


def read_watchlist(path: Path) -> list[Listed]:
    """The rows of one CSV; a header row (first cell ICAO, with or without `$`/`#`), blank
    lines and lines starting with `#` are skipped. WatchListError names the file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchListError(f"{path}: cannot read the watch list: {exc}") from exc
    rows: list[Listed] = []
    reader = csv.reader(text.splitlines())
    for cells in reader:
        line = reader.line_num
        if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
            continue
        first = cells[0].strip()
        if first.lstrip("$#").strip().upper() == "ICAO":
            continue
        if not _ADDRESS.fullmatch(first):
            raise WatchListError(
                f"{path}:{line}: {first!r} is not an ICAO address (6 hexadecimal digits)"
            )
        if len(cells) > len(COLUMNS):
            raise WatchListError(
                f"{path}:{line}: {len(cells)} columns, Plane-Alert's layout has {len(COLUMNS)}"
                f" ({', '.join(COLUMNS)})"
            )
        cell = dict(zip(COLUMNS, [c.strip() for c in cells] + [""] * len(COLUMNS), strict=False))
        rows.append(
            Listed(
                int(first, 16),
                cell["registration"],
                cell["operator"],
                cell["type"],
                cell["icao_type"],
                cell["cmpg"],
                tuple(t for t in (cell["tag1"], cell["tag2"], cell["tag3"]) if t),
                cell["category"],
                cell["link"],
                f"{path.name}:{line}",
            )
        )
    return rows


class WatchedAircraft:
    """Raises `watched_aircraft` when a listed aircraft is first heard with a position (again
    only after `forget_after_s` of silence, as the engine starts it afresh), and marks every
    other event of a listed aircraft with its row. Zones in `watched_only` report listed
    aircraft only: "a watched aircraft inside zone X"."""

    def __init__(
        self,
        watchlist: WatchList,
        watched_only: frozenset[str] = frozenset(),
        forget_after_s: float = 3600.0,
    ) -> None:
        self.watchlist = watchlist
        self.watched_only = watched_only
        self.forget_after_s = forget_after_s
        self.last_heard: dict[int, float] = {}

    def batch(self, sv: StateVectors, t_fix: npt.NDArray[np.float64]) -> list[Event]:
        """Rows sorted by aircraft and fix time; a Python step only per listed aircraft."""
        rows = np.flatnonzero(
            self.watchlist.listed(sv.icao24) & np.isfinite(sv.lat_deg) & np.isfinite(sv.lon_deg)
        )
        if not len(rows):
            return []
        icao, t = sv.icao24[rows], t_fix[rows]
        start = np.append(True, icao[1:] != icao[:-1])
        new = ~start & (np.diff(t, prepend=t[0]) > self.forget_after_s)  # silent, then back
        for k in np.flatnonzero(start).tolist():  # once per listed aircraft
            last = self.last_heard.get(int(icao[k]), -math.inf)
            new[k] = t[k] - last > self.forget_after_s
        ends = np.append(np.flatnonzero(start)[1:] - 1, len(rows) - 1)
        for k in ends.tolist():
            self.last_heard[int(icao[k])] = max(
                float(t[k]), self.last_heard.get(int(icao[k]), -math.inf)
            )
        alt = sv.altitude_ft()
        events = []
        for i in rows[new].tolist():
            address = int(sv.icao24[i])
            events.append(
                Event(
                    "watched_aircraft",
                    "",
                    icao24_hex(address),
                    str(sv.callsign[i]),
                    str(country_of(np.array([address], np.uint32))[0]),
                    float(t_fix[i]),
                    float(sv.lat_deg[i]),
                    float(sv.lon_deg[i]),
                    float(alt[i]),
                    {"watchlist": self.watchlist.rows[address].details()},
                )
            )
        newest = float(np.max(t))
        if len(self.last_heard) > 4 * len(self.watchlist) + 1000:  # bounded on a long watch
            self.last_heard = {
                a: s for a, s in self.last_heard.items() if s >= newest - self.forget_after_s
            }
        return events

    def admit(self, events: list[Event]) -> list[Event]:
        kept = []
        for e in events:
            row = self.watchlist.rows.get(int(e.icao24, 16)) if e.icao24 else None
            if row is None:
                if e.zone_id not in self.watched_only:
                    kept.append(e)
                continue
            if "watchlist" not in e.details:
                e = replace(e, details={**e.details, "watchlist": row.details()})
            kept.append(e)
        return kept
