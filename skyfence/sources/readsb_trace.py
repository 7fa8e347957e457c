"""readsb / tar1090 trace files (`trace_full_<hex>.json`, often gzip under a .json name).

One file is one aircraft: a base `timestamp` and `trace` rows
`[dt, lat, lon, alt ft | "ground" | null, gs kt, track, flags, vrate fpm, details | null,
source, alt_geom, ...]` (readsb README-json). Flags: 2 starts a new leg, 8 means the altitude is
geometric. Callsign, squawk, NIC and NACp only come in the occasional `details` object, so
they are carried forward within a leg (a new leg may be a new flight with another callsign).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.decoding.carry import carried, ffill_index, group_bounds
from skyfence.schema import StateVectors, parse_icao24
from skyfence.sources.base import ReadStats, RecordingError, open_binary
from skyfence.sources.columns import checked

IDENTITY_MAX_AGE_S = 600.0
NEW_LEG, GEOMETRIC_ALTITUDE = 2, 8


def _num(value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a number: {str(value)[:40]!r}")
    return float(value)


def _row(row: Any) -> tuple[Any, ...]:
    """One trace row as (dt, lat, lon, alt, ground, gs, track, flags, vrate, alt_geom,
    callsign, squawk, nic, nacp); ValueError if it is malformed."""
    if not isinstance(row, list) or len(row) < 8:
        raise ValueError("not a trace row")
    ground = row[3] == "ground"
    details = row[8] if len(row) > 8 and isinstance(row[8], dict) else {}
    geom = row[10] if len(row) > 10 else details.get("alt_geom")
    flight = details.get("flight")
    squawk = details.get("squawk")
    return (
        _num(row[0]),
        _num(row[1]),
        _num(row[2]),
        float("nan") if ground else _num(row[3]),
        ground,
        _num(row[4]),
        _num(row[5]),
        int(_num(row[6])) if row[6] is not None else 0,
        _num(row[7]),
        _num(geom),
        flight.strip() if isinstance(flight, str) else "",
        squawk if isinstance(squawk, str) else "",
        _num(details.get("nic")),
        _num(details.get("nac_p")),
    )


def read_trace(path: Path, batch_rows: int, stats: ReadStats) -> Iterator[StateVectors]:
    with open_binary(path) as stream:
        doc = json.load(stream)
    if not isinstance(doc, dict) or not isinstance(doc.get("trace"), list):
        raise RecordingError(path, "not a readsb trace: no 'trace' list")
    if not isinstance(doc.get("icao"), str) or not isinstance(doc.get("timestamp"), int | float):
        raise RecordingError(path, "not a readsb trace: no 'icao' or 'timestamp'")
    address = parse_icao24([doc["icao"].lstrip("~")])[0]
    rows: list[tuple[Any, ...]] = []
    for i, raw in enumerate(doc["trace"]):
        try:
            rows.append(_row(raw))
        except (ValueError, TypeError, OverflowError) as exc:
            stats.rows_read += 1
            stats.skip(1, f"trace row {i}: {exc}")
    if not rows:
        return
    (dt, lat, lon, alt, ground, gs, track, flags, vrate, geom, callsign, squawk, nic, nacp) = (
        np.array(c, dtype=object) for c in zip(*rows, strict=True)
    )
    flags = flags.astype(np.int64)
    t = float(doc["timestamp"]) + dt.astype(np.float64)
    geometric = (flags & GEOMETRIC_ALTITUDE) > 0
    alt = alt.astype(np.float64)
    first, _ = group_bounds(np.cumsum((flags & NEW_LEG) > 0))

    def latest(values: Any, valid: Any, missing: Any) -> Any:
        return carried(values, ffill_index(valid, first), missing, t, IDENTITY_MAX_AGE_S)

    nic_f, nacp_f = nic.astype(np.float64), nacp.astype(np.float64)
    sv = checked(
        stats,
        "trace rows",
        np.zeros(len(t), bool),
        t_s=t,
        icao24=np.full(len(t), address, np.uint32),
        lat_deg=lat.astype(np.float64),
        lon_deg=lon.astype(np.float64),
        alt_baro_ft=np.where(geometric, np.nan, alt),
        alt_geo_ft=np.where(geometric, alt, geom.astype(np.float64)),
        gs_kt=gs.astype(np.float64),
        track_deg=track.astype(np.float64),
        vrate_fpm=vrate.astype(np.float64),
        on_ground=ground.astype(bool),
        callsign=latest(callsign, callsign.astype(bool), ""),
        squawk=latest(squawk, squawk.astype(bool), ""),
        nic=latest(nic_f, np.isfinite(nic_f), np.nan),
        nacp=latest(nacp_f, np.isfinite(nacp_f), np.nan),
        t_pos_s=t,
    )
    for start in range(0, len(sv), batch_rows):
        yield sv.take(np.arange(start, min(start + batch_rows, len(sv))))
