"""Mode S frames -> state vectors: one per ADS-B position message, decoded with rs1090.

The steps, and why each exists:

1. `classify` keeps only the frames that feed a state vector (positions, velocity,
   identification, operational status, surveillance altitude/squawk replies) and drops malformed
   hex, so rs1090 does less work and never sees a frame that would abort its batch call.
2. The batch is decoded in time order, pairing even/odd CPR positions with the timestamps, as
   rs1090's batch call does: the frequent messages from their bytes with rs1090's own tables
   and algorithm (`fast`, proven identical on the real recordings), the rare ones by rs1090.
3. Positions it could not pair (about 1% of airborne ones, plus surface positions, which need a
   reference) are resolved one by one against a reference: the aircraft's own position heard
   shortly before (or after) it, else the receiver position. Stale references are refused: a
   local CPR decode against a reference too far away silently returns a wrong position.
4. Each position message becomes a state vector with the aircraft's latest altitude, velocity,
   callsign, squawk, NIC supplement and NACp carried forward (vectorised, per aircraft, with an
   age limit so old values do not pose as current ones).

`FrameDecoder` keeps, per aircraft, the last message of each kind between calls, so a recording
decoded batch by batch gives the same state vectors as one decoded at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from skyfence.arrays import BOOL, F64, I8, OBJ, STR, U8, U32
from skyfence.decoding.carry import bfill_index, carried, ffill_index, group_bounds
from skyfence.decoding.classify import (
    POSITION_UNDECODED,
    SURFACE_POSITION,
    Classified,
    Replies,
    classify,
    classify_rows,
    hex_rows,
    is_position,
)
from skyfence.decoding.fast import decode_rows
from skyfence.decoding.messages import decode_position
from skyfence.decoding.nic import nic_from_typecode
from skyfence.errors import InputError
from skyfence.schema import StateVectors

# Oldest reference a CPR position may be resolved against: local decoding is only unambiguous
# within 180 NM of the reference in the air and 45 NM on the ground, and an aircraft covers
# about 90 NM in 300 s at 1000 kt.
AIR_REFERENCE_MAX_AGE_S = 300.0
SURFACE_REFERENCE_MAX_AGE_S = 120.0


@dataclass(slots=True)
class DecodeStats:
    """What happened to the frames: every frame lands in exactly one of the first five counts."""

    frames: int = 0
    malformed: int = 0  # not 14/28 hex digits, or no finite timestamp
    ignored: int = 0  # well formed, but nothing a state vector needs
    rejected: int = 0  # refused by rs1090 (bad parity/CRC, unknown layout)
    unconfirmed: int = 0  # DF4/5/20/21 reply from an address never heard in ADS-B
    used: int = 0
    positions: int = 0  # position messages among the used frames
    paired: int = 0  # resolved by rs1090's time-paired batch decoding
    recovered: int = 0  # resolved afterwards against a reference
    unresolved: int = 0  # no usable reference: no state vector
    seconds: float = 0.0  # wall time spent in `decode`

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class _Rows:
    """Decoded messages as columns; NaN/None where a message does not carry the field."""

    t: F64
    icao: U32
    kind: I8
    tc: I8
    carry: BOOL  # row kept from an earlier batch, never emitted again
    lat: F64
    lon: F64
    alt_baro: F64
    alt_geo: F64
    gs: F64
    track: F64
    vrate: F64
    gmb: F64
    nic_b: F64
    nic_supp: F64
    version2: F64
    nacp: F64
    callsign: OBJ
    squawk: OBJ
    frame: U8  # (n, 14) bytes of the frame, zero on rows carried from an earlier batch

    def take(self, index: npt.NDArray[Any]) -> _Rows:
        return _Rows(**{name: getattr(self, name)[index] for name in _ROW_FIELDS})

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _ROW_FIELDS}
        )

    @staticmethod
    def empty() -> _Rows:
        kinds = {"icao": np.uint32, "kind": np.int8, "tc": np.int8, "carry": bool}
        objects = ("callsign", "squawk")
        columns = {
            f.name: np.zeros(0, object if f.name in objects else kinds.get(f.name, float))
            for f in fields(_Rows)
        }
        return _Rows(**(columns | {"frame": np.zeros((0, 14), np.uint8)}))


_ROW_FIELDS = tuple(f.name for f in fields(_Rows))


class FrameDecoder:
    """Stateful decoder: call `decode` on consecutive batches of one recording or feed.

    `reference` is the receiver position (lat, lon), used for surface positions and for
    positions heard before any other of the same aircraft; without it those stay unresolved.
    `replies` chooses which surveillance replies update altitude and squawk (see `classify`).
    The default, "short" (DF4/5), gives the same positions and altitudes as "all" (positions
    come from ADS-B, which carries its own altitude); "all" also takes squawks from DF21, for
    aircraft that only EHS radars interrogate. Both now cost about the same: the replies'
    altitude and identity are read from their 13-bit fields, not by rs1090 (whose Comm-B
    decoding of every DF20/21 made "all" 2.6 times slower).
    Carried-forward values expire after `max_age_s` (kinematics) and `identity_max_age_s`
    (callsign, squawk, NACp, NIC).
    """

    def __init__(
        self,
        reference: tuple[float, float] | None = None,
        *,
        replies: Replies = "short",
        max_age_s: float = 60.0,
        identity_max_age_s: float = 600.0,
    ) -> None:
        self.reference = reference
        self.replies = replies
        self.max_age_s = max_age_s
        self.identity_max_age_s = identity_max_age_s
        self.stats = DecodeStats()
        self._carry = _Rows.empty()
        self._position_rows = np.zeros((0, 14), np.uint8)

    @property
    def position_frames(self) -> STR:
        """The frame (hex) of each row the last `decode` returned."""
        return hex_rows(self._position_rows)

    def decode(self, timestamps: npt.ArrayLike, frames: npt.ArrayLike) -> StateVectors:
        """State vectors (sorted by time) for the position messages among `frames`.

        `timestamps` are UNIX seconds of reception, one per frame.
        """
        started = time.perf_counter()
        c = classify(frames, replies=self.replies)
        return self._decode(started, np.asarray(timestamps, dtype=np.float64), c)

    def decode_bytes(
        self, timestamps: npt.ArrayLike, rows: npt.NDArray[np.uint8], size: npt.ArrayLike
    ) -> StateVectors:
        """`decode` for frames given as bytes: `rows` (n, 14), each frame's bytes from the left,
        and `size`, the bytes of each (7 or 14), as a binary (Beast) feed delivers them, so
        they are never turned into hex and back."""
        started = time.perf_counter()
        c = classify_rows(rows, np.asarray(size), replies=self.replies)
        return self._decode(started, np.asarray(timestamps, dtype=np.float64), c)

    def _decode(self, started: float, t: F64, c: Classified) -> StateVectors:
        rows = self._messages(t, c)
        # Only the carried rows of the aircraft in this batch take part, so that a batch costs
        # O(its frames), not O(aircraft tracked); the others wait untouched (but age).
        joins = np.isin(self._carry.icao, rows.icao)
        waiting = self._carry.take(~joins)
        work = _Rows.concat([self._carry.take(joins), rows])
        work = work.take(np.lexsort((~work.carry, work.t, work.icao)))
        first, last = group_bounds(work.icao)
        self._resolve(work, first, last)
        out = self._assemble(work, first)
        newest = max(np.max(work.t, initial=-np.inf), np.max(waiting.t, initial=-np.inf))
        waiting = waiting.take(waiting.t >= newest - self._horizon)
        self._carry = _Rows.concat([waiting, self._keep(work, newest)])
        self.stats.seconds += time.perf_counter() - started
        return out

    def _messages(self, t: F64, c: Classified) -> _Rows:
        """Decode the classified frames in one batch, and keep the messages worth assembling."""
        if c.rows.shape[0] != t.shape[0]:
            raise InputError("timestamps and frames must have the same length")
        stats = self.stats
        usable = c.valid & np.isfinite(t)
        stats.frames += t.shape[0]
        stats.malformed += int((~usable).sum())
        stats.ignored += int((usable & (c.kind == 0)).sum())
        sel = np.flatnonzero(usable & (c.kind > 0))
        sel = sel[np.argsort(t[sel], kind="stable")]
        kind, tc = c.kind[sel], c.tc[sel]
        selected = c.rows[sel]
        m = decode_rows(selected, t[sel], kind, self.reference)
        stats.rejected += int((~m.ok).sum())

        gnss = (tc >= 20) & (tc <= 22)
        rows = _Rows(
            t=t[sel],
            icao=m.icao24,
            kind=kind,
            tc=tc,
            carry=np.zeros(sel.shape[0], bool),
            lat=m.lat,
            lon=m.lon,
            alt_baro=np.where(gnss, np.nan, m.altitude),
            alt_geo=np.where(gnss, m.altitude, np.nan),
            gs=m.gs,
            track=m.track,
            vrate=m.vrate,
            gmb=m.gmb,
            nic_b=m.nic_b,
            nic_supp=m.nic_supp,
            version2=m.version2,
            nacp=m.nacp,
            callsign=m.callsign,
            squawk=m.squawk,
            frame=selected,
        )
        # Replies have no CRC of their own: the address is recovered from the parity, so a
        # corrupted reply yields a random address. Only trust addresses heard in ADS-B.
        reply = (tc < 0) & m.ok
        known = np.concatenate([self._carry.icao, m.icao24[m.ok & (tc >= 0)]])
        confirmed = ~reply | np.isin(m.icao24, known)
        stats.unconfirmed += int((~confirmed).sum())
        keep = m.ok & confirmed
        stats.used += int(keep.sum())
        stats.positions += int((keep & is_position(kind)).sum())
        stats.paired += int((keep & is_position(kind) & np.isfinite(m.lat)).sum())
        return rows.take(keep)

    def _resolve(self, w: _Rows, first: npt.NDArray[np.int64], last: npt.NDArray[np.int64]) -> None:
        """Decode, in place, the positions rs1090 could not pair, against a nearby reference."""
        pos = is_position(w.kind)
        have = pos & np.isfinite(w.lat)
        missing = np.flatnonzero(pos & ~have & ~w.carry)
        if missing.shape[0] == 0:
            return
        prev, nxt = ffill_index(have, first), bfill_index(have, last)
        limit = np.where(
            w.kind == SURFACE_POSITION, SURFACE_REFERENCE_MAX_AGE_S, AIR_REFERENCE_MAX_AGE_S
        )
        t, lat, lon = w.t, w.lat, w.lon
        chain: tuple[int, float, float, float] = (-1, -np.inf, np.nan, np.nan)
        for r in missing.tolist():
            p, q = int(prev[r]), int(nxt[r])
            ref_t, ref = (t[p], (lat[p], lon[p])) if p >= 0 else (-np.inf, None)
            if chain[0] == w.icao[r] and chain[1] >= ref_t:  # a position recovered just before
                ref_t, ref = chain[1], (chain[2], chain[3])
            if ref is None or t[r] - ref_t > limit[r]:
                ref = (lat[q], lon[q]) if q >= 0 and t[q] - t[r] <= limit[r] else self.reference
            if ref is None:
                continue
            frame = str(hex_rows(w.frame[r : r + 1])[0])
            got = decode_position(frame, (float(ref[0]), float(ref[1])))
            if got is not None:
                lat[r], lon[r] = got
                chain = (int(w.icao[r]), float(t[r]), got[0], got[1])
        unresolved = pos & ~w.carry & ~np.isfinite(lat)
        self.stats.recovered += int(missing.shape[0] - unresolved.sum())
        self.stats.unresolved += int(unresolved.sum())
        w.kind[unresolved] = POSITION_UNDECODED

    def _assemble(self, w: _Rows, first: npt.NDArray[np.int64]) -> StateVectors:
        """One state vector per position message, latest other fields carried forward."""
        t = w.t

        def latest(values: npt.NDArray[Any], valid: BOOL, missing: Any, age: float) -> Any:
            return carried(values, ffill_index(valid, first), missing, t, age)

        dyn, ident = self.max_age_s, self.identity_max_age_s
        surface = w.kind == SURFACE_POSITION
        alt_baro = latest(w.alt_baro, np.isfinite(w.alt_baro), np.nan, dyn)
        alt_baro[surface] = np.nan
        gmb = latest(w.gmb, np.isfinite(w.gmb), np.nan, dyn)
        alt_geo = np.where(np.isfinite(w.alt_geo), w.alt_geo, alt_baro + gmb)
        vrate = latest(w.vrate, np.isfinite(w.vrate), np.nan, dyn)
        vrate[surface] = np.nan
        status = np.isfinite(w.version2)
        nic = nic_from_typecode(
            w.tc,
            w.nic_b,
            latest(w.nic_supp, status, np.nan, ident),
            latest(w.version2, status, np.nan, ident),
        )
        columns: dict[str, Any] = {
            "t_s": t,
            "icao24": w.icao,
            "lat_deg": w.lat,
            "lon_deg": w.lon,
            "alt_baro_ft": alt_baro,
            "alt_geo_ft": alt_geo,
            "gs_kt": latest(w.gs, np.isfinite(w.gs), np.nan, dyn),
            "track_deg": latest(w.track, np.isfinite(w.track), np.nan, dyn),
            "vrate_fpm": vrate,
            "on_ground": surface,
            "callsign": latest(w.callsign, w.callsign.astype(bool), "", ident),
            "squawk": latest(w.squawk, _agreed_squawks(w, first), "", ident),
            "nic": nic,
            "nacp": latest(w.nacp, np.isfinite(w.nacp), np.nan, ident),
            "t_pos_s": t,
        }
        rows = np.flatnonzero(is_position(w.kind) & ~w.carry)
        rows = rows[np.argsort(t[rows], kind="stable")]
        self._position_rows = w.frame[rows]
        picked = {k: v[rows] for k, v in columns.items()}
        for name in ("callsign", "squawk"):  # str or "" only: as fixed-width text
            picked[name] = picked[name].astype(str)
        return StateVectors.build(len(rows), **picked)

    @property
    def _horizon(self) -> float:
        return max(self.identity_max_age_s, AIR_REFERENCE_MAX_AGE_S, self.max_age_s)

    def _keep(self, w: _Rows, newest: float) -> _Rows:
        """The last message of each kind per aircraft, for the next batch; old ones dropped."""
        if len(w.t) == 0:
            return w
        order = np.lexsort((w.t, w.kind, w.icao))
        icao, kind = w.icao[order], w.kind[order]
        is_last = np.ones(order.shape[0], bool)
        is_last[:-1] = (icao[1:] != icao[:-1]) | (kind[1:] != kind[:-1])
        kept = order[is_last]
        kept = kept[w.t[kept] >= newest - self._horizon]
        out = w.take(kept)
        out.carry[:] = True
        out.frame[:] = 0
        return out


def _agreed_squawks(w: _Rows, first: npt.NDArray[np.int64]) -> BOOL:
    """Squawk messages to believe: ADS-B ones (TC 28, CRC-checked with the address), and a
    DF5/DF21 reply only when the aircraft's previous squawk message gave the same code. A reply
    has no checksum of its own, so one corrupted bit makes a wrong code (a false 7700 among
    them) for one reply; two agreeing replies do not happen by chance."""
    has = w.squawk.astype(bool)
    before = np.full(has.shape[0], -1, np.int64)
    before[1:] = ffill_index(has, first)[:-1]
    before[before < first] = -1
    same: BOOL = (before >= 0) & (w.squawk[np.maximum(before, 0)] == w.squawk)
    return has & ((w.tc >= 0) | same)


def decode_frames(
    timestamps: npt.ArrayLike,
    frames: npt.ArrayLike,
    reference: tuple[float, float] | None = None,
) -> StateVectors:
    """Decode one self-contained batch of frames; see `FrameDecoder` for streams."""
    return FrameDecoder(reference).decode(timestamps, frames)
