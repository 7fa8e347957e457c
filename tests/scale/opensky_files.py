"""Real recordings rewritten in OpenSky's history layout: one Parquet file per hour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from skyfence.schema import StateVectors, icao24_hex
from skyfence.sources.columns import FPM_PER_MS, FT_PER_M, KT_PER_MS


def opensky_table(sv: StateVectors) -> pa.Table:
    return pa.table(
        {
            "time": pa.array(np.floor(sv.t_s).astype(np.int64)),
            "icao24": pa.array([icao24_hex(int(a)) for a in sv.icao24]),
            "lat": sv.lat_deg,
            "lon": sv.lon_deg,
            "velocity": sv.gs_kt / KT_PER_MS,
            "heading": sv.track_deg,
            "vertrate": sv.vrate_fpm / FPM_PER_MS,
            "callsign": pa.array(sv.callsign.tolist()),
            "onground": pa.array(sv.on_ground.tolist()),
            "squawk": pa.array(sv.squawk.tolist()),
            "baroaltitude": sv.alt_baro_ft / FT_PER_M,
            "geoaltitude": sv.alt_geo_ft / FT_PER_M,
            "lastposupdate": sv.t_pos_s,
        }
    )


def write_hourly(sv: StateVectors, root: Path, hour_s: float = 3600.0) -> list[Path]:
    """Files root/<hour>.parquet, each holding the rows of its hour, in time order."""
    sv = sv.take(np.argsort(sv.t_s, kind="stable"))
    hours = np.floor(sv.t_s / hour_s)
    paths = []
    root.mkdir(parents=True, exist_ok=True)
    for hour in np.unique(hours):
        path = root / f"{int(hour)}.parquet"
        pq.write_table(opensky_table(sv.take(np.flatnonzero(hours == hour))), path)
        paths.append(path)
    return paths
