"""The vectorised path gives rs1090's numbers, frame for frame, on every real recording.

Each recording's frames are decoded twice, in the same batches: by rs1090's batch call
(`decode_batch`, which the decoder used for every frame before) and by `decode_rows`; every
field of every frame must be equal (NaN where NaN), including positions, altitudes, ground
speeds, tracks, squawks and addresses. Batches of 37 frames cut CPR pairs and surface chains
everywhere; the fleet (the flight under several addresses, overlapping in time) and the copy of
the flight 10 minutes later under the same address make rs1090 refuse positions (too fast, too
far), which is the sequential part of its algorithm.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from skyfence.decoding.classify import classify, hex_rows
from skyfence.decoding.fast import decode_rows
from skyfence.decoding.frames import FrameDecoder
from skyfence.decoding.messages import Messages, decode_batch
from skyfence.decoding.tables import GroundVelocities, crc24, with_parity
from skyfence.sources.beast import BeastParser

F64 = npt.NDArray[np.float64]
STR = npt.NDArray[np.str_]
CDG = (49.0097, 2.5479)
SAMPLES = Path(__file__).resolve().parents[2] / "skyfence" / "samples"


def _jsonl(lines: list[str]) -> tuple[F64, STR]:
    rows = [json.loads(line) for line in lines if line.strip()]
    return np.array([r["timestamp"] for r in rows]), np.array([r["frame"] for r in rows], "U28")


def flight(samples: Path) -> tuple[F64, STR]:
    return _jsonl((samples / "rs1090" / "full_flight_short.jsonl").read_text().splitlines())


def afr() -> tuple[F64, STR]:
    with gzip.open(SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz", "rt") as f:
        return _jsonl(f.read().splitlines())


def beast(samples: Path) -> tuple[F64, STR]:
    found = BeastParser().feed((samples / "dump1090" / "sample_dump1090.bin").read_bytes())
    t = (found.mlat_ticks - found.mlat_ticks[0]).astype(np.float64) / 12e6
    return t, found.frame[found.msg_type != 1].astype("U28")


def readdressed(frames: STR, delta: int) -> STR:
    """The frames as sent by address ^ `delta`: DF17 carry it in clear (parity recomputed),
    the replies overlaid on their parity (xor)."""
    c = classify(frames)
    rows = c.rows.copy()
    df = rows[:, 0] >> 3
    es = c.valid & (df == 17)
    for i, shift in enumerate((16, 8, 0)):
        rows[es, 1 + i] ^= (delta >> shift) & 0xFF
    rows[es] = with_parity(rows[es], 14)
    for size, which in ((7, c.valid & np.isin(df, (4, 5))), (14, c.valid & np.isin(df, (20, 21)))):
        for i, shift in enumerate((16, 8, 0)):
            rows[which, size - 3 + i] ^= (delta >> shift) & 0xFF
    keep = es | (c.valid & np.isin(df, (4, 5, 20, 21)))
    return np.where(keep, hex_rows(rows), "").astype("U28")


def recordings(samples: Path) -> dict[str, tuple[F64, STR]]:
    t, frames = flight(samples)
    fleet_t = np.concatenate([t + 97.0 * k for k in range(6)])
    fleet = np.concatenate([frames] + [readdressed(frames, k) for k in range(1, 6)])
    return {
        "flight": (t, frames),
        "beast sample": beast(samples),
        "afr sample": afr(),
        "fleet of 6": (fleet_t, fleet),
        "flight + itself 10 min later": (np.concatenate([t, t + 600.0]), np.tile(frames, 2)),
    }


def _same(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> npt.NDArray[np.bool_]:
    if a.dtype.kind == "f":
        return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)))
    if a.dtype == object:
        return np.array([x == y for x, y in zip(a.tolist(), b.tolist(), strict=True)], bool)
    return np.asarray(a == b)


@pytest.mark.parametrize(
    ("names", "batch"),
    [
        (("flight", "beast sample", "afr sample"), 37),
        (("flight", "fleet of 6", "flight + itself 10 min later"), 5_000),
        (("flight", "beast sample", "afr sample", "fleet of 6"), 1_000_000),
    ],
)
def test_fields_equal_rs1090_on_every_recording(
    samples: Path, names: tuple[str, ...], batch: int
) -> None:
    every = recordings(samples)
    for name in names:
        t, frames = every[name]
        c = classify(frames, replies="all")
        sel = np.flatnonzero(c.valid & (c.kind > 0))
        sel = sel[np.argsort(t[sel], kind="stable")]
        positions = 0
        for first in range(0, sel.shape[0], batch):
            s = sel[first : first + batch]
            want = decode_batch(c.frames[s].tolist(), t[s].tolist(), c.kind[s], CDG)
            got = decode_rows(c.rows[s], t[s], c.kind[s], CDG)
            for field in Messages.__slots__:
                a, b = getattr(want, field), getattr(got, field)
                wrong = np.flatnonzero(~_same(a, b))
                assert wrong.shape[0] == 0, (
                    f"{name}, batch {first // batch}: {field} differs on {wrong.shape[0]} frames, "
                    f"first {c.frames[s][wrong[0]]}: rs1090 {a[wrong[0]]!r}, fast {b[wrong[0]]!r}"
                )
            positions += int(np.isfinite(got.lat).sum())
        assert positions > 0 or name == "beast sample", name


def test_replies_give_their_address_through_the_crc(samples: Path) -> None:
    _, frames = flight(samples)
    c = classify(frames)
    df = c.rows[:, 0] >> 3
    long_es = c.valid & (df == 17)
    assert (crc24(c.rows[long_es], 14) == 0).all()
    short = c.valid & (df == 4)
    assert set(crc24(c.rows[short], 7).tolist()) == {0x393322}


def test_ground_velocities_stay_right_when_the_cache_is_full() -> None:
    keys = np.array([5, 9, 1 << 21, 5, 77, 9], np.uint32)
    small, big = GroundVelocities(max_pairs=2), GroundVelocities()
    for k in (keys[:3], keys[3:], keys):
        gs_small, track_small = small.lookup(k)
        gs_big, track_big = big.lookup(k)
        assert np.array_equal(gs_small, gs_big, equal_nan=True)
        assert np.array_equal(track_small, track_big, equal_nan=True)
    assert np.isfinite(gs_big).all()


def test_a_batch_touches_only_its_own_aircraft(samples: Path) -> None:
    """Batches join only the carried state of their own aircraft: two aircraft decoded
    together, batch by batch, give each the state vectors it gets decoded alone in the same
    time slices."""
    t, frames = flight(samples)
    other = readdressed(frames, 0x5A5A5)
    both_t = np.concatenate([t, t + 97.0])
    both = np.concatenate([frames, other])
    order = np.argsort(both_t, kind="stable")
    both_t, both = both_t[order], both[order]
    edges = np.linspace(both_t[0], both_t[-1] + 1, 40)

    def by_slices(tt: F64, ff: STR) -> dict[int, list[tuple[float, float, float]]]:
        decoder = FrameDecoder(CDG, replies="all")
        out: dict[int, list[tuple[float, float, float]]] = {}
        for lo, hi in itertools.pairwise(edges):
            part = (tt >= lo) & (tt < hi)
            sv = decoder.decode(tt[part], ff[part])
            for a, b, c, d in zip(sv.icao24, sv.t_s, sv.lat_deg, sv.alt_baro_ft, strict=True):
                out.setdefault(int(a), []).append((float(b), float(c), float(d)))
        return out

    together = by_slices(both_t, both)
    alone = by_slices(t, frames) | by_slices(t + 97.0, other)
    assert together.keys() == alone.keys() and len(together) == 2
    for address, rows in together.items():
        assert np.array_equal(np.array(rows), np.array(alone[address]), equal_nan=True)


@pytest.mark.parametrize("reference", [CDG, None])
def test_random_fields_equal_rs1090(reference: tuple[float, float] | None) -> None:
    """Every value of every field, not only those real aircraft send: random DF17 position,
    velocity and identification messages (parity valid; callsigns with any character code,
    spaces and codes outside the charset among them) of three addresses, and random DF4/5/20/21
    replies. rs1090 refuses some (an altitude code no altimeter sends, a reserved movement code): so
    must the vectorised path, and such a frame takes no part in the CPR pairing."""
    rng = np.random.default_rng(17)
    n = 6000
    rows = rng.integers(0, 256, (n, 14), dtype=np.uint8)
    rows[:, 0] = (17 << 3) | 5
    rows[:, 1:4] = rng.integers(0, 2, (n, 3))
    tc = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 18, 19, 20, 22], n)
    rows[:, 4] = (tc << 3) | np.where(tc == 19, 1, rows[:, 4] & 7)
    rows = with_parity(rows, 14)
    replies = rng.integers(0, 256, (n // 4, 14), dtype=np.uint8)
    replies[:, 0] = rng.choice([4 << 3, 5 << 3, 20 << 3, 21 << 3], n // 4)
    replies[replies[:, 0] < 16 << 3, 7:] = 0
    frames = hex_rows(np.concatenate([rows, replies]))
    t = rng.uniform(0.0, 600.0, frames.shape[0])
    c = classify(frames)
    sel = np.flatnonzero(c.kind > 0)
    sel = sel[np.argsort(t[sel], kind="stable")]
    for first in range(0, sel.shape[0], 700):
        s = sel[first : first + 700]
        want = decode_batch(c.frames[s].tolist(), t[s].tolist(), c.kind[s], reference)
        got = decode_rows(c.rows[s], t[s], c.kind[s], reference)
        assert 0 < int(want.ok.sum()) < s.shape[0]
        for field in Messages.__slots__:
            a, b = getattr(want, field), getattr(got, field)
            assert _same(a, b).all(), field
