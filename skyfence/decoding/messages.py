"""rs1090's batch call for the messages `fast` leaves to it, its dicts turned into columns.

rs1090's batch call pairs even/odd CPR positions using the timestamps it is given, but it
silently drops frames it rejects (bad CRC), so its output is re-aligned with the input here
rather than trusted to have the same length. A frame it cannot parse at all aborts the whole
batch with a Rust panic; `classify` filters those beforehand, and if one still slips through the
batch is decoded again frame by frame so only the offending frame is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import rs1090

from skyfence.arrays import BOOL, F64, OBJ, U32
from skyfence.decoding.classify import (
    AIR_POSITION,
    ALTITUDE,
    IDENTIFICATION,
    SQUAWK,
    STATUS,
    SURFACE_POSITION,
    VELOCITY,
)
from skyfence.schema import parse_icao24

_POSITIONS = (AIR_POSITION, SURFACE_POSITION)
# Column -> (rs1090 key, message kinds that carry it). Reading a key only from the kinds that
# carry it keeps the per-message Python work (the dicts come from rs1090) small.
_FLOAT_KEYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "lat": ("latitude", _POSITIONS),
    "lon": ("longitude", _POSITIONS),
    "altitude": ("altitude", (AIR_POSITION, ALTITUDE)),
    "gs": ("groundspeed", (VELOCITY, SURFACE_POSITION)),
    "track": ("track", (VELOCITY, SURFACE_POSITION)),
    "vrate": ("vertical_rate", (VELOCITY,)),
    "gmb": ("geo_minus_baro", (VELOCITY,)),
    "nic_b": ("NICb", (AIR_POSITION,)),
    "nacp": ("NACp", (STATUS,)),
}


@dataclass(frozen=True, slots=True)
class Messages:
    """Decoded fields, one entry per input frame; NaN or None where a frame has no such field.

    `nic_supp` is the operational status' NIC supplement (NICa in version 2, NICs in version 1)
    and `version2` says which of the two it was, because they combine with NICb differently.
    """

    ok: BOOL  # rs1090 accepted the frame
    icao24: U32
    lat: F64
    lon: F64
    altitude: F64
    gs: F64
    track: F64
    vrate: F64
    gmb: F64
    nic_b: F64
    nacp: F64
    nic_supp: F64
    version2: F64
    callsign: OBJ
    squawk: OBJ


def is_rust_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def _decode_all(frames: list[str], t: list[float], reference: tuple[float, float] | None) -> Any:
    try:
        return rs1090.decode(frames, t, reference=reference)
    except BaseException as exc:  # a Rust panic is a BaseException, not an Exception
        if not is_rust_panic(exc):
            raise
    out: list[Any] = []
    for frame, ts in zip(frames, t, strict=True):
        try:
            out.extend(rs1090.decode([frame], [ts]))
        except BaseException as exc:
            if not is_rust_panic(exc):
                raise
    return out


def _align(out: list[dict[str, Any]], frames: list[str], t: list[float]) -> list[int]:
    """Input index of each output message (rs1090 keeps the order but drops rejected frames)."""
    if len(out) == len(frames):
        return list(range(len(frames)))
    index: list[int] = []
    i = 0
    for m in out:
        frame, ts = m.get("frame"), m.get("timestamp")
        while i < len(frames) and (frames[i] != frame or (ts is not None and t[i] != ts)):
            i += 1
        if i == len(frames):
            break
        index.append(i)
        i += 1
    return index


def decode_batch(
    frames: list[str],
    t: list[float],
    kind: npt.NDArray[np.int8],
    reference: tuple[float, float] | None = None,
) -> Messages:
    """Decode frames (sorted by time, with their `classify` kind) in one time-paired rs1090 call.

    Positions rs1090 could not pair are left NaN here; the caller recovers them with a
    reference, which needs the aircraft's other positions and so belongs to the assembly step.
    """
    n = len(frames)
    out: list[dict[str, Any]] = list(_decode_all(frames, t, reference)) if n else []
    where = np.asarray(_align(out, frames, t), dtype=np.int64)
    out = out[: where.shape[0]]
    out_kind = kind[where]

    def pick(kinds: tuple[int, ...]) -> tuple[npt.NDArray[np.int64], list[dict[str, Any]]]:
        sub = np.flatnonzero(np.isin(out_kind, kinds))
        return where[sub], [out[i] for i in sub.tolist()]

    def floats(key: str, kinds: tuple[int, ...]) -> F64:
        col = np.full(n, np.nan)
        at, msgs = pick(kinds)
        col[at] = np.array([m.get(key) for m in msgs], dtype=np.float64)
        return col

    def objects(key: str, kinds: tuple[int, ...]) -> OBJ:
        col = np.full(n, None, dtype=object)
        at, msgs = pick(kinds)
        col[at] = np.array([m.get(key) for m in msgs] + [None], dtype=object)[:-1]
        return col

    at, status = pick((STATUS,))
    nic_supp = np.full(n, np.nan)
    nic_supp[at] = np.array([m.get("NICa", m.get("NICs")) for m in status], dtype=np.float64)
    version2 = np.full(n, np.nan)
    version2[at] = [1.0 if "NICa" in m else 0.0 if "NICs" in m else math.nan for m in status]
    ok = np.zeros(n, bool)
    ok[where] = True
    icao = np.zeros(n, np.uint32)
    icao[where] = parse_icao24(np.array([m.get("icao24") or "" for m in out] + [""])[:-1])
    return Messages(
        ok=ok,
        icao24=icao,
        nic_supp=nic_supp,
        version2=version2,
        callsign=objects("callsign", (IDENTIFICATION,)),
        squawk=objects("squawk", (SQUAWK,)),
        **{name: floats(key, kinds) for name, (key, kinds) in _FLOAT_KEYS.items()},
    )


def decode_position(frame: str, reference: tuple[float, float]) -> tuple[float, float] | None:
    """Resolve one CPR position locally against a reference within 180 NM (45 NM on ground)."""
    try:
        m: Any = rs1090.decode(frame, reference=reference)
    except BaseException as exc:
        if not is_rust_panic(exc):
            raise
        return None
    lat, lon = m.get("latitude"), m.get("longitude")
    if lat is None or lon is None:
        return None
    return float(lat), float(lon)
