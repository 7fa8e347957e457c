"""Frame decoding checked against traffic's own, independent decoding of the same flight.

`full_flight_short.jsonl` (traffic's rs1090 sample) stores, next to each raw frame, the fields
traffic decoded, including latitude/longitude for every position message (it decoded them with
a reference). Our decoder only sees `timestamp` and `frame`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pyModeS.util import crc

from skyfence.decoding.classify import classify
from skyfence.decoding.frames import DecodeStats, FrameDecoder, decode_frames
from skyfence.decoding.messages import decode_batch
from skyfence.schema import StateVectors

_spec = importlib.util.find_spec("traffic")
assert _spec is not None and _spec.origin is not None
FRAMES = Path(_spec.origin).parent / "data" / "samples" / "rs1090" / "full_flight_short.jsonl"
CDG = (49.0097, 2.5479)  # the receiver is near Paris-CDG, where the flight starts
EARTH_RADIUS_M = 6_371_000.0


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FRAMES.read_text().splitlines()]


@pytest.fixture(scope="module")
def t(rows: list[dict[str, Any]]) -> npt.NDArray[np.float64]:
    return np.array([r["timestamp"] for r in rows])


@pytest.fixture(scope="module")
def frames(rows: list[dict[str, Any]]) -> npt.NDArray[np.object_]:
    return np.array([r["frame"] for r in rows], dtype=object)


@pytest.fixture(scope="module")
def decoded(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_]
) -> tuple[StateVectors, DecodeStats]:
    decoder = FrameDecoder()
    sv = decoder.decode(t, frames)
    print(f"\ndecode throughput: {decoder.stats.frames_per_second:,.0f} frames/s")
    return sv, decoder.stats


def traffic_positions(rows: list[dict[str, Any]]) -> dict[float, tuple[float, float]]:
    """traffic's position per timestamp (43 frames are in the file twice, same time and frame)."""
    return {r["timestamp"]: (r["latitude"], r["longitude"]) for r in rows if "latitude" in r}


def count_positions(rows: list[dict[str, Any]], bds: str) -> int:
    return sum(1 for r in rows if "latitude" in r and r["bds"] == bds)


def distance_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> npt.NDArray[np.float64]:
    p1, p2, dlon = np.radians(lat1), np.radians(lat2), np.radians(np.asarray(lon2) - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)), dtype=np.float64)


def compare(sv: StateVectors, rows: list[dict[str, Any]]) -> npt.NDArray[np.float64]:
    ref = traffic_positions(rows)
    assert all(t in ref for t in sv.t_s.tolist())
    lat = np.array([ref[t][0] for t in sv.t_s.tolist()])
    lon = np.array([ref[t][1] for t in sv.t_s.tolist()])
    return distance_m(sv.lat_deg, sv.lon_deg, lat, lon)


def test_airborne_positions_match_traffic(
    decoded: tuple[StateVectors, DecodeStats], rows: list[dict[str, Any]]
) -> None:
    sv, stats = decoded
    theirs = count_positions(rows, "05")
    ours = int((~sv.on_ground).sum())
    assert theirs == 6457
    assert abs(ours - theirs) <= 0.002 * theirs
    assert compare(sv, rows).max() < 5.0
    # rs1090's time-paired batch decoding leaves some airborne positions: they are recovered
    assert stats.paired < stats.positions
    assert stats.recovered > 0


def test_with_receiver_reference_all_positions_match(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_], rows: list[dict[str, Any]]
) -> None:
    sv = decode_frames(t, frames, reference=CDG)
    assert len(sv) == count_positions(rows, "05") + count_positions(rows, "06") == 8324
    assert compare(sv, rows).max() < 5.0
    assert sv.on_ground.sum() == count_positions(rows, "06")


def test_state_fields_are_carried_forward(
    decoded: tuple[StateVectors, DecodeStats], rows: list[dict[str, Any]]
) -> None:
    sv, _ = decoded
    air = ~sv.on_ground
    own_altitude = {r["timestamp"]: r["altitude"] for r in rows if r.get("bds") == "05"}
    expected = np.array([own_altitude[x] for x in sv.t_s[air].tolist()], dtype=np.float64)
    assert np.array_equal(sv.alt_baro_ft[air], expected)
    assert np.all(np.isnan(sv.alt_baro_ft[sv.on_ground]))
    assert np.isfinite(sv.gs_kt[air]).mean() > 0.99
    assert np.isfinite(sv.vrate_fpm[air]).mean() > 0.99
    assert np.nanmax(sv.gs_kt) < 600
    assert set(sv.callsign[air].tolist()) == {"AFR34ZG"}
    assert (sv.squawk[air] != "").all()
    assert np.all(sv.t_pos_s == sv.t_s)
    assert np.all(np.diff(sv.t_s) >= 0)
    # TC 11 with NICb 0 -> NIC 8; TC 8 on the ground depends on NICc, not decoded: unknown (-1)
    assert set(np.unique(sv.nic).tolist()) <= {-1, 7, 8}


def test_batches_give_the_same_result_as_one_call(
    decoded: tuple[StateVectors, DecodeStats],
    t: npt.NDArray[np.float64],
    frames: npt.NDArray[np.object_],
) -> None:
    whole, _ = decoded
    decoder = FrameDecoder()
    parts = [decoder.decode(t[i : i + 2500], frames[i : i + 2500]) for i in range(0, len(t), 2500)]
    sv = StateVectors.concat(parts)
    assert len(sv) == len(whole)
    assert np.allclose(sv.lat_deg, whole.lat_deg)
    assert np.array_equal(sv.callsign, whole.callsign)
    assert np.array_equal(sv.alt_baro_ft, whole.alt_baro_ft, equal_nan=True)


def test_bytes_decode_as_their_hex(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_]
) -> None:
    """A Beast feed's frames reach the decoder as the bytes they came as (`decode_bytes`): the
    same state vectors and the same counts as their hex, batch by batch, wrongly sized frames
    included (a DF17 sent as a short message, a Mode A/C reply, nothing)."""
    text = frames.astype(str)
    odd = text[np.flatnonzero(np.char.startswith(text, "8d"))[:3]]
    text = np.concatenate([text, [odd[0][:14], odd[1][:4], ""]])
    times = np.concatenate([t, t[[100, 200, 300]]])
    order = np.argsort(times, kind="stable")
    text, times = text[order], times[order]
    payload = np.zeros((text.shape[0], 14), np.uint8)
    size = np.zeros(text.shape[0], np.int64)
    for i, frame in enumerate(text.tolist()):
        raw = bytes.fromhex(frame)
        payload[i, : len(raw)] = np.frombuffer(raw, np.uint8)
        size[i] = len(raw)
    as_hex, as_bytes = FrameDecoder(CDG, replies="all"), FrameDecoder(CDG, replies="all")
    for first in range(0, text.shape[0], 5_000):
        part = slice(first, first + 5_000)
        want = as_hex.decode(times[part], text[part])
        got = as_bytes.decode_bytes(times[part], payload[part], size[part])
        for name in StateVectors.__slots__:
            assert np.array_equal(
                getattr(got, name),
                getattr(want, name),
                equal_nan=name.endswith(("_s", "_deg", "_ft", "_kt", "_fpm")),
            ), name
        assert np.array_equal(as_bytes.position_frames, as_hex.position_frames)
    assert as_bytes.stats.malformed == as_hex.stats.malformed == 3
    assert (as_bytes.stats.used, as_bytes.stats.positions) == (
        as_hex.stats.used,
        as_hex.stats.positions,
    )


def test_replies_option_does_not_change_positions(
    decoded: tuple[StateVectors, DecodeStats],
    t: npt.NDArray[np.float64],
    frames: npt.NDArray[np.object_],
) -> None:
    whole, _ = decoded
    for replies in ("short", "none"):
        decoder = FrameDecoder(replies=replies)
        sv = decoder.decode(t, frames)
        assert np.array_equal(sv.lat_deg, whole.lat_deg)
        print(f"replies={replies}: {decoder.stats.frames_per_second:,.0f} frames/s")


def test_malformed_and_corrupt_frames_are_counted(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_]
) -> None:
    sl = slice(20_000, 24_000)
    good = FrameDecoder().decode(t[sl], frames[sl])
    bad_frames = ["zz393322580940aa0a8e4d4f6250", "", "8d39", None, "8d" * 15, "8d3933225809é0"]
    corrupt = frames[sl][np.flatnonzero(np.char.startswith(frames[sl].astype(str), "8d"))[0]]
    corrupt = corrupt[:-1] + ("0" if corrupt[-1] != "0" else "1")  # one bit error in the CRC
    all_frames = np.concatenate([frames[sl], np.array([*bad_frames, corrupt], dtype=object)])
    all_t = np.concatenate([t[sl], np.full(len(bad_frames) + 1, t[sl][100])])
    decoder = FrameDecoder()
    sv = decoder.decode(all_t, all_frames)
    assert decoder.stats.malformed == len(bad_frames)
    assert decoder.stats.rejected == 1
    assert np.array_equal(sv.lat_deg, good.lat_deg)
    with pytest.raises(ValueError, match="same length"):
        decoder.decode(t[:3], frames[:2])


def test_reply_with_corrupted_address_is_not_trusted(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_]
) -> None:
    # DF4 replies carry the address only through their parity: a bit error makes a new one
    df4 = next(f for f in frames.tolist() if int(f[:2], 16) >> 3 == 4)
    flipped = df4[:6] + f"{int(df4[6], 16) ^ 1:x}" + df4[7:]
    decoder = FrameDecoder()
    decoder.decode(t[20_000:21_000], frames[20_000:21_000])
    decoder.decode(np.array([t[21_000]]), np.array([flipped], dtype=object))
    assert decoder.stats.unconfirmed == 1


def _forge(df17_head: str, me_bits: str) -> str:
    """A valid DF17 frame: ICAO header + ME bits, with the CRC computed by pyModeS."""
    body = df17_head + f"{int(me_bits, 2):014x}"
    return body + f"{crc(body + '000000'):06x}"


@pytest.mark.parametrize(
    ("version_bits", "supplement", "nacp", "expected_nic"),
    [("010", "1", "1010", 8), ("001", "1", "1001", 9), ("001", "0", "1000", 8)],
)
def test_operational_status_sets_nacp_and_nic_supplement(
    t: npt.NDArray[np.float64],
    frames: npt.NDArray[np.object_],
    version_bits: str,
    supplement: str,
    nacp: str,
    expected_nic: int,
) -> None:
    # TC 31 airborne status: version 2 uses NICa with the position's NICb (0 here, so TC 11
    # stays NIC 8); version 1 has a single NIC supplement bit (set: TC 11 becomes NIC 9).
    me = "11111000" + "0000000000100000" + "0" * 16 + version_bits + supplement + nacp + "10111000"
    status = _forge("8d393322", me)
    sl = slice(20_000, 24_000)
    all_frames = np.concatenate([np.array([status], dtype=object), frames[sl]])
    all_t = np.concatenate([[t[sl][0] - 1], t[sl]])
    sv = FrameDecoder().decode(all_t, all_frames)
    assert len(sv) > 100
    assert np.all(sv.nacp == int(nacp, 2))
    tc11 = sv.nic != 7  # the few TC 12 positions are NIC 7 whatever the supplement
    assert tc11.sum() > 100
    assert np.all(sv.nic[tc11] == expected_nic)


def test_empty_input() -> None:
    sv = decode_frames(np.zeros(0), np.zeros(0, dtype=object))
    assert len(sv) == 0


def test_a_frame_rs1090_cannot_parse_costs_only_that_frame(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_]
) -> None:
    # rs1090's batch call panics on invalid hex; classify() filters it, but if one got through
    # the batch is decoded frame by frame instead of being lost
    good = [f for f in frames[20_000:20_200].tolist() if f.startswith("8d")][:20]
    batch = [*good[:10], "zz" * 14, *good[10:]]
    times = t[20_000 : 20_000 + len(batch)].tolist()
    kinds = classify(np.array(batch, dtype=object)).kind
    m = decode_batch(batch, times, kinds)
    assert not m.ok[10]
    assert m.ok.sum() == len(good)


def test_a_reply_code_is_believed_once_a_second_reply_agrees(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_]
) -> None:
    """DF5 replies have no checksum of their own (a bit error gives a wrong code): two of the
    flight's replies re-encoded to 7700, then back to its real 1000. Each change shows from the
    second reply that says it."""
    from fakes import identity_reply

    replies = np.flatnonzero([int(f[:2], 16) >> 3 == 5 for f in frames.tolist()])
    changed = frames.copy()
    for k in (300, 301):
        changed[replies[k]] = identity_reply(frames[replies[k]], "7700")
    sv = decode_frames(t, changed)

    def codes(after: int, before: int) -> set[str]:
        return set(sv.squawk[(sv.t_s > t[replies[after]]) & (sv.t_s < t[replies[before]])])

    assert codes(299, 301) == {"1000"}
    assert codes(301, 303) == {"7700"}
    assert codes(303, 305) == {"1000"}


def test_an_adsb_emergency_status_is_believed_at_once(
    t: npt.NDArray[np.float64], frames: npt.NDArray[np.object_]
) -> None:
    # TC 28 subtype 1, emergency state 1 (general), Mode A 7700: CRC-checked with the address
    me = "11100" + "001" + "001" + "0101010101010" + "0" * 32
    status = _forge("8d393322", me)
    sl = slice(20_000, 24_000)
    all_frames = np.concatenate([np.array([status], dtype=object), frames[sl]])
    all_t = np.concatenate([[t[sl][0] - 0.5], t[sl]])
    sv = FrameDecoder().decode(all_t, all_frames)
    assert sv.squawk[0] == "7700" and "1000" in sv.squawk
