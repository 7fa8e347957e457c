"""Frames heard by several receivers are decoded once: on the real frames of a whole flight."""

from __future__ import annotations

import gzip
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from skyfence.decoding.dedup import FrameDeduplicator, frame_hashes
from skyfence.decoding.frames import FrameDecoder


@pytest.fixture(scope="module")
def flight() -> tuple[np.ndarray, np.ndarray]:
    path = Path(str(files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"))
    with gzip.open(path, "rt") as lines:
        rows = [json.loads(line) for line in lines]
    return np.array([r["timestamp"] for r in rows]), np.array([r["frame"] for r in rows])


def test_hashes_tell_every_distinct_frame_apart(flight: tuple[np.ndarray, np.ndarray]) -> None:
    _, frames = flight
    assert len(np.unique(frame_hashes(frames))) == len(np.unique(frames))


def test_three_receivers_decode_like_one(flight: tuple[np.ndarray, np.ndarray]) -> None:
    t, frames = flight
    # three receivers hear every frame, 20-300 ms apart, delivered in one-second batches
    rng = np.random.default_rng(7)
    copies_t = np.concatenate([t, t + rng.uniform(0.02, 0.3, len(t)), t + 0.25])
    copies = np.concatenate([frames, frames, frames])
    order = np.argsort(copies_t, kind="stable")
    copies_t, copies = copies_t[order], copies[order]
    dedup = FrameDeduplicator(window_s=2.0)
    kept_t, kept = [], []
    for second in np.unique(np.floor(copies_t)):
        batch = np.floor(copies_t) == second
        keep = dedup.keep(copies_t[batch], copies[batch])
        kept_t.append(copies_t[batch][keep])
        kept.append(copies[batch][keep])
    kept_frames = np.concatenate(kept)
    # one of each transmission is left; genuine repeats (same bytes > 2 s apart) survive
    assert len(kept_frames) <= len(frames)
    assert dedup.stats.duplicates == len(copies) - len(kept_frames) >= 2 * len(frames)
    alone = FrameDecoder().decode(t, frames)
    merged = FrameDecoder().decode(np.concatenate(kept_t), kept_frames)
    assert positions(merged) == positions(alone)  # the same positions, each decoded once


def positions(sv: object) -> set[tuple[float, float]]:
    lat, lon = sv.lat_deg, sv.lon_deg  # type: ignore[attr-defined]
    ok = np.isfinite(lat)
    return set(zip(lat[ok].round(5).tolist(), lon[ok].round(5).tolist(), strict=True))


def test_a_repeat_after_the_window_is_kept() -> None:
    dedup = FrameDeduplicator(window_s=2.0)
    frame = np.array(["8d4ca7e358b98059e8a8ef3e2e68"])
    assert dedup.keep(np.array([0.0]), frame).tolist() == [True]
    assert dedup.keep(np.array([1.5]), frame).tolist() == [False]
    assert dedup.keep(np.array([3.6]), frame).tolist() == [True]  # 2.1 s after the last copy
    pair = np.array(["8d4ca7e358b98059e8a8ef3e2e68", "8d4ca7e358b98059e8a8ef3e2e68"])
    assert dedup.keep(np.array([10.0, 13.0]), pair).tolist() == [True, True]


def test_a_copy_names_the_position_decoded_from_its_frame(
    flight: tuple[np.ndarray, np.ndarray],
) -> None:
    """One receiver's 1.4 s of the real flight is decoded; another receiver's copies of it (all
    but one position's frame) half a second later name exactly the positions decoded from the
    copied frames, and copies arriving after the window name none."""
    t, frames = flight
    first = (t >= t[0] + 2000) & (t < t[0] + 2001.4)
    decoder = FrameDecoder()
    decoder.decode(t[t < t[0] + 2000], frames[t < t[0] + 2000])  # the aircraft's track so far
    dedup = FrameDeduplicator(window_s=2.0)
    dedup.keep(t[first], frames[first])
    decoded = decoder.decode(t[first], frames[first])
    dedup.remember_positions(decoder.position_frames, decoded)
    assert len(decoded) > 0 and len(decoder.position_frames) == len(decoded)
    late = t[first].max() + 0.5
    copied = frames[first][frames[first] != decoder.position_frames[0]]  # all but one position
    assert not dedup.keep(np.full(len(copied), late), copied).any()
    from_copied = np.isin(decoder.position_frames, copied)
    assert from_copied.any() and not from_copied.all()
    assert sorted(dedup.copies.t_s.tolist()) == sorted(decoded.t_s[from_copied].tolist())
    assert positions(dedup.copies) == positions(decoded.take(np.flatnonzero(from_copied)))
    dedup.keep(np.full(len(copied), late + 5.0), copied)
    assert len(dedup.copies) == 0
