"""Frames heard by several receivers, decoded once.

Analysts aggregate receivers whose coverage overlaps, so one transmission arrives two or three
times. Decoding is the expensive step, so copies are dropped before it: a frame whose exact
bytes were already seen within `window_s` (by arrival time) is a copy. Dropping a genuine
repeat (an unchanged velocity message a second later) loses nothing, since it carries nothing
new. Frames are compared by a 64-bit hash of their text, computed column-wise over the whole
batch; the window is kept as sorted arrays, so a batch costs a few numpy calls however many
receivers there are.

A copy still says which receiver heard the frame, and a receiver that cannot have heard the
position it claims counts against it. So the deduplicator also keeps, for `window_s`, the
position decoded from each kept frame (`remember_positions`), and `keep` sets `copies` to the
stored positions whose frame the batch repeated, for its feed to judge against its antenna.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyfence.arrays import F64, U64
from skyfence.schema import StateVectors

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def frame_hashes(frames: npt.NDArray[np.str_]) -> U64:
    """FNV-1a over the characters of each frame (hex text, any length up to 28)."""
    codes = np.ascontiguousarray(frames.astype("U28")).view(np.uint32).reshape(len(frames), 28)
    h = np.full(len(frames), _FNV_OFFSET, dtype=np.uint64)
    for column in codes.T.astype(np.uint64):  # 28 columns, not one step per frame
        h ^= column
        h *= _FNV_PRIME
    return h


@dataclass(slots=True)
class DedupStats:
    seen: int = 0
    duplicates: int = 0


class FrameDeduplicator:
    """Shared by the feeds of one watch: `keep` says which frames of a batch are first heard."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self.stats = DedupStats()
        self._hashes: U64 = np.empty(0, np.uint64)  # sorted
        self._last_t: F64 = np.empty(0, np.float64)  # arrival of each hash, same order
        self._pos_hashes: U64 = np.empty(0, np.uint64)  # frames decoded into positions
        self._positions = StateVectors.empty()  # their positions, same order
        self.copies = StateVectors.empty()  # positions the last `keep` heard copies of
        self.unheard = StateVectors.empty()  # copies a receiver cannot have heard (see watching)

    def keep(self, t: F64, frames: npt.NDArray[np.str_]) -> npt.NDArray[np.bool_]:
        n = len(frames)
        self.stats.seen += n
        if n == 0:
            return np.zeros(0, bool)
        h = frame_hashes(frames)
        # earlier batches: a copy if the same hash arrived less than window_s before
        at = np.searchsorted(self._hashes, h)
        found = at < len(self._hashes)
        found[found] = self._hashes[at[found]] == h[found]
        recent = np.zeros(n, bool)
        recent[found] = t[found] - self._last_t[at[found]] < self.window_s
        # within the batch: only the first arrival of each hash
        order = np.lexsort((t, h))
        first = np.ones(n, bool)
        same = h[order][1:] == h[order][:-1]
        close = np.diff(t[order]) < self.window_s
        first[order[1:][same & close]] = False
        keep = first & ~recent
        copied = np.isin(self._pos_hashes, h[recent])
        self.copies = self._positions.take(np.flatnonzero(copied))
        self.stats.duplicates += int(n - keep.sum())
        self._remember(h, t, float(t.max()))
        return keep

    def _remember(self, h: U64, t: F64, now: float) -> None:
        """Merge the batch into the window (latest arrival per hash), forgetting old ones."""
        hashes = np.concatenate([self._hashes, h])
        times = np.concatenate([self._last_t, t])
        order = np.lexsort((-times, hashes))  # per hash, latest first
        hashes, times = hashes[order], times[order]
        latest = np.append(True, hashes[1:] != hashes[:-1])
        fresh = latest & (times > now - self.window_s)
        self._hashes, self._last_t = hashes[fresh], times[fresh]

    def remember_positions(self, frames: npt.NDArray[np.str_], positions: StateVectors) -> None:
        """`positions[i]` was decoded from `frames[i]`; kept while copies may still arrive."""
        if len(positions) == 0:
            return
        hashes = np.concatenate([self._pos_hashes, frame_hashes(frames)])
        positions = StateVectors.concat([self._positions, positions])
        fresh = np.flatnonzero(positions.t_s > positions.t_s.max() - self.window_s)
        self._pos_hashes, self._positions = hashes[fresh], positions.take(fresh)
