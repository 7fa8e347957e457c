"""The interference picture: what the integrity layer saw, counted per H3 cell and per hour.

Each aircraft is counted once per cell and hour, with what happened to it there:

- *seen*: it was there, by its trusted track: a trusted fix, or for any other row the last
  trusted fix before it. A position the integrity layer did not believe never places an aircraft.
- *degraded* (jamming): a fix quarantined for low integrity (its NIC or NACp fell below the
  engine's minimum after adequate values), or a state vector heard while its position is older
  than `STALE_POSITION_S`: the aircraft transmits but has no position to give, which is how a
  jammed receiver shows in state vectors that carry no NIC/NACp (OpenSky's).
- *spoofed*: a fix quarantined for anything but low integrity or a null position (an impossible
  jump, a speed outside the flight envelope, or any later kinematic check), once its episode has
  reached `MIN_EPISODE_FIXES` consecutive quarantined fixes: a single garbled position between two
  good ones is a decoding error, not a spoofer, who must hold the receiver to matter. Counted at
  the cell of the aircraft's trusted track, like *seen*.
- *claimed*: the cells those spoofed positions claimed: where the spoofer said the aircraft was.

The counts are exact distinct-aircraft counts: the picture keeps, per hour, one key per
(cell, aircraft) with its flags, and compacts them with whole-array operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyfence.engine.engine import Judged
from skyfence.errors import InputError
from skyfence.gnss.cells import cell_text, cells_of
from skyfence.tracking.integrity import LOW_INTEGRITY, NULL_POSITION, STALE_POSITION_S

SEEN, DEGRADED, SPOOFED, CLAIMED = 1, 2, 4, 8
HOUR_S = 3600
DEFAULT_RESOLUTION = 4  # about 1,770 km² a cell, as gpsjam's daily maps
MIN_EPISODE_FIXES = 3
MEDIUM_SHARE, HIGH_SHARE = 0.02, 0.10  # gpsjam's bands of the share of degraded aircraft

KEY = np.dtype(
    [("hour", np.int64), ("cell", np.uint64), ("icao24", np.uint32), ("flags", np.uint8)]
)


@dataclass(frozen=True, slots=True)
class CellCounts:
    """Distinct aircraft per (hour, cell); `hour_s` is the start of the hour (unix seconds)."""

    hour_s: npt.NDArray[np.int64]
    cell: npt.NDArray[np.uint64]
    aircraft: npt.NDArray[np.int64]
    degraded: npt.NDArray[np.int64]
    spoofed: npt.NDArray[np.int64]
    claimed: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.cell)

    def take(self, rows: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> CellCounts:
        return CellCounts(*(getattr(self, name)[rows] for name in CellCounts.__slots__))

    def rows(self) -> list[tuple[int, str, int, int, int, int]]:
        """As the event store keeps them: (hour_s, cell, aircraft, degraded, spoofed, claimed)."""
        columns = (self.hour_s, self.cell, self.aircraft, self.degraded, self.spoofed)
        return [
            (int(h), cell_text(c), int(a), int(d), int(s), int(k))
            for h, c, a, d, s, k in zip(*columns, self.claimed, strict=True)
        ]


@dataclass(slots=True)
class _Carried:
    """What the picture remembers of one aircraft between batches."""

    lat: float = math.nan  # last trusted position
    lon: float = math.nan
    episode: int = 0  # consecutive quarantined fixes so far
    last_s: float = -math.inf


def jamming_level(degraded: npt.ArrayLike, aircraft: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """gpsjam's colours on our counts: "high" above 10 % degraded, "medium" above 2 %."""
    d, a = np.asarray(degraded, np.float64), np.asarray(aircraft, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(a > 0, d / a, 0.0)
    return np.where(share > HIGH_SHARE, "high", np.where(share > MEDIUM_SHARE, "medium", "low"))


class InterferencePicture:
    """Fed with the engine's judged batches (in time order, as the engine saw them)."""

    def __init__(
        self, resolution: int = DEFAULT_RESOLUTION, min_episode_fixes: int = MIN_EPISODE_FIXES
    ) -> None:
        if not 0 <= resolution <= 10:
            raise InputError(f"H3 resolution {resolution}: use 0 to 10")
        self.resolution = resolution
        self.min_episode_fixes = min_episode_fixes
        self.closed_before_s = -math.inf  # hours before this were handed over and forgotten
        self._keys: list[npt.NDArray[np.void]] = []
        self._carried: dict[int, _Carried] = {}
        self._changed: set[int] = set()

    def add(self, judged: list[Judged]) -> None:
        for batch in judged:
            self._add(batch)

    def counts(self, *, merge_hours: bool = False) -> CellCounts:
        """Counts per (hour, cell), or per cell over all hours kept (`hour_s` is then the
        first hour): an aircraft seen in several hours counts once."""
        keys = self._compact()
        if merge_hours and len(keys):
            keys = keys.copy()
            keys["hour"] = keys["hour"].min()
            keys = _reduce(keys)
        return _count(keys)

    def take_changed(self) -> CellCounts:
        """The counts of the hours that received rows since the last call (a watch stores them)."""
        hours = np.array(sorted(self._changed), np.int64)
        self._changed.clear()
        counts = self.counts()
        return counts.take(np.isin(counts.hour_s, hours * HOUR_S))

    def close_before(self, t_s: float, forget_after_s: float = 3600.0) -> None:
        """Forget the hours before `t_s` (rows for them are ignored from now on) and aircraft
        unheard for `forget_after_s`: a long watch stays in bounded memory."""
        hour = math.floor(t_s / HOUR_S)
        self.closed_before_s = max(self.closed_before_s, hour * HOUR_S)
        keys = self._compact()
        self._keys = [keys[keys["hour"] >= hour]]
        stale = [a for a, c in self._carried.items() if c.last_s < t_s - forget_after_s]
        for address in stale:
            del self._carried[address]

    # -- steps ------------------------------------------------------------------------------

    def _add(self, batch: Judged) -> None:
        sv, v = batch.sv, batch.verdicts
        n = len(sv)
        if n == 0:
            return
        icao = sv.icao24
        start = np.append(True, icao[1:] != icao[:-1])
        group = np.cumsum(start) - 1
        first = np.flatnonzero(start)
        last = np.append(first[1:] - 1, n - 1)
        carried = [self._carried.setdefault(int(a), _Carried()) for a in icao[first]]
        c_lat = np.array([c.lat for c in carried])
        c_lon = np.array([c.lon for c in carried])
        c_episode = np.array([c.episode for c in carried], np.int64)

        # where the trusted track puts each row: its own trusted fix, or the last one before it
        rows = np.arange(n)
        anchor = np.maximum.accumulate(np.where(v.trusted, rows, -1))
        own = anchor >= first[group]
        safe = np.maximum(anchor, 0)
        lat = np.where(own, sv.lat_deg[safe], c_lat[group])
        lon = np.where(own, sv.lon_deg[safe], c_lon[group])

        quarantined = v.fresh & ~v.trusted & (v.reason != LOW_INTEGRITY)
        quarantined &= v.reason != NULL_POSITION
        # consecutive quarantined fixes up to each row, reset by a trusted fix
        total = np.cumsum(quarantined)
        before_group = total[first] - quarantined[first]
        episode = np.where(own, total - total[safe], c_episode[group] + total - before_group[group])
        spoofed = quarantined & (episode >= self.min_episode_fixes)
        stale = ~v.fresh & (sv.t_s - batch.t_fix > STALE_POSITION_S) & ~sv.on_ground
        stale &= np.isfinite(sv.lat_deg)
        degraded = (v.fresh & (v.reason == LOW_INTEGRITY)) | stale

        t = np.where(v.fresh, batch.t_fix, sv.t_s)
        hour = np.floor(t / HOUR_S).astype(np.int64)
        open_hour = hour * HOUR_S >= self.closed_before_s
        placed = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon) & open_hour)
        flags = (
            SEEN | np.where(degraded[placed], DEGRADED, 0) | np.where(spoofed[placed], SPOOFED, 0)
        ).astype(np.uint8)
        claims = np.flatnonzero(spoofed & open_hour)
        keys = np.empty(len(placed) + len(claims), KEY)
        keys["hour"] = np.concatenate([hour[placed], hour[claims]])
        keys["cell"] = cells_of(
            np.concatenate([lat[placed], sv.lat_deg[claims]]),
            np.concatenate([lon[placed], sv.lon_deg[claims]]),
            self.resolution,
        )
        keys["icao24"] = np.concatenate([icao[placed], icao[claims]])
        keys["flags"] = np.concatenate([flags, np.full(len(claims), CLAIMED, np.uint8)])
        if len(keys):
            self._keys.append(_reduce(keys))
            self._changed.update(np.unique(keys["hour"]).tolist())
            if len(self._keys) > 64:
                self._compact()

        for g, state in enumerate(carried):  # once per aircraft
            end = last[g]
            if own[end]:
                state.lat, state.lon = float(lat[end]), float(lon[end])
            state.episode = int(episode[end])
            state.last_s = max(state.last_s, float(t[end]))

    def _compact(self) -> npt.NDArray[np.void]:
        keys = _reduce(np.concatenate(self._keys)) if self._keys else np.empty(0, KEY)
        self._keys = [keys]
        return keys


def _reduce(keys: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
    """One key per (hour, cell, aircraft), its flags or-ed, sorted by hour, cell, aircraft."""
    if len(keys) == 0:
        return keys
    order = np.lexsort((keys["icao24"], keys["cell"], keys["hour"]))
    keys = keys[order]
    new = np.ones(len(keys), bool)
    new[1:] = (
        (keys["hour"][1:] != keys["hour"][:-1])
        | (keys["cell"][1:] != keys["cell"][:-1])
        | (keys["icao24"][1:] != keys["icao24"][:-1])
    )
    starts = np.flatnonzero(new)
    out = keys[starts]
    out["flags"] = np.bitwise_or.reduceat(keys["flags"], starts)
    return out


def _count(keys: npt.NDArray[np.void]) -> CellCounts:
    """Distinct aircraft of each flag per (hour, cell), from reduced keys."""
    if len(keys) == 0:
        empty = np.zeros(0, np.int64)
        return CellCounts(empty, np.zeros(0, np.uint64), empty, empty, empty, empty)
    new = np.ones(len(keys), bool)
    new[1:] = (keys["hour"][1:] != keys["hour"][:-1]) | (keys["cell"][1:] != keys["cell"][:-1])
    starts = np.flatnonzero(new)
    flags = keys["flags"]

    def distinct(flag: int) -> npt.NDArray[np.int64]:
        return np.add.reduceat((flags & flag != 0).astype(np.int64), starts)

    return CellCounts(
        keys["hour"][starts] * HOUR_S,
        keys["cell"][starts],
        distinct(SEEN),
        distinct(DEGRADED),
        distinct(SPOOFED),
        distinct(CLAIMED),
    )
