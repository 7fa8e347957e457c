"""Real recordings rewritten in OpenSky's history layout: one Parquet file per hour."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fakes import squawking

from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.rules import squawk_rules
from skyfence.schema import StateVectors, icao24_hex
from skyfence.settings import EngineSettings
from skyfence.sources.columns import FPM_PER_MS, FT_PER_M, KT_PER_MS
from skyfence.sources.recordings import read_recording
from skyfence.zones.model import Zone


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


def squawking_history(samples: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A real flight (Air France 393322, rs1090 frames) whose identity replies say 7700 for a
    stretch, among the quickstart traffic, as one OpenSky Parquet file and as 10-minute files."""
    squawking(samples, tmp_path / "flight.jsonl", [range(300, 400)])
    flight = StateVectors.concat(list(read_recording(tmp_path / "flight.jsonl")))
    traffic = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    shift = float(np.min(flight.t_s) - np.min(traffic.t_s))  # one stream: the same hours
    traffic = replace(traffic, t_s=traffic.t_s + shift, t_pos_s=traffic.t_pos_s + shift)
    sv = StateVectors.concat([flight, traffic])
    sv = sv.take(np.argsort(sv.t_s, kind="stable"))
    one = tmp_path / "one.parquet"
    pq.write_table(opensky_table(sv), one)
    write_hourly(sv, tmp_path / "history", hour_s=600.0)
    return one, tmp_path / "history"


def one_engine_events(one: Path, zones: list[Zone]) -> list[Event]:
    """The events of one file through one engine with the squawk rule, as `skyfence audit`
    finds them: what a folder or Spark must give for the same rows."""
    settings = EngineSettings()
    found: list[Event] = []
    engine = Engine(zones, settings, rules=squawk_rules(True, settings.forget_after_s))
    run_audit([one], engine, [], on_events=found.extend)
    return found
