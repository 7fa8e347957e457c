"""SBS BaseStation messages (port 30003): CSV lines of values a receiver has already decoded.

SBS lines are CSV with 22 fields and carry values a receiver has already decoded, one message
kind per line (transmission types 1-8: identification, surface and airborne position, velocity,
surveillance altitude and identity, air-to-air, all-call), so they become state vector rows
directly, without frames. The `SbsAssembler` turns those sparse rows into complete state vectors
the way `FrameDecoder` does for frames: one per position, with the aircraft's latest other
values carried forward.

Lines are parsed a block at once, as described in `skyfence.sources.lines`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from skyfence.arrays import BOOL, F64, I8
from skyfence.buffers import booleans
from skyfence.decoding.carry import carried, ffill_index, group_bounds
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, impossible_altitude, open_binary
from skyfence.sources.beast import block_bytes
from skyfence.sources.columns import as_float, as_squawk, as_text, icao24_of
from skyfence.sources.lines import (
    Lines,
    LineStats,
    as_utf8,
    block_label,
    count_malformed,
    numbered_blocks,
)

SBS_FIELDS = (
    "message",
    "transmission",
    "session",
    "aircraft",
    "hex_ident",
    "flight",
    "date_generated",
    "time_generated",
    "date_logged",
    "time_logged",
    "callsign",
    "altitude",
    "ground_speed",
    "track",
    "lat",
    "lon",
    "vertical_rate",
    "squawk",
    "alert",
    "emergency",
    "spi",
    "on_ground",
)
_OTHER_MESSAGES = ("SEL", "ID", "AIR", "STA", "CLK")  # session, aircraft and clock bookkeeping
_NUMBERS = {  # SBS field -> state vector column; units are already ft, kt, deg and ft/min
    "altitude": "alt_baro_ft",
    "ground_speed": "gs_kt",
    "track": "track_deg",
    "lat": "lat_deg",
    "lon": "lon_deg",
    "vertical_rate": "vrate_fpm",
}
SURFACE_POSITION, AIRBORNE_POSITION = 2, 3


@dataclass(frozen=True, slots=True)
class SbsMessages:
    """One row per usable MSG line, with the values that line carries; the others missing."""

    vectors: StateVectors  # on_ground is the line's flag, False where it has none
    msg_type: I8  # transmission type, 1-8
    ground_known: BOOL  # the line had an on-ground flag

    def __len__(self) -> int:
        return len(self.vectors)

    def take(self, index: npt.NDArray[Any]) -> SbsMessages:
        return SbsMessages(self.vectors.take(index), self.msg_type[index], self.ground_known[index])

    @staticmethod
    def concat(parts: list[SbsMessages]) -> SbsMessages:
        return SbsMessages(
            StateVectors.concat([p.vectors for p in parts]),
            np.concatenate([p.msg_type for p in parts]).astype(np.int8),
            np.concatenate([p.ground_known for p in parts]).astype(bool),
        )

    @staticmethod
    def empty() -> SbsMessages:
        return SbsMessages(StateVectors.empty(), np.zeros(0, np.int8), np.zeros(0, bool))


_SBS_TEXT = {name: pa.string() for name in SBS_FIELDS}
_SBS_USED = [
    name
    for name in SBS_FIELDS
    if name not in ("session", "aircraft", "flight", "alert", "emergency", "spi")
]
_SBS_TYPED = _SBS_TEXT | {name: pa.float64() for name in ("transmission", *_NUMBERS, "on_ground")}


def _sbs_table(data: bytes, rejected: list[str]) -> pa.Table:
    """The 22-field lines as a table; the text of the others goes to `rejected`.

    Arrow's CSV reader converts the numbers as it reads, which is the fast path; one value that
    is not a number fails the whole block, which is then read as text and checked value by
    value (`as_float`), so that only the lines at fault are dropped.
    """

    def reject(row: pacsv.InvalidRow) -> str:
        rejected.append(row.text)
        return "skip"

    def read(types: dict[str, pa.DataType]) -> pa.Table:
        rejected.clear()
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=list(SBS_FIELDS)),
            parse_options=pacsv.ParseOptions(quote_char=False, invalid_row_handler=reject),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
        )

    try:
        return read(_SBS_TYPED)
    except pa.ArrowInvalid as exc:
        if "Empty CSV" in str(exc):  # nothing but blank lines
            rejected.clear()
            return pa.table({name: pa.array([], pa.string()) for name in SBS_FIELDS})
    return read(_SBS_TEXT)


def _line_indices(data: bytes) -> tuple[npt.NDArray[np.int64], BOOL]:
    """Each non-empty line's index in `data` (from 0), and whether it has SBS's 22 fields.
    Arrow's rows are the non-empty lines of 22 fields, in order (quotes are not interpreted),
    and the lines it rejects are the other non-empty ones: so each row knows its line."""
    raw = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    commas = np.bincount(
        np.searchsorted(ends, np.flatnonzero(raw == ord(","))), minlength=len(starts)
    )
    lines = np.flatnonzero(np.append(ends, len(raw)) > starts).astype(np.int64)
    return lines, commas[lines] == len(SBS_FIELDS) - 1


def parse_sbs(lines: Lines, *, utc_offset_s: float = 0.0) -> tuple[SbsMessages, LineStats]:
    """Rows from SBS lines; unusable lines are counted in the stats by reason, with their
    index among the lines given (`LineStats.numbers`).

    SBS times have no time zone, and dump1090 writes the receiver's local time: `utc_offset_s`
    is the offset of that time from UTC (3600 for UTC+1), 0 when the feed writes UTC. The time
    the message was generated is used, or the time it was logged when that is missing.
    """
    rejected: list[str] = []
    data = as_utf8(lines).replace(b"\r", b"")  # CRLF feeds: lines are counted by LF
    table = _sbs_table(data, rejected)
    nonempty, whole = _line_indices(data)
    rows_at: npt.NDArray[np.int64] | None = None  # unknown (never seen): the block is named
    rejected_at: list[int | None] = [None] * len(rejected)
    if len(nonempty) - int(whole.sum()) == len(rejected) and int(whole.sum()) == table.num_rows:
        rows_at, rejected_at = nonempty[whole], list(nonempty[~whole].tolist())
    kind = pc.utf8_trim_whitespace(table.column("message"))
    is_msg = booleans(pc.equal(kind, "MSG"))
    other = booleans(pc.is_in(kind, pa.array(_OTHER_MESSAGES)))
    stats = LineStats(lines=table.num_rows, ignored=int(other.sum()))
    not_sbs = "not an SBS line (MSG, SEL, ID, AIR, STA, CLK)"
    count_malformed(stats, ~is_msg & ~other, not_sbs, rows_at)
    for line, at in zip(rejected, rejected_at, strict=True):  # lines without 22 fields: few
        first = line.split(",", 1)[0].strip()  # in a feed (AIR, ID, STA, CLK)
        if not line.strip():
            continue
        stats.lines += 1
        if first in _OTHER_MESSAGES:
            stats.ignored += 1
        else:
            reason = "SBS MSG line without exactly 22 fields" if first == "MSG" else not_sbs
            stats.malformed[reason] += 1
            if at is not None:
                stats.numbers.setdefault(reason, []).append(at)

    msg = table.select(_SBS_USED).filter(pa.array(is_msg))
    msg_at = None if rows_at is None else rows_at[is_msg]
    col = {name: msg.column(name).combine_chunks() for name in _SBS_USED}
    bad = np.zeros(msg.num_rows, bool)

    def check(rows: BOOL, reason: str) -> None:
        nonlocal bad
        # each line counted once, for its first problem
        count_malformed(stats, rows & ~bad, reason, msg_at)
        bad |= rows

    msg_type, bad_type = as_float(col["transmission"])
    check(bad_type | ~np.isin(msg_type, np.arange(1, 9)), "SBS transmission type not 1-8")
    icao = icao24_of(col["hex_ident"])
    check(icao == 0, "SBS hex ident not a 24-bit address")
    t = _sbs_seconds(col["date_generated"], col["time_generated"])
    if not np.isfinite(t).all():
        logged = pa.array(~np.isfinite(t))
        t[~np.isfinite(t)] = _sbs_seconds(
            col["date_logged"].filter(logged), col["time_logged"].filter(logged)
        )
    check(~np.isfinite(t), "SBS date/time missing or not YYYY/MM/DD HH:MM:SS")
    numbers: dict[str, F64] = {}
    for name, column in _NUMBERS.items():
        numbers[column], bad_number = as_float(col[name])
        check(bad_number, f"SBS {name.replace('_', ' ')} not a number")
    ground, bad_ground = as_float(col["on_ground"])
    check(bad_ground, "SBS on-ground flag not a number")
    out_of_range = (np.abs(numbers["lat_deg"]) > 90) | (np.abs(numbers["lon_deg"]) > 180)
    check(out_of_range, "SBS position out of range")
    check(impossible_altitude(numbers["alt_baro_ft"]), "SBS altitude out of range")

    ok = ~bad
    stats.used = int(ok.sum())
    columns = {k: v[ok] for k, v in numbers.items()}
    vectors = StateVectors.build(
        stats.used,
        t_s=t[ok] - utc_offset_s,
        icao24=icao[ok],
        callsign=as_text(col["callsign"])[ok],
        squawk=as_squawk(col["squawk"])[ok],
        **columns,
    )
    # Set after `build`, which would look at each boolean for a None. dump1090 writes -1 for true.
    vectors = replace(vectors, on_ground=np.isfinite(ground[ok]) & (ground[ok] != 0))
    return SbsMessages(vectors, msg_type[ok].astype(np.int8), np.isfinite(ground[ok])), stats


_TIME = r"^(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d*)?)$"


def _sbs_seconds(date: pa.Array, time: pa.Array) -> F64:
    """UNIX seconds of SBS "YYYY/MM/DD" and "HH:MM:SS.fff" fields, NaN where unusable.
    (Arrow's strptime has no fractional seconds, so the time of day is computed here.)"""
    day = pc.strptime(
        pc.utf8_trim_whitespace(date), format="%Y/%m/%d", unit="s", error_is_null=True
    )
    day_s = np.asarray(pc.cast(day, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    parts = pc.extract_regex(pc.utf8_trim_whitespace(time), _TIME)
    valid = np.asarray(parts.is_valid())
    h, m, s = (
        np.asarray(pc.cast(pc.if_else(parts.is_valid(), parts.field(k), "0"), pa.float64()))
        for k in ("h", "m", "s")
    )
    valid &= (h < 24) & (m < 60) & (s < 61)
    return np.where(valid, day_s + h * 3600 + m * 60 + s, np.nan)


class SbsAssembler:
    """SBS rows -> state vectors: one per position line, other values carried forward.

    An SBS feed sends each kind of value on its own line (velocity on MSG,4, callsign on
    MSG,1...), so a position line alone lacks the speed and identity a monitor needs. As in
    `FrameDecoder`, each position gets the aircraft's latest value of every other field, no
    older than `max_age_s` (kinematics) or `identity_max_age_s` (callsign, squawk), and the
    latest values are kept between calls so a feed assembled block by block gives the same
    state vectors as assembled at once. That assumes lines in time order, as a receiver writes
    them: values older than the newest line by more than both age limits are forgotten.
    """

    def __init__(self, *, max_age_s: float = 60.0, identity_max_age_s: float = 600.0) -> None:
        self.max_age_s = max_age_s
        self.identity_max_age_s = identity_max_age_s
        self._carry = SbsMessages.empty()

    def assemble(self, messages: SbsMessages) -> StateVectors:
        work = SbsMessages.concat([self._carry, messages])
        carry = np.arange(len(work)) < len(self._carry)
        order = np.lexsort((~carry, work.vectors.t_s, work.vectors.icao24))
        work, carry = work.take(order), carry[order]
        sv, kind = work.vectors, work.msg_type
        first, last = group_bounds(sv.icao24)
        dyn, ident = self.max_age_s, self.identity_max_age_s
        sources: dict[str, tuple[npt.NDArray[Any], BOOL, Any, float]] = {
            "alt_baro_ft": (sv.alt_baro_ft, np.isfinite(sv.alt_baro_ft), np.nan, dyn),
            "gs_kt": (sv.gs_kt, np.isfinite(sv.gs_kt), np.nan, dyn),
            "track_deg": (sv.track_deg, np.isfinite(sv.track_deg), np.nan, dyn),
            "vrate_fpm": (sv.vrate_fpm, np.isfinite(sv.vrate_fpm), np.nan, dyn),
            "callsign": (sv.callsign, sv.callsign != "", "", ident),
            "squawk": (sv.squawk, sv.squawk != "", "", ident),
        }
        latest: dict[str, npt.NDArray[Any]] = {}
        keep = np.zeros(len(sv), bool)
        for name, (values, valid, missing, age) in sources.items():
            idx = ffill_index(valid, first)
            latest[name] = carried(values, idx, missing, sv.t_s, age)
            tail = idx[last]
            keep[tail[tail >= 0]] = True  # the latest value of each aircraft, for next time
        surface = kind == SURFACE_POSITION
        latest["alt_baro_ft"][surface] = np.nan  # as FrameDecoder: no pressure altitude taxiing
        latest["vrate_fpm"][surface] = np.nan
        position = (
            ((kind == SURFACE_POSITION) | (kind == AIRBORNE_POSITION))
            & np.isfinite(sv.lat_deg)
            & np.isfinite(sv.lon_deg)
            & ~carry
        )
        rows = np.flatnonzero(position)
        rows = rows[np.argsort(sv.t_s[rows], kind="stable")]
        horizon = max(dyn, ident)
        if len(sv):
            keep &= sv.t_s >= np.max(sv.t_s) - horizon
        self._carry = work.take(keep)
        return StateVectors.build(
            len(rows),
            t_s=sv.t_s[rows],
            icao24=sv.icao24[rows],
            lat_deg=sv.lat_deg[rows],
            lon_deg=sv.lon_deg[rows],
            on_ground=(surface | sv.on_ground)[rows],
            t_pos_s=sv.t_s[rows],
            **{name: values[rows] for name, values in latest.items()},
        )


def read_sbs_file(
    path: Path,
    batch_rows: int,
    stats: ReadStats,
    *,
    utc_offset_s: float = 0.0,
) -> Iterator[StateVectors]:
    """State vectors from a file of SBS BaseStation lines (optionally gzipped), assembled by
    `SbsAssembler`. See `parse_sbs` for `utc_offset_s`."""
    assembler = SbsAssembler()
    with open_binary(path) as stream:
        for block, first_line in numbered_blocks(stream, block_bytes(batch_rows) * 4):
            messages, line_stats = parse_sbs(block, utc_offset_s=utc_offset_s)  # ~90 B a line
            line_stats.report(stats, block_label(block, first_line), first_line)
            for first in range(0, len(messages), batch_rows):
                part = np.arange(first, min(first + batch_rows, len(messages)))
                sv = assembler.assemble(messages.take(part))
                stats.rows_yielded += len(sv)
                if len(sv):
                    yield sv
