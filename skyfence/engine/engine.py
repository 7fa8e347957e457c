"""The detection engine: state vectors in, events out, for batch audits and live feeds alike.

`process` takes batches of any size; everything a later batch needs (last fixes, integrity,
zone states) is carried explicitly, so splitting a recording into batches, or feeding it as
live micro-batches, gives the same events. Batches must respect time order per aircraft; a fix
older than one already seen is dropped as stale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from skyfence.engine.containment import Fixes, evaluate, lateral_zones
from skyfence.engine.crossing import Point4, crossings
from skyfence.engine.events import Event, EventKind, iso_time
from skyfence.engine.prediction import Predictions, predict
from skyfence.engine.transitions import Walk, ZoneTrack, point_of, walk, with_exit_rows
from skyfence.engine.zoneset import EngineSettings, ZoneSet
from skyfence.schema import StateVectors, icao24_hex
from skyfence.tracking.integrity import REASONS, TrackIntegrity, assess, plausible_altitudes
from skyfence.zones.countries import country_of
from skyfence.zones.model import Zone


@dataclass(slots=True)
class TrustedFix:
    """The last trusted fix of an aircraft: the start of its next batch's segments."""

    t_s: float
    lat: float
    lon: float
    alt_ft: float
    gs_kt: float
    track_deg: float
    vrate_fpm: float
    callsign: str


@dataclass(slots=True)
class EngineStats:
    rows: int = 0
    fixes: int = 0
    trusted: int = 0
    suspect: int = 0
    events: dict[str, int] = field(default_factory=dict)


class Engine:
    def __init__(self, zones: list[Zone] | ZoneSet, settings: EngineSettings | None = None) -> None:
        """`zones` may be compiled already (ZoneSet.compile with the same settings), so that
        runs over many inputs pay for the grid once."""
        self.settings = settings or EngineSettings()
        self.zones = zones if isinstance(zones, ZoneSet) else ZoneSet.compile(zones, self.settings)
        self.integrity: dict[int, TrackIntegrity] = {}
        self.last_trusted: dict[int, TrustedFix] = {}
        self.callsigns: dict[int, str] = {}
        self.tracks: dict[tuple[int, int], ZoneTrack] = {}
        self.clock_s = -math.inf
        self.stats = EngineStats()

    # -- public ---------------------------------------------------------------------------

    def process(self, sv: StateVectors) -> list[Event]:
        if len(sv) == 0:
            return []
        t_fix = np.where(np.isfinite(sv.t_pos_s), sv.t_pos_s, sv.t_s)
        if not _sorted(sv.icao24, t_fix):
            order = np.lexsort((sv.t_s, t_fix, sv.icao24))
            sv, t_fix = sv.take(order), t_fix[order]
        later = _after_long_silence(sv.icao24, t_fix, self.settings.forget_after_s)
        if later.any():  # rare: the same aircraft twice, hours apart; as two batches, in order
            first, second = sv.take(~later), sv.take(later)
            return sorted(self.process(first) + self.process(second), key=Event.sort_key)
        events = self._returning(sv.icao24, t_fix)
        alt = np.where(np.isfinite(sv.alt_baro_ft), sv.alt_baro_ft, sv.alt_geo_ft)
        callsign = self._callsigns(sv.icao24, sv.callsign)
        starts = np.flatnonzero(np.append(True, sv.icao24[1:] != sv.icao24[:-1]))
        country = np.repeat(  # looked up once per aircraft
            country_of(sv.icao24[starts]).astype("U2"), np.diff(np.append(starts, len(sv)))
        )
        verdicts = assess(
            sv.icao24,
            t_fix,
            sv.t_s,
            sv.lat_deg,
            sv.lon_deg,
            alt,
            sv.gs_kt,
            sv.on_ground,
            sv.nic,
            sv.nacp,
            self.integrity,
            self.settings,
        )
        self.stats.rows += len(sv)
        self.stats.fixes += int(verdicts.fresh.sum())
        self.stats.trusted += int(verdicts.trusted.sum())
        self.stats.suspect += int((verdicts.fresh & ~verdicts.trusted).sum())

        events += self._suspects(
            sv,
            t_fix,
            alt,
            callsign,
            country,
            verdicts.suspect_start,
            verdicts.reason,
            verdicts.implied_kt,
        )
        keep = np.flatnonzero(verdicts.trusted)
        if len(keep):
            plausible = plausible_altitudes(
                sv.icao24[keep], t_fix[keep], alt[keep], sv.on_ground[keep], self.integrity
            )
            ground_alt = np.where(sv.on_ground, -math.inf, alt)
            ground_alt[keep[~plausible]] = np.nan
            fx = self._with_virtual_rows(
                Fixes(
                    t_fix[keep],
                    sv.lat_deg[keep],
                    sv.lon_deg[keep],
                    ground_alt[keep],
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
            events += self._transitions(fx, w)
            events += self._warnings(fx, w, predict(self.zones, fx, w, self.settings))
            self._carry(fx, w)
        fresh_t = t_fix[verdicts.fresh]
        if len(fresh_t):
            self.clock_s = max(self.clock_s, float(fresh_t.max()))
        return self._count(events)

    def advance_clock(self, t_s: float) -> list[Event]:
        """Report lost contact for aircraft inside a zone with no trusted fix for too long,
        and forget aircraft unheard for `forget_after_s` (memory stays bounded on a live feed)."""
        self.clock_s = max(self.clock_s, t_s)
        events = self._lost_contacts(self.clock_s, None)
        forget = self.clock_s - self.settings.forget_after_s
        for address in [a for a, s in self.integrity.items() if s.last_seen_s < forget]:
            events += self._forget(address)
        return self._count(events)

    def finish(self) -> list[Event]:
        """End of input: whatever the clock has reached decides the last lost contacts."""
        return self.advance_clock(self.clock_s)

    # -- steps ----------------------------------------------------------------------------

    def _lost_contacts(self, clock_s: float, only: int | None) -> list[Event]:
        timeout = self.settings.lost_contact_s
        events = []
        for (address, zone), track in self.tracks.items():
            if only is not None and address != only:
                continue
            last = self.last_trusted.get(address)
            if track.inside and not track.lost and last and last.t_s + timeout <= clock_s:
                track.lost = True
                events.append(self._lost_event(address, zone, last))
        return events

    def _forget(self, address: int) -> list[Event]:
        """Drop an aircraft unheard for long: it starts afresh if it comes back. Contact lost
        inside a zone is reported first, whether the clock or the aircraft's return shows it."""
        events = self._lost_contacts(math.inf, address)
        self.integrity.pop(address, None)
        self.last_trusted.pop(address, None)
        self.callsigns.pop(address, None)
        for key in [k for k in self.tracks if k[0] == address]:
            del self.tracks[key]
        return events

    def _returning(
        self, icao24: npt.NDArray[np.uint32], t_fix: npt.NDArray[np.float64]
    ) -> list[Event]:
        """Forget aircraft whose first fix in this batch comes after a long silence."""
        starts = np.flatnonzero(np.append(True, icao24[1:] != icao24[:-1]))
        events = []
        for i in starts:  # once per aircraft
            state = self.integrity.get(int(icao24[i]))
            if state and t_fix[i] - state.last_seen_s > self.settings.forget_after_s:
                events += self._forget(int(icao24[i]))
        return events

    def _callsigns(
        self, icao24: npt.NDArray[np.uint32], callsign: npt.NDArray[np.str_]
    ) -> npt.NDArray[np.str_]:
        """Forward-fill callsigns per aircraft (most state vectors and frames carry none)."""
        callsign = callsign.copy()
        n = len(icao24)
        start = np.ones(n, bool)
        start[1:] = icao24[1:] != icao24[:-1]
        for i in np.flatnonzero(start & (callsign == "")):  # once per aircraft
            callsign[i] = self.callsigns.get(int(icao24[i]), "")
        known = (callsign != "") | start
        filled = callsign[np.maximum.accumulate(np.where(known, np.arange(n), 0))]
        ends = np.append(np.flatnonzero(start)[1:] - 1, n - 1)
        for i in ends:  # once per aircraft
            if filled[i]:
                self.callsigns[int(icao24[i])] = str(filled[i])
        return filled

    def _with_virtual_rows(self, fx: Fixes) -> Fixes:
        """Prepend each aircraft's last trusted fix from earlier batches as a virtual row."""
        v: list[TrustedFix] = []
        known: list[int] = []
        for a in np.unique(fx.icao24):  # once per aircraft
            last = self.last_trusted.get(int(a))
            if last is not None:
                v.append(last)
                known.append(int(a))
        if not v:
            return fx
        addresses = np.array(known, dtype=np.uint32)
        merged = Fixes(
            np.concatenate([[c.t_s for c in v], fx.t_s]),
            np.concatenate([[c.lat for c in v], fx.lat]),
            np.concatenate([[c.lon for c in v], fx.lon]),
            np.concatenate([[c.alt_ft for c in v], fx.alt_ft]),
            np.concatenate([[c.gs_kt for c in v], fx.gs_kt]),
            np.concatenate([[c.track_deg for c in v], fx.track_deg]),
            np.concatenate([[c.vrate_fpm for c in v], fx.vrate_fpm]),
            np.concatenate([addresses, fx.icao24]),
            np.concatenate([np.array([c.callsign for c in v], fx.callsign.dtype), fx.callsign]),
            np.concatenate([country_of(addresses).astype("U2"), fx.country]),
            np.concatenate([np.ones(len(v), bool), fx.virtual]),
        )
        order = np.lexsort((~merged.virtual, merged.t_s, merged.icao24))
        return Fixes(*(getattr(merged, name)[order] for name in Fixes.__slots__))

    def _transitions(self, fx: Fixes, w: Walk) -> list[Event]:
        pt, zs, settings = w.pairs, self.zones, self.settings
        events: list[Event] = []
        rows = np.arange(len(pt.fix))
        entry_rows = (w.state == 1) & (w.prev_state == 0)
        exit_rows = (w.state == 0) & (w.prev_state == 1)
        entered_at: dict[int, float] = {}
        latest_entry: dict[tuple[int, int], float] = {}
        entries = np.flatnonzero(entry_rows)
        k_in, z_in = pt.fix[entries], pt.zone[entries]
        first_seen = (k_in == 0) | (fx.icao24[np.maximum(k_in - 1, 0)] != fx.icao24[k_in])
        crossed = iter(
            crossings(
                zs,
                [int(z) for z in z_in[~first_seen]],
                [point_of(fx, int(k) - 1) for k in k_in[~first_seen]],
                [point_of(fx, int(k)) for k in k_in[~first_seen]],
                True,
            )
        )
        for r, k, z, seen in zip(entries, k_in.tolist(), z_in.tolist(), first_seen, strict=True):
            point, cause = (point_of(fx, k), "first_seen_inside") if seen else next(crossed)
            entered_at[int(r)] = point.t_s
            latest_entry[(int(fx.icao24[k]), z)] = point.t_s
            details: dict[str, Any] = {"crossing": cause, **self._zone_details(z)}
            if not seen:
                details["segment"] = [_fix_json(fx, k - 1), _fix_json(fx, k)]
            events.append(self._event("entry", z, fx, k, point, details))

        last_entry = np.maximum.accumulate(np.where(entry_rows | w.group_start, rows, 0))
        exits = np.flatnonzero(exit_rows)
        tracks = [self.tracks.get((int(fx.icao24[pt.fix[r]]), int(pt.zone[r]))) for r in exits]
        segments = [
            self._exit_segment(fx, w, int(r), t) for r, t in zip(exits, tracks, strict=True)
        ]
        crossed = iter(
            crossings(
                zs,
                [int(pt.zone[r]) for r in exits],
                [s[0] for s in segments],
                [s[1] for s in segments],
                False,
            )
        )
        for r, track in zip(exits, tracks, strict=True):
            k, z = int(pt.fix[r]), int(pt.zone[r])
            point, cause = next(crossed)
            entered = entered_at.get(int(last_entry[r]), track.entered_s if track else math.nan)
            details = {"crossing": cause, **self._zone_details(z)}
            if math.isfinite(entered):
                details["time_inside_s"] = round(point.t_s - entered, 1)
            events.append(self._event("exit", z, fx, k, point, details))

        same_group_next = np.zeros(len(rows), bool)
        same_group_next[:-1] = ~w.group_start[1:]
        gap = np.zeros(len(rows))
        gap[:-1] = fx.t_s[pt.fix[1:]] - fx.t_s[pt.fix[:-1]]
        lost_rows = (w.state == 1) & same_group_next & (gap > settings.lost_contact_s)
        for r in np.flatnonzero(lost_rows):
            k, z = int(pt.fix[r]), int(pt.zone[r])
            address = int(fx.icao24[k])
            track = self.tracks.get((address, z))
            if fx.virtual[k] and track is not None and track.lost:
                continue  # already reported by the clock
            last = TrustedFix(
                float(fx.t_s[k]),
                float(fx.lat[k]),
                float(fx.lon[k]),
                float(fx.alt_ft[k]),
                0.0,
                0.0,
                0.0,
                str(fx.callsign[k]),
            )
            events.append(self._lost_event(address, z, last))
        for key, t in latest_entry.items():  # for the exit's time inside, batches later
            self.tracks.setdefault(key, ZoneTrack()).entered_s = t
        return events

    def _exit_segment(
        self, fx: Fixes, w: Walk, r: int, track: ZoneTrack | None
    ) -> tuple[Point4, Point4]:
        """The last fix inside and the fix after it: the exit happened between them."""
        li = int(w.last_in_row[r])
        if li >= 0:
            k = int(w.pairs.fix[li])
            return point_of(fx, k), point_of(fx, k + 1)
        first = int(w.pairs.fix[np.flatnonzero(w.group_id == w.group_id[r])[0]])
        if track is not None and track.last_in is not None:
            after = track.after_in or point_of(fx, first + 1 if fx.virtual[first] else first)
            return track.last_in, after
        k = int(w.pairs.fix[r])
        return point_of(fx, k), point_of(fx, k)

    def _warnings(self, fx: Fixes, w: Walk, pred: Predictions) -> list[Event]:
        """A warning per approach: a prediction warns unless the same (aircraft, zone) had one
        within the look-ahead before it, with no entry or exit between."""
        if len(pred.fix) == 0:
            return []
        pt = w.pairs
        changes = np.flatnonzero(w.state != w.prev_state)
        kind = np.concatenate([np.zeros(len(changes), np.int8), np.ones(len(pred.fix), np.int8)])
        fix = np.concatenate([pt.fix[changes], pred.fix])
        zone = np.concatenate([pt.zone[changes], pred.zone])
        key = (zone.astype(np.int64) << 32) | fx.icao24[fix].astype(np.int64)
        t = fx.t_s[fix]
        order = np.lexsort((kind, t, key))
        kind, fix, zone, key, t = kind[order], fix[order], zone[order], key[order], t[order]
        is_pred = kind == 1
        n = len(kind)
        rows = np.arange(n)
        start = np.append(True, key[1:] != key[:-1])
        first = np.flatnonzero(start)
        group = np.cumsum(start) - 1
        carried_change = np.full(len(first), -math.inf)
        carried_warning = np.full(len(first), -math.inf)
        for g, r in enumerate(first):  # once per (aircraft, zone)
            track = self.tracks.get((int(fx.icao24[fix[r]]), int(zone[r])))
            if track is not None:
                carried_change[g], carried_warning[g] = track.last_change_s, track.last_warning_s
        base = np.where(is_pred, carried_change[group], t)
        last_change = base[np.maximum.accumulate(np.where(~is_pred | start, rows, 0))]
        previous = np.full(n, -1)
        previous[1:] = np.maximum.accumulate(np.where(is_pred, rows, -1))[:-1]
        own = previous >= first[group]
        before = np.where(own, t[np.maximum(previous, 0)], carried_warning[group])
        lookahead = self.zones.lookahead_s[zone]
        fresh = (t - before > lookahead) | (last_change > before)
        emit = np.flatnonzero(is_pred & fresh)

        events = []
        for r in emit:  # one per approach
            i = int(order[r]) - len(changes)  # its place among the predictions
            k, z = int(pred.fix[i]), int(pred.zone[i])
            point = Point4(
                float(pred.t_entry_s[i]),
                float(pred.lat[i]),
                float(pred.lon[i]),
                float(pred.alt_ft[i]),
            )
            details = {
                "predicted_time": iso_time(point.t_s),
                "seconds_to_entry": round(point.t_s - float(fx.t_s[k]), 1),
                "predicted_lat": round(point.lat, 6),
                "predicted_lon": round(point.lon, 6),
                "lookahead_s": float(self.zones.lookahead_s[z]),
                **self._zone_details(z),
            }
            events.append(self._event("predicted_entry", z, fx, k, point_of(fx, k), details))
        last_pred = np.full(len(first), -1)
        np.maximum.at(last_pred, group[is_pred], rows[is_pred])
        for r in last_pred[last_pred >= 0]:  # remembered so the next batch does not warn again
            key_of = (int(fx.icao24[fix[r]]), int(zone[r]))
            self.tracks.setdefault(key_of, ZoneTrack()).last_warning_s = float(t[r])
        return events

    def _suspects(
        self,
        sv: StateVectors,
        t_fix: npt.NDArray[np.float64],
        alt: npt.NDArray[np.float64],
        callsign: npt.NDArray[np.str_],
        country: npt.NDArray[np.str_],
        start: npt.NDArray[np.bool_],
        reason: npt.NDArray[np.int8],
        implied_kt: npt.NDArray[np.float64],
    ) -> list[Event]:
        """One event per suspect episode, for positions in or near a monitored zone."""
        rows = np.flatnonzero(start)
        if len(rows) == 0:
            return []
        lon, lat = sv.lon_deg[rows], sv.lat_deg[rows]
        near = self.zones.grid.candidates(lon, lat)
        far = self.zones.grid.far_candidates(lon, lat, np.full(len(rows), np.inf))
        claimed = lateral_zones(self.zones, sv.lon_deg[rows], sv.lat_deg[rows])
        events = []
        for i, r in enumerate(rows):
            nearby = np.concatenate([near.zone[near.point == i], far.zone[far.point == i]])
            if len(nearby) == 0:
                continue
            zone_ids = [self.zones.zones[z].id for z in claimed[i]]
            zone = claimed[i][0] if claimed[i] else int(nearby[0])
            details = {
                "reason": REASONS[int(reason[r])],
                "claimed_zones": zone_ids,
                "implied_speed_kt": None
                if not np.isfinite(implied_kt[r])
                else round(float(implied_kt[r])),
                "reported_gs_kt": None
                if not np.isfinite(sv.gs_kt[r])
                else round(float(sv.gs_kt[r])),
                "nic": int(sv.nic[r]) if sv.nic[r] >= 0 else None,
                "nacp": int(sv.nacp[r]) if sv.nacp[r] >= 0 else None,
            }
            events.append(
                Event(
                    "suspect_position",
                    self.zones.zones[zone].id,
                    icao24_hex(int(sv.icao24[r])),
                    str(callsign[r]),
                    str(country[r]),
                    float(t_fix[r]),
                    float(sv.lat_deg[r]),
                    float(sv.lon_deg[r]),
                    float(alt[r]),
                    details,
                )
            )
        return events

    def _carry(self, fx: Fixes, w: Walk) -> None:
        """Remember, per aircraft and per (aircraft, zone), what the next batch needs."""
        n = len(fx)
        ends = np.flatnonzero(np.append(fx.icao24[1:] != fx.icao24[:-1], True))
        for k in ends:  # once per aircraft
            self.last_trusted[int(fx.icao24[k])] = TrustedFix(
                float(fx.t_s[k]),
                float(fx.lat[k]),
                float(fx.lon[k]),
                float(fx.alt_ft[k]),
                float(fx.gs_kt[k]),
                float(fx.track_deg[k]),
                float(fx.vrate_fpm[k]),
                str(fx.callsign[k]),
            )
        pt = w.pairs
        if len(pt.fix) == 0:
            return
        t_row = fx.t_s[pt.fix]
        changed = np.flatnonzero(w.state != w.prev_state)
        group_end = np.append(np.flatnonzero(w.group_start)[1:] - 1, len(pt.fix) - 1)
        interesting = np.zeros(int(w.group_id[-1]) + 1 if len(pt.fix) else 0, bool)
        interesting[w.group_id[w.state == 1]] = True
        interesting[w.group_id[changed]] = True
        for e in group_end:
            key = (int(fx.icao24[pt.fix[e]]), int(pt.zone[e]))
            if not interesting[w.group_id[e]] and key not in self.tracks:
                continue
            track = self.tracks.setdefault(key, ZoneTrack())
            track.inside = bool(w.state[e] == 1)
            li = int(w.last_in_row[e])
            if li >= 0:
                last_in = int(pt.fix[li])
                track.last_in = point_of(fx, last_in)
                same = last_in + 1 < n and fx.icao24[last_in + 1] == fx.icao24[last_in]
                track.after_in = point_of(fx, last_in + 1) if same else None
            if not fx.virtual[pt.fix[e]]:
                track.lost = False
            group_changes = changed[w.group_id[changed] == w.group_id[e]]
            if len(group_changes):
                track.last_change_s = float(t_row[group_changes[-1]])
            if (
                not track.inside
                and t_row[e] - max(track.last_change_s, track.last_warning_s) > 3600
            ):
                del self.tracks[key]

    # -- records --------------------------------------------------------------------------

    def _zone_details(self, z: int) -> dict[str, Any]:
        zone = self.zones.zones[z]
        return {"zone_name": zone.name, "band": zone.band_text(), "severity": zone.severity}

    def _event(
        self, kind: EventKind, z: int, fx: Fixes, k: int, point: Point4, details: dict[str, Any]
    ) -> Event:
        return Event(
            kind,
            self.zones.zones[z].id,
            icao24_hex(int(fx.icao24[k])),
            str(fx.callsign[k]),
            str(fx.country[k]),
            point.t_s,
            point.lat,
            point.lon,
            point.alt_ft,
            details,
        )

    def _lost_event(self, address: int, z: int, last: TrustedFix) -> Event:
        timeout = self.settings.lost_contact_s
        details = {"last_seen": iso_time(last.t_s), "timeout_s": timeout, **self._zone_details(z)}
        country = str(country_of(np.array([address], np.uint32))[0])
        return Event(
            "lost_contact",
            self.zones.zones[z].id,
            icao24_hex(address),
            last.callsign,
            country,
            last.t_s + timeout,
            last.lat,
            last.lon,
            last.alt_ft,
            details,
        )

    def _count(self, events: list[Event]) -> list[Event]:
        for e in events:
            self.stats.events[e.kind] = self.stats.events.get(e.kind, 0) + 1
        return sorted(events, key=Event.sort_key)


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


def _sorted(icao24: npt.NDArray[np.uint32], t: npt.NDArray[np.float64]) -> bool:
    if len(icao24) < 2:
        return True
    di = np.diff(icao24.astype(np.int64))
    return bool(np.all((di > 0) | ((di == 0) & (np.diff(t) >= 0))))


def _fix_json(fx: Fixes, k: int) -> dict[str, Any]:
    alt = float(fx.alt_ft[k])
    return {
        "time": iso_time(float(fx.t_s[k])),
        "lat": round(float(fx.lat[k]), 6),
        "lon": round(float(fx.lon[k]), 6),
        "altitude_ft": round(alt) if math.isfinite(alt) else None,
    }
