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
from skyfence.engine.crossing import Point4, crossing_points
from skyfence.engine.events import Event, EventKind, iso_time
from skyfence.engine.prediction import Predictions
from skyfence.engine.transitions import TrustedFix, Walk, ZoneTrack, point_of, track_of
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
    """Entries, exits (with their crossing instants) and lost contacts along the walk.

    Built column-wise: the crossings of a whole batch in one vectorised pass, the records from
    columns gathered once (a dense audit has an event per 24 state vectors)."""
    pt = w.pairs
    rows = np.arange(len(pt.fix))
    entry_rows = (w.state == 1) & (w.prev_state == 0)
    exit_rows = (w.state == 0) & (w.prev_state == 1)
    zone_info = _ZoneDetails(zs)

    entries = np.flatnonzero(entry_rows)
    k_in, z_in = pt.fix[entries], pt.zone[entries]
    first_seen = (k_in == 0) | (fx.icao24[np.maximum(k_in - 1, 0)] != fx.icao24[k_in])
    crossed = np.flatnonzero(~first_seen)
    points = fix_points(fx, k_in)
    causes: list[str] = ["first_seen_inside"] * len(k_in)
    segments: list[list[dict[str, Any]]] = []
    if len(crossed):
        k = k_in[crossed]
        points[crossed], crossed_causes = crossing_points(
            zs, z_in[crossed].astype(np.int32), fix_points(fx, k - 1), points[crossed], True
        )
        for i, cause in zip(crossed.tolist(), crossed_causes, strict=True):
            causes[i] = cause
        ends = _fix_jsons(fx, np.concatenate([k - 1, k]))
        segments = [list(pair) for pair in zip(ends[: len(k)], ends[len(k) :], strict=True)]
    entry_details: list[dict[str, Any]] = []
    crossing_segments = iter(segments)
    for z, seen, cause in zip(z_in.tolist(), first_seen.tolist(), causes, strict=True):
        details: dict[str, Any] = {"crossing": cause, **zone_info[z]}
        if not seen:
            details["segment"] = next(crossing_segments)
        entry_details.append(details)
    entry_events = fix_events(zs, "entry", fx, k_in, z_in, points, entry_details)
    entry_t = points[:, 0].tolist()
    entered_at = dict(zip(entries.tolist(), entry_t, strict=True))
    # the latest entry of each (aircraft, zone): for the exit's time inside, batches later
    latest_entry = dict(
        zip(zip(fx.icao24[k_in].tolist(), z_in.tolist(), strict=True), entry_t, strict=True)
    )

    last_entry = np.maximum.accumulate(np.where(entry_rows | w.group_start, rows, 0))
    exits = np.flatnonzero(exit_rows)
    k_out, z_out = pt.fix[exits], pt.zone[exits]
    keys = zip(fx.icao24[k_out].tolist(), z_out.tolist(), strict=True)
    exit_tracks = [tracks.get(key) for key in keys]
    li = w.last_in_row[exits]
    k_last_in = pt.fix[np.maximum(li, 0)]
    pa = fix_points(fx, k_last_in)
    pb = fix_points(fx, np.minimum(k_last_in + 1, max(len(fx) - 1, 0)))
    for i in np.flatnonzero(li < 0).tolist():  # its last fix inside came in an earlier batch
        pa[i], pb[i] = exit_segment(fx, w, int(exits[i]), exit_tracks[i])
    points, exit_causes = crossing_points(zs, z_out.astype(np.int32), pa, pb, False)
    entered = np.array(
        [
            entered_at.get(last, track.entered_s if track else math.nan)
            for last, track in zip(last_entry[exits].tolist(), exit_tracks, strict=True)
        ],
        np.float64,
    )
    known = np.isfinite(entered)
    exit_details = []
    for z, cause, has_entry, inside_s in zip(
        z_out.tolist(),
        exit_causes,
        known.tolist(),
        rounded(np.where(known, points[:, 0] - entered, 0.0), 1),
        strict=True,
    ):
        details = {"crossing": cause, **zone_info[z]}
        if has_entry:
            details["time_inside_s"] = inside_s
        exit_details.append(details)
    events = entry_events + fix_events(zs, "exit", fx, k_out, z_out, points, exit_details)

    same_group_next = np.zeros(len(rows), bool)
    same_group_next[:-1] = ~w.group_start[1:]
    gap = np.zeros(len(rows))
    gap[:-1] = fx.t_s[pt.fix[1:]] - fx.t_s[pt.fix[:-1]]
    lost_rows = np.flatnonzero((w.state == 1) & same_group_next & (gap > settings.lost_contact_s))
    k_lost = pt.fix[lost_rows]
    lost = []
    for z, address, virtual, country, t_s, lat, lon, alt_ft, callsign in zip(
        pt.zone[lost_rows].tolist(),
        fx.icao24[k_lost].tolist(),
        fx.virtual[k_lost].tolist(),
        fx.country[k_lost].tolist(),
        fx.t_s[k_lost].tolist(),
        fx.lat[k_lost].tolist(),
        fx.lon[k_lost].tolist(),
        fx.alt_ft[k_lost].tolist(),
        fx.callsign[k_lost].tolist(),
        strict=True,
    ):
        track = tracks.get((address, z))
        if virtual and track is not None and track.lost:
            continue  # already reported by the clock
        last = TrustedFix(t_s, lat, lon, alt_ft, 0.0, 0.0, 0.0, callsign)
        lost.append((address, z, last, country))
    events += lost_events(zs, settings, lost)
    for key, t in latest_entry.items():  # for the exit's time inside, batches later
        track_of(tracks, key).entered_s = t
    return events


def fix_points(fx: Fixes, k: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Rows (t_s, lat, lon, alt_ft) of fixes k: `point_of` for many at once."""
    return np.column_stack([fx.t_s[k], fx.lat[k], fx.lon[k], fx.alt_ft[k]])


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


def fix_events(
    zs: ZoneSet,
    kind: EventKind,
    fx: Fixes,
    k: npt.NDArray[np.int64],
    z: npt.NDArray[np.int32],
    points: npt.NDArray[np.float64],
    details: list[dict[str, Any]],
) -> list[Event]:
    """Events of many fixes: the aircraft of fix k[i], zone z[i], at points[i] (t_s, lat, lon,
    alt_ft), each column gathered once."""
    ids = [zone.id for zone in zs.zones]
    return [
        Event(kind, ids[zone], f"{address:06x}", callsign, country, t_s, lat, lon, alt, d)
        for zone, address, callsign, country, (t_s, lat, lon, alt), d in zip(
            z.tolist(),
            fx.icao24[k].tolist(),
            fx.callsign[k].tolist(),
            fx.country[k].tolist(),
            points.tolist(),
            details,
            strict=True,
        )
    ]


class _ZoneDetails(dict[int, dict[str, Any]]):
    """zone_details(zs, z), computed once per zone met in a batch (callers copy it)."""

    def __init__(self, zs: ZoneSet) -> None:
        super().__init__()
        self.zs = zs

    def __missing__(self, z: int) -> dict[str, Any]:
        found = self[z] = zone_details(self.zs, z)
        return found


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
    keys = zip(fx.icao24[fix[first]].tolist(), zone[first].tolist(), strict=True)
    for g, key in enumerate(keys):  # once per (aircraft, zone)
        track = tracks.get(key)
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

    i = order[emit] - len(changes)  # their places among the predictions
    k, z = pred.fix[i], pred.zone[i]
    zone_info = _ZoneDetails(zs)
    details = [
        {
            "predicted_time": when,
            "seconds_to_entry": to_entry,
            "predicted_lat": lat,
            "predicted_lon": lon,
            "lookahead_s": lookahead_s,
            **zone_info[zone],
        }
        for when, to_entry, lat, lon, lookahead_s, zone in zip(
            iso_times(pred.t_entry_s[i]),
            rounded(pred.t_entry_s[i] - fx.t_s[k], 1),
            rounded(pred.lat[i], 6),
            rounded(pred.lon[i], 6),
            zs.lookahead_s[z].astype(np.float64).tolist(),
            z.tolist(),
            strict=True,
        )
    ]
    events = fix_events(zs, "predicted_entry", fx, k, z, fix_points(fx, k), details)
    last_pred = np.full(len(first), -1)
    np.maximum.at(last_pred, group[is_pred], rows[is_pred])
    last = last_pred[last_pred >= 0]
    for key_of, t_warning in zip(  # remembered so the next batch does not warn again
        zip(fx.icao24[fix[last]].tolist(), zone[last].tolist(), strict=True),
        t[last].tolist(),
        strict=True,
    ):
        track_of(tracks, key_of).last_warning_s = t_warning
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


def lost_events(
    zs: ZoneSet, settings: EngineSettings, lost: list[tuple[int, int, TrustedFix, str]]
) -> list[Event]:
    """Lost contacts of (address, zone, last trusted fix, the address's country), their
    times of last contact formatted in one numpy pass (one `iso_time` each cost more than the
    rest of the event)."""
    timeout = settings.lost_contact_s
    zone_info = _ZoneDetails(zs)
    seen = iso_times(np.array([last.t_s for _, _, last, _ in lost], np.float64))
    return [
        Event(
            "lost_contact",
            zs.zones[z].id,
            icao24_hex(address),
            last.callsign,
            country,
            last.t_s + timeout,
            last.lat,
            last.lon,
            last.alt_ft,
            {"last_seen": when, "timeout_s": timeout, **zone_info[z]},
        )
        for (address, z, last, country), when in zip(lost, seen, strict=True)
    ]


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


def _fix_jsons(fx: Fixes, k: npt.NDArray[np.int64]) -> list[dict[str, Any]]:
    """The fixes k as an event's details show them."""
    return [
        {
            "time": when,
            "lat": lat,
            "lon": lon,
            "altitude_ft": round(alt) if math.isfinite(alt) else None,
        }
        for when, lat, lon, alt in zip(
            iso_times(fx.t_s[k]),
            rounded(fx.lat[k], 6),
            rounded(fx.lon[k], 6),
            fx.alt_ft[k].tolist(),
            strict=True,
        )
    ]


def iso_times(t_s: npt.NDArray[np.float64]) -> list[str]:
    """`events.iso_time` of many instants in one numpy pass (the same strings: the same rounding to
    the millisecond, half to even)."""
    ms = np.rint(np.asarray(t_s, np.float64) * 1000).astype(np.int64).astype("datetime64[ms]")
    return [f"{text}Z" for text in np.datetime_as_string(ms, unit="ms").tolist()]


def rounded(values: npt.NDArray[np.float64], digits: int) -> list[float]:
    """`[round(v, digits) for v in values]` in numpy, to the same bits: the scaled value is
    rounded to an integer as Python rounds the exact decimal (half to even), unless it lies
    within a few units in the last place of a half, where Python's `round` decides; an integer
    divided by a power of ten is then the correctly rounded quotient, which is what `round`
    returns. (A dense audit rounds 100,000 numbers, each `round` a Python call.)"""
    scale = 10.0**digits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.asarray(values, np.float64) * scale
        whole = np.rint(scaled)
        clear = (np.abs(np.abs(scaled - whole) - 0.5) > 4 * np.spacing(np.abs(scaled))) & (
            np.abs(scaled) < 2.0**52
        )
        out: list[float] = (whole / scale).tolist()
    for i in np.flatnonzero(~clear).tolist():  # near a half, NaN, inf or huge: Python decides
        out[i] = round(float(values[i]), digits)
    return out
