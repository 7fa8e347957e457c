"""The detection engine: state vectors in, events out, for batch audits and live feeds alike.

`process` takes batches of any size; everything a later batch needs (last fixes, integrity,
zone states) is carried explicitly, so splitting a recording into batches, or feeding it as
live micro-batches, gives the same events. Batches must respect time order per aircraft; a fix
older than one already seen is dropped as stale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from skyfence.engine.containment import Fixes, evaluate
from skyfence.engine.crossing import Point4
from skyfence.engine.events import Event
from skyfence.engine.prediction import predict
from skyfence.engine.reports import (
    fix_points,
    lost_events,
    suspect_events,
    transition_events,
    warning_events,
    withdrawn_event,
)
from skyfence.engine.transitions import (
    TrustedFix,
    Walk,
    ZoneTrack,
    track_of,
    walk,
    with_exit_rows,
)
from skyfence.engine.zoneset import ZoneSet
from skyfence.schema import StateVectors, take_rows
from skyfence.settings import EngineSettings
from skyfence.tracking.integrity import (
    TrackIntegrity,
    Verdicts,
    assess_batch,
    plausible_altitudes,
)
from skyfence.zones.countries import country_of
from skyfence.zones.model import Zone


@dataclass(frozen=True, slots=True)
class Judged:
    """One processed batch as the engine saw it: its rows in (aircraft, time) order, with the
    altitude used and the integrity verdict of each. What a live picture or a track log needs."""

    sv: StateVectors
    t_fix: npt.NDArray[np.float64]
    alt_ft: npt.NDArray[np.float64]
    verdicts: Verdicts


class Rules(Protocol):
    """Rules beyond areas (skyfence.rules), run inside the engine so that audits, watch and the
    API raise the same events from the same batches. `batch` sees every batch, sorted by
    aircraft and fix time; `admit` sees every event list before it leaves the engine."""

    def batch(self, sv: StateVectors, t_fix: npt.NDArray[np.float64]) -> list[Event]: ...

    def admit(self, events: list[Event]) -> list[Event]: ...


@dataclass(slots=True)
class EngineStats:
    rows: int = 0
    fixes: int = 0
    trusted: int = 0
    suspect: int = 0
    events: dict[str, int] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        zones: list[Zone] | ZoneSet,
        settings: EngineSettings | None = None,
        *,
        keep_judged: bool = False,
        rules: Rules | None = None,
    ) -> None:
        """`zones` may be compiled already (ZoneSet.compile with the same settings), so that
        runs over many inputs pay for the grid once. With `keep_judged`, every processed batch
        is kept in `judged` until `take_judged` (a live watcher draws and logs them). `rules`
        adds events that are not about areas, and may restrict zones (skyfence.rules)."""
        self.settings = settings or EngineSettings()
        self.zones = zones if isinstance(zones, ZoneSet) else ZoneSet.compile(zones, self.settings)
        self.integrity: dict[int, TrackIntegrity] = {}
        self.last_trusted: dict[int, TrustedFix] = {}
        self.callsigns: dict[int, str] = {}
        self.tracks: dict[tuple[int, int], ZoneTrack] = {}
        self.clock_s = -math.inf
        self.stats = EngineStats()
        self.keep_judged = keep_judged
        self.judged: list[Judged] = []
        self.rules = rules

    # -- public ---------------------------------------------------------------------------

    def process(
        self, sv: StateVectors, beyond_horizon: npt.NDArray[np.bool_] | None = None
    ) -> list[Event]:
        """Events found in this batch (in time order), given everything before it.
        `beyond_horizon` marks rows whose receiver could not have heard their position
        (`skyfence.tracking.horizon`): they are quarantined."""
        if len(sv) == 0:
            return []
        t_fix = sv.fix_time_s()
        if not _sorted(sv.icao24, t_fix):
            order = engine_order(sv, t_fix)
            sv, t_fix = sv.take(order), t_fix[order]
            beyond_horizon = None if beyond_horizon is None else beyond_horizon[order]
        later = _after_long_silence(sv.icao24, t_fix, self.settings.forget_after_s)
        if later.any():  # rare: the same aircraft twice, hours apart; as two batches, in order
            first, second = sv.take(~later), sv.take(later)
            if beyond_horizon is None:
                return sorted(self.process(first) + self.process(second), key=Event.sort_key)
            return sorted(
                self.process(first, beyond_horizon[~later])
                + self.process(second, beyond_horizon[later]),
                key=Event.sort_key,
            )
        events = self._returning(sv.icao24, t_fix)
        if self.rules is not None:
            events += self.rules.batch(sv, t_fix)
        alt = sv.altitude_ft()
        callsign = self._callsigns(sv.icao24, sv.callsign)
        starts = np.flatnonzero(np.append(True, sv.icao24[1:] != sv.icao24[:-1]))
        country = np.repeat(  # looked up once per aircraft
            country_of(sv.icao24[starts]).astype("U2"), np.diff(np.append(starts, len(sv)))
        )
        verdicts = assess_batch(sv, t_fix, alt, self.integrity, self.settings, beyond_horizon)
        if self.keep_judged:
            self.judged.append(Judged(sv, t_fix, alt, verdicts))
        self.stats.rows += len(sv)
        self.stats.fixes += int(verdicts.fresh.sum())
        self.stats.trusted += int(verdicts.trusted.sum())
        self.stats.suspect += int((verdicts.fresh & ~verdicts.trusted).sum())

        events += suspect_events(self.zones, sv, t_fix, alt, callsign, country, verdicts)
        keep = np.flatnonzero(verdicts.trusted)
        if len(keep):
            plausible = plausible_altitudes(
                sv.icao24[keep], t_fix[keep], alt[keep], sv.on_ground[keep], self.integrity
            )
            # the altitude zones are judged with: -inf on the ground, unknown when implausible
            zone_alt = np.where(sv.on_ground, -math.inf, alt)
            zone_alt[keep[~plausible]] = np.nan
            fx = self._with_virtual_rows(
                Fixes(
                    t_fix[keep],
                    sv.lat_deg[keep],
                    sv.lon_deg[keep],
                    zone_alt[keep],
                    sv.gs_kt[keep],
                    sv.track_deg[keep],
                    sv.vrate_fpm[keep],
                    sv.icao24[keep],
                    callsign[keep],
                    country[keep],
                    np.zeros(len(keep), bool),
                )
            )
            pairs = with_exit_rows(evaluate(self.zones, fx, self.settings), fx)
            w = walk(pairs, fx, self.tracks)
            events += transition_events(self.zones, self.settings, fx, w, self.tracks)
            pred = predict(self.zones, fx, w, self.settings)
            events += warning_events(self.zones, fx, w, pred, self.tracks)
            self._carry(fx, w)
        fresh_t = t_fix[verdicts.fresh]
        if len(fresh_t):
            self.clock_s = max(self.clock_s, float(fresh_t.max()))
        return self._count(events)

    def take_judged(self) -> list[Judged]:
        """The batches judged since the last call (empty unless `keep_judged`)."""
        judged, self.judged = self.judged, []
        return judged

    def inside(self) -> dict[int, list[str]]:
        """Zone ids each aircraft is inside now, by address."""
        found: dict[int, list[str]] = {}
        for (address, zone), track in self.tracks.items():
            if track.inside:
                found.setdefault(address, []).append(self.zones.zones[zone].id)
        return found

    def advance_clock(self, t_s: float) -> list[Event]:
        """Report lost contact for aircraft inside a zone with no trusted fix for too long,
        and forget aircraft unheard for `forget_after_s` (memory stays bounded on a live feed)."""
        self.clock_s = max(self.clock_s, t_s)
        events = self._lost_contacts(self.clock_s, self.tracks)
        forget = self.clock_s - self.settings.forget_after_s
        events += self._forget([a for a, s in self.integrity.items() if s.last_seen_s < forget])
        return self._count(events)

    def replace_zones(self, zones: list[Zone]) -> list[Event]:
        """Watch new zones from now on, without restarting. A zone that keeps its id keeps the
        state of the aircraft inside it (no new entry, and an exit only if the new boundary
        puts them out); an aircraft inside a removed zone gets one `zone_withdrawn` event, not
        an exit it never flew. Raises ValueError (duplicate ids) with nothing changed."""
        new = ZoneSet.compile(zones, self.settings)
        index = {zone.id: i for i, zone in enumerate(new.zones)}
        tracks: dict[tuple[int, int], ZoneTrack] = {}
        events = []
        clock = self.clock_s if math.isfinite(self.clock_s) else 0.0
        for (address, zone), track in self.tracks.items():
            kept = index.get(self.zones.zones[zone].id)
            if kept is not None:
                tracks[(address, kept)] = track
            elif track.inside and address in self.last_trusted:
                last = self.last_trusted[address]
                callsign = self.callsigns.get(address, last.callsign)
                events.append(withdrawn_event(self.zones, address, zone, last, callsign, clock))
        self.zones, self.tracks = new, tracks
        return self._count(events)

    def finish(self) -> list[Event]:
        """End of input: whatever the clock has reached decides the last lost contacts."""
        return self.advance_clock(self.clock_s)

    # -- steps ----------------------------------------------------------------------------

    def _lost_contacts(self, clock_s: float, keys: Iterable[tuple[int, int]]) -> list[Event]:
        timeout = self.settings.lost_contact_s
        lost = []
        for address, zone in keys:
            track = self.tracks[(address, zone)]
            last = self.last_trusted.get(address)
            if track.inside and not track.lost and last and last.t_s + timeout <= clock_s:
                track.lost = True
                lost.append((address, zone, last))
        countries = country_of(np.array([a for a, _, _ in lost], np.uint32)).tolist()
        return lost_events(
            self.zones,
            self.settings,
            [(a, z, last, c) for (a, z, last), c in zip(lost, countries, strict=True)],
        )

    def _forget(self, addresses: list[int]) -> list[Event]:
        """Drop aircraft unheard for long: they start afresh if they come back. Contact lost
        inside a zone is reported first, whether the clock or the aircraft's return shows it.
        One pass over the tracks for all of them (a pass each made a long history quadratic),
        or for a few of them a look-up of each of their (aircraft, zone) keys."""
        if not addresses:
            return []
        n_zones = len(self.zones.zones)
        keys: dict[int, list[tuple[int, int]]]
        if len(addresses) * n_zones < len(self.tracks):  # fewer look-ups than tracks
            keys = {a: [(a, z) for z in range(n_zones) if (a, z) in self.tracks] for a in addresses}
        else:
            keys = {a: [] for a in addresses}
            for key in self.tracks:
                if key[0] in keys:
                    keys[key[0]].append(key)
        events = self._lost_contacts(math.inf, [key for tracks in keys.values() for key in tracks])
        for address, tracks in keys.items():
            self.integrity.pop(address, None)
            self.last_trusted.pop(address, None)
            self.callsigns.pop(address, None)
            for key in tracks:
                del self.tracks[key]
        return events

    def _returning(
        self, icao24: npt.NDArray[np.uint32], t_fix: npt.NDArray[np.float64]
    ) -> list[Event]:
        """Forget aircraft whose first fix in this batch comes after a long silence."""
        starts = np.flatnonzero(np.append(True, icao24[1:] != icao24[:-1]))
        back = []
        for i in starts:  # once per aircraft
            state = self.integrity.get(int(icao24[i]))
            if state and t_fix[i] - state.last_seen_s > self.settings.forget_after_s:
                back.append(int(icao24[i]))
        return self._forget(back)

    def _callsigns(
        self, icao24: npt.NDArray[np.uint32], callsign: npt.NDArray[np.str_]
    ) -> npt.NDArray[np.str_]:
        """Forward-fill callsigns per aircraft (most state vectors and frames carry none)."""
        n = len(icao24)
        start = np.ones(n, bool)
        start[1:] = icao24[1:] != icao24[:-1]
        # an empty fixed-width string starts with code point 0: test that, not the strings
        given = callsign.view(np.uint32).reshape(n, -1)[:, 0] != 0 if n else start
        if (given | start).all():  # as in OpenSky's state vectors: nothing to fill in
            filled = callsign.copy()
        else:
            at = np.maximum.accumulate(np.where(given | start, np.arange(n), 0))
            filled = take_rows(callsign, at)
        bounds = np.append(np.flatnonzero(start), n)
        addresses = icao24[bounds[:-1]].tolist()
        for lo, hi, address, says in zip(  # once per aircraft
            bounds[:-1].tolist(), bounds[1:].tolist(), addresses, given[bounds[:-1]].tolist(),
            strict=True,
        ):  # fmt: skip
            if not says and address in self.callsigns:  # carried until it says one
                own = lo + np.flatnonzero(given[lo:hi])
                filled[lo : own[0] if len(own) else hi] = self.callsigns[address]
        for address, last in zip(addresses, filled[bounds[1:] - 1].tolist(), strict=True):
            if last:
                self.callsigns[address] = last
        return filled

    def _with_virtual_rows(self, fx: Fixes) -> Fixes:
        """Prepend each aircraft's last trusted fix from earlier batches as a virtual row."""
        ordered = _sorted(fx.icao24, fx.t_s)  # as the engine makes them
        starts = np.flatnonzero(np.append(True, fx.icao24[1:] != fx.icao24[:-1]))
        aircraft = fx.icao24[starts] if ordered else np.unique(fx.icao24)
        v: list[TrustedFix] = []
        at: list[int] = []
        for g, a in enumerate(aircraft.tolist()):  # once per aircraft
            last = self.last_trusted.get(a)
            if last is not None:
                v.append(last)
                at.append(g)
        if not v:
            return fx
        addresses = aircraft[at]
        numbers = np.array(
            [(c.t_s, c.lat, c.lon, c.alt_ft, c.gs_kt, c.track_deg, c.vrate_fpm) for c in v],
            np.float64,
        )
        virtual = (
            *numbers.T,
            addresses,
            np.array([c.callsign for c in v], fx.callsign.dtype),
            country_of(addresses).astype("U2"),
            np.ones(len(v), bool),
        )
        if not ordered or not np.all(numbers[:, 0] <= fx.t_s[starts[at]]):
            return _merged(fx, virtual)  # not seen: a virtual row after a real one
        # each goes first in its aircraft's rows (where the sort in `_merged` puts it)
        rows = starts[at] + np.arange(len(v))
        real = np.ones(len(fx) + len(v), bool)
        real[rows] = False
        columns = []
        for name, extra in zip(Fixes.__slots__, virtual, strict=True):
            column = getattr(fx, name)
            out = np.empty(len(real), np.result_type(extra, column))
            out[rows], out[real] = extra, column
            columns.append(out)
        return Fixes(*columns)

    def _carry(self, fx: Fixes, w: Walk) -> None:
        """Remember, per aircraft and per (aircraft, zone), what the next batch needs. The
        values are gathered in numpy for every group at once; Python only stores them."""
        n = len(fx)
        ends = np.flatnonzero(np.append(fx.icao24[1:] != fx.icao24[:-1], True))
        for address, *values in zip(  # once per aircraft
            fx.icao24[ends].tolist(),
            fx.t_s[ends].tolist(),
            fx.lat[ends].tolist(),
            fx.lon[ends].tolist(),
            fx.alt_ft[ends].tolist(),
            fx.gs_kt[ends].tolist(),
            fx.track_deg[ends].tolist(),
            fx.vrate_fpm[ends].tolist(),
            fx.callsign[ends].tolist(),
            strict=True,
        ):
            self.last_trusted[address] = TrustedFix(*values)
        pt = w.pairs
        if len(pt.fix) == 0:
            return
        t_row = fx.t_s[pt.fix]
        changed = np.flatnonzero(w.state != w.prev_state)
        group_end = np.append(np.flatnonzero(w.group_start)[1:] - 1, len(pt.fix) - 1)
        interesting = np.zeros(len(group_end), bool)
        interesting[w.group_id[w.state == 1]] = True
        interesting[w.group_id[changed]] = True
        # the time of each group's last change of state (NaN: none in this batch)
        changed_group = w.group_id[changed]
        last_of_group = np.append(changed_group[1:] != changed_group[:-1], True)[: len(changed)]
        last_change = np.full(len(group_end), np.nan)
        last_change[changed_group[last_of_group]] = t_row[changed[last_of_group]]
        addresses = fx.icao24[pt.fix[group_end]].tolist()
        zones = pt.zone[group_end].tolist()
        keep = interesting.copy()
        for g in np.flatnonzero(~interesting).tolist():  # groups with nothing new
            keep[g] = (addresses[g], zones[g]) in self.tracks
        e = group_end[keep]
        li = w.last_in_row[e]
        last_in = pt.fix[np.maximum(li, 0)]
        after = np.minimum(last_in + 1, n - 1)
        after_same = (last_in + 1 < n) & (fx.icao24[after] == fx.icao24[last_in])
        for g, inside, has_in, in_point, has_after, after_point, real, change, t_end in zip(
            np.flatnonzero(keep).tolist(),
            (w.state[e] == 1).tolist(),
            (li >= 0).tolist(),
            fix_points(fx, last_in).tolist(),
            after_same.tolist(),
            fix_points(fx, after).tolist(),
            (~fx.virtual[pt.fix[e]]).tolist(),
            last_change[keep].tolist(),
            t_row[e].tolist(),
            strict=True,
        ):
            key = (addresses[g], zones[g])
            track = track_of(self.tracks, key)
            track.inside = inside
            if has_in:
                track.last_in = Point4(*in_point)
                track.after_in = Point4(*after_point) if has_after else None
            if real:
                track.lost = False
            if change == change:  # not NaN: the state changed in this batch
                track.last_change_s = change
            if not inside and t_end - max(track.last_change_s, track.last_warning_s) > 3600:
                del self.tracks[key]

    # -- records --------------------------------------------------------------------------

    def _count(self, events: list[Event]) -> list[Event]:
        if self.rules is not None:
            events = self.rules.admit(events)
        for e in events:
            self.stats.events[e.kind] = self.stats.events.get(e.kind, 0) + 1
        return sorted(events, key=Event.sort_key)


def _merged(fx: Fixes, virtual: tuple[npt.NDArray[Any], ...]) -> Fixes:
    """The virtual rows and the batch's, sorted by (aircraft, time), a virtual row first."""
    merged = Fixes(
        *(
            np.concatenate([extra, getattr(fx, name)])
            for name, extra in zip(Fixes.__slots__, virtual, strict=True)
        )
    )
    order = np.lexsort((~merged.virtual, merged.t_s, merged.icao24))
    return Fixes(*(getattr(merged, name)[order] for name in Fixes.__slots__))


def _after_long_silence(
    icao24: npt.NDArray[np.uint32], t_fix: npt.NDArray[np.float64], silence_s: float
) -> npt.NDArray[np.bool_]:
    """Rows (sorted by aircraft and time) that follow a silence of their aircraft."""
    same = np.append(False, icao24[1:] == icao24[:-1])
    gap = same & (np.append(0.0, np.diff(t_fix)) > silence_s)
    if not gap.any():
        return gap
    group = np.cumsum(~same)
    after = np.zeros(len(gap), bool)
    first_gap_of_group = np.unique(group[gap], return_index=True)[1]
    for i in np.flatnonzero(gap)[first_gap_of_group]:  # once per such aircraft
        after[i : np.searchsorted(group, group[i], side="right")] = True
    return after


def engine_order(
    sv: StateVectors, t_fix: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.intp]:
    """The order `process` puts a batch in: by aircraft, fix time, then time of report."""
    t_fix = sv.fix_time_s() if t_fix is None else t_fix
    return np.lexsort((sv.t_s, t_fix, sv.icao24))


def in_engine_order(sv: StateVectors) -> StateVectors:
    """The batch as `process` would reorder it, so that a reading thread can do that work
    beside the engine (`process` then finds it in order and moves nothing)."""
    if _sorted(sv.icao24, sv.fix_time_s()):
        return sv
    return sv.take(engine_order(sv))


def _sorted(icao24: npt.NDArray[np.uint32], t: npt.NDArray[np.float64]) -> bool:
    if len(icao24) < 2:
        return True
    di = np.diff(icao24.astype(np.int64))
    return bool(np.all((di > 0) | ((di == 0) & (np.diff(t) >= 0))))
