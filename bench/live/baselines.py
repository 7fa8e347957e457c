"""What users would write instead: a per-message pyModeS loop, and pyModeS's PipeDecoder."""

from __future__ import annotations

import time
from typing import Any

from bench.live.workload import CDG, Frames

# -- the pyModeS baselines ----------------------------------------------------------------------


def pymodes_loop(frames: Frames, adsb_only: bool) -> tuple[float, int]:
    """What a hobbyist decoder does, frame by frame, with pyModeS 3: `util.df`, `util.icao`,
    `util.typecode`, then `Message.decode` for the ADS-B messages skyfence uses (TC 1-22, 28,
    29, 31; positions with a reference: the aircraft's last position, else the receiver's),
    and `util.altcode` / `util.idcode` for the DF4/20 and DF5/21 replies (not `decode`, whose
    Comm-B inference a hobbyist wanting altitude and squawk does not need).

    Returns frames/s and the positions decoded.
    """
    from pyModeS import Message, util

    last: dict[str, tuple[float, float]] = {}
    state: dict[str, dict[str, Any]] = {}
    positions = 0
    start = time.perf_counter()
    for hex_ in frames.hex.tolist():
        df = util.df(hex_)
        if df in (17, 18):
            icao, tc = util.icao(hex_), util.typecode(hex_)
            if icao is None or tc is None:
                continue
            if 5 <= tc <= 8:
                d = Message(hex_).decode(surface_ref=last.get(icao, CDG))
            elif 9 <= tc <= 18 or 20 <= tc <= 22:
                d = Message(hex_).decode(reference=last.get(icao, CDG))
            elif 1 <= tc <= 4 or tc in (19, 28, 29, 31):
                d = Message(hex_).decode()
            else:
                continue
            if "latitude" in d:
                last[icao] = (d["latitude"], d["longitude"])
                positions += 1
            state.setdefault(icao, {}).update(d)
        elif adsb_only:
            continue
        elif df in (4, 20):
            state.setdefault(util.icao(hex_) or "", {})["altitude"] = util.altcode(hex_)
        elif df in (5, 21):
            state.setdefault(util.icao(hex_) or "", {})["squawk"] = util.idcode(hex_)
    return len(frames) / (time.perf_counter() - start), positions


def pymodes_pipe(frames: Frames) -> tuple[float, int]:
    """pyModeS's own streaming decoder (even/odd pairing, local decoding), one call a frame."""
    import pyModeS

    pipe = pyModeS.PipeDecoder(surface_ref=CDG)
    positions = 0
    start = time.perf_counter()
    for hex_, t in zip(frames.hex.tolist(), frames.t.tolist(), strict=True):
        if "latitude" in pipe.decode(hex_, timestamp=t):
            positions += 1
    return len(frames) / (time.perf_counter() - start), positions
