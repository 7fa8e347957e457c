"""Events from what the engine found: entries, exits, lost contacts, warnings and suspects.

Each function turns one kind of finding (array rows) into event records, with the crossing
instant and the details an analyst needs to check it. Only findings reach Python loops here,
never every fix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from skyfence.engine.containment import Fixes, lateral_zones
from skyfence.engine.crossing import Point4, crossings
from skyfence.engine.events import Event, EventKind, iso_time
from skyfence.engine.prediction import Predictions
from skyfence.engine.transitions import TrustedFix, Walk, ZoneTrack, point_of
from skyfence.engine.zoneset import ZoneSet
from skyfence.schema import StateVectors, icao24_hex
from skyfence.settings import EngineSettings
from skyfence.tracking.integrity import REASONS, Verdicts
from skyfence.zones.countries import country_of


def transition_events(
    zs: ZoneSet,
    settings: EngineSettings,
    fx: Fixes,
    w: Walk,
    tracks: dict[tuple[int, int], ZoneTrack],
) -> list[Event]:
    """Entries, exits (with their crossing instants) and lost contacts along the walk."""
    pt = w.pairs
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
        details: dict[str, Any] = {"crossing": cause, **zone_details(zs, z)}
        if not seen:
            details["segment"] = [_fix_json(fx, k - 1), _fix_json(fx, k)]
        events.append(fix_event(zs, "entry", z, fx, k, point, details))

    last_entry = np.maximum.accumulate(np.where(entry_rows | w.group_start, rows, 0))
    exits = np.flatnonzero(exit_rows)
    exit_tracks = [tracks.get((int(fx.icao24[pt.fix[r]]), int(pt.zone[r]))) for r in exits]
    segments = [exit_segment(fx, w, int(r), t) for r, t in zip(exits, exit_tracks, strict=True)]
    crossed = iter(
        crossings(
            zs,
            [int(pt.zone[r]) for r in exits],
            [s[0] for s in segments],
            [s[1] for s in segments],
            False,
        )
    )
    for r, track in zip(exits, exit_tracks, strict=True):
        k, z = int(pt.fix[r]), int(pt.zone[r])
        point, cause = next(crossed)
        entered = entered_at.get(int(last_entry[r]), track.entered_s if track else math.nan)
        details = {"crossing": cause, **zone_details(zs, z)}
        if math.isfinite(entered):
            details["time_inside_s"] = round(point.t_s - entered, 1)
        events.append(fix_event(zs, "exit", z, fx, k, point, details))

    same_group_next = np.zeros(len(rows), bool)
    same_group_next[:-1] = ~w.group_start[1:]
    gap = np.zeros(len(rows))
    gap[:-1] = fx.t_s[pt.fix[1:]] - fx.t_s[pt.fix[:-1]]
    lost_rows = (w.state == 1) & same_group_next & (gap > settings.lost_contact_s)
    for r in np.flatnonzero(lost_rows):
        k, z = int(pt.fix[r]), int(pt.zone[r])
        address = int(fx.icao24[k])
        track = tracks.get((address, z))
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
        events.append(lost_event(zs, settings, address, z, last))
    for key, t in latest_entry.items():  # for the exit's time inside, batches later
        tracks.setdefault(key, ZoneTrack()).entered_s = t
    return events


def exit_segment(fx: Fixes, w: Walk, r: int, track: ZoneTrack | None) -> tuple[Point4, Point4]:
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


def warning_events(
    zs: ZoneSet,
    fx: Fixes,
    w: Walk,
    pred: Predictions,
    tracks: dict[tuple[int, int], ZoneTrack],
) -> list[Event]:
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
        track = tracks.get((int(fx.icao24[fix[r]]), int(zone[r])))
        if track is not None:
            carried_change[g], carried_warning[g] = track.last_change_s, track.last_warning_s
    base = np.where(is_pred, carried_change[group], t)
    last_change = base[np.maximum.accumulate(np.where(~is_pred | start, rows, 0))]
    previous = np.full(n, -1)
    previous[1:] = np.maximum.accumulate(np.where(is_pred, rows, -1))[:-1]
    own = previous >= first[group]
    before = np.where(own, t[np.maximum(previous, 0)], carried_warning[group])
    lookahead = zs.lookahead_s[zone]
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
            "lookahead_s": float(zs.lookahead_s[z]),
            **zone_details(zs, z),
        }
        events.append(fix_event(zs, "predicted_entry", z, fx, k, point_of(fx, k), details))
    last_pred = np.full(len(first), -1)
    np.maximum.at(last_pred, group[is_pred], rows[is_pred])
    for r in last_pred[last_pred >= 0]:  # remembered so the next batch does not warn again
        key_of = (int(fx.icao24[fix[r]]), int(zone[r]))
        tracks.setdefault(key_of, ZoneTrack()).last_warning_s = float(t[r])
    return events


def suspect_events(
    zs: ZoneSet,
    sv: StateVectors,
    t_fix: npt.NDArray[np.float64],
    alt: npt.NDArray[np.float64],
    callsign: npt.NDArray[np.str_],
    country: npt.NDArray[np.str_],
    verdicts: Verdicts,
) -> list[Event]:
    """One event per suspect episode, for positions in or near a monitored zone."""
    reason, implied_kt = verdicts.reason, verdicts.implied_kt
    rows = np.flatnonzero(verdicts.suspect_start)
    if len(rows) == 0:
        return []
    lon, lat = sv.lon_deg[rows], sv.lat_deg[rows]
    near = zs.grid.candidates(lon, lat)
    far = zs.grid.far_candidates(lon, lat, np.full(len(rows), np.inf))
    claimed = lateral_zones(zs, sv.lon_deg[rows], sv.lat_deg[rows])
    events = []
    for i, r in enumerate(rows):
        nearby = np.concatenate([near.zone[near.point == i], far.zone[far.point == i]])
        if len(nearby) == 0:
            continue
        level = -math.inf if sv.on_ground[r] else float(alt[r])
        inside = [z for z in claimed[i] if _binds_at(zs, z, float(t_fix[r]), level)]
        zone_ids = [zs.zones[z].id for z in inside]
        zone = inside[0] if inside else claimed[i][0] if claimed[i] else int(nearby[0])
        details = {
            "reason": REASONS[int(reason[r])],
            "claimed_zones": zone_ids,
            "implied_speed_kt": None
            if not np.isfinite(implied_kt[r])
            else round(float(implied_kt[r])),
            "reported_gs_kt": None if not np.isfinite(sv.gs_kt[r]) else round(float(sv.gs_kt[r])),
            "nic": int(sv.nic[r]) if sv.nic[r] >= 0 else None,
            "nacp": int(sv.nacp[r]) if sv.nacp[r] >= 0 else None,
        }
        events.append(
            Event(
                "suspect_position",
                zs.zones[zone].id,
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


def _binds_at(zs: ZoneSet, z: int, t_s: float, alt_ft: float) -> bool:
    """Whether a position laterally in zone z is in it at this altitude and time."""
    floor, ceiling = float(zs.floor_ft[z]), float(zs.ceiling_ft[z])
    whole = math.isinf(floor) and math.isinf(ceiling)
    in_band = whole or floor <= alt_ft <= ceiling
    active = zs.active_at(np.array([z], np.int32), np.array([t_s]))[0]
    return bool(in_band and active)


def zone_details(zs: ZoneSet, z: int) -> dict[str, Any]:
    zone = zs.zones[z]
    return {"zone_name": zone.name, "band": zone.band_text(), "severity": zone.severity}


def fix_event(
    zs: ZoneSet, kind: EventKind, z: int, fx: Fixes, k: int, point: Point4, details: dict[str, Any]
) -> Event:
    return Event(
        kind,
        zs.zones[z].id,
        icao24_hex(int(fx.icao24[k])),
        str(fx.callsign[k]),
        str(fx.country[k]),
        point.t_s,
        point.lat,
        point.lon,
        point.alt_ft,
        details,
    )


def lost_event(
    zs: ZoneSet, settings: EngineSettings, address: int, z: int, last: TrustedFix
) -> Event:
    timeout = settings.lost_contact_s
    details = {"last_seen": iso_time(last.t_s), "timeout_s": timeout, **zone_details(zs, z)}
    country = str(country_of(np.array([address], np.uint32))[0])
    return Event(
        "lost_contact",
        zs.zones[z].id,
        icao24_hex(address),
        last.callsign,
        country,
        last.t_s + timeout,
        last.lat,
        last.lon,
        last.alt_ft,
        details,
    )


def withdrawn_event(
    zs: ZoneSet, address: int, z: int, last: TrustedFix, callsign: str, clock_s: float
) -> Event:
    """An aircraft inside a zone that a reload removed: its open state ends here, at the time
    of the reload, and it did not exit (no crossing is invented)."""
    details = {"last_seen": iso_time(last.t_s), "reason": "zone removed by a reload"}
    details.update(zone_details(zs, z))
    country = str(country_of(np.array([address], np.uint32))[0])
    return Event(
        "zone_withdrawn",
        zs.zones[z].id,
        icao24_hex(address),
        callsign,
        country,
        clock_s,
        last.lat,
        last.lon,
        last.alt_ft,
        details,
    )


def _fix_json(fx: Fixes, k: int) -> dict[str, Any]:
    alt = float(fx.alt_ft[k])
    return {
        "time": iso_time(float(fx.t_s[k])),
        "lat": round(float(fx.lat[k]), 6),
        "lon": round(float(fx.lon[k]), 6),
        "altitude_ft": round(alt) if math.isfinite(alt) else None,
    }
