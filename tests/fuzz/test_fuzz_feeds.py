"""Receiver formats under damage: Beast bytes, AVR and SBS lines, aircraft.json documents.

Every property is checked on real captures (traffic's Beast sample and the rs1090 frames,
quickstart's tracks as SBS lines) damaged by hypothesis: no exception but the documented one,
every byte or line accounted for, the same result however the bytes are cut."""

from __future__ import annotations

import gzip
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mutations import chunks, damaged, traffic_samples

from skyfence.decoding.frames import FrameDecoder
from skyfence.sources.aircraft_json import AircraftJsonStats, parse_aircraft_json
from skyfence.sources.avr import parse_avr
from skyfence.sources.beast import BeastParser
from skyfence.sources.sbs import SbsAssembler, parse_sbs

SAMPLES = traffic_samples()
BEAST = (SAMPLES / "dump1090" / "sample_dump1090.bin").read_bytes()
FLIGHT = Path(str(files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"))
with gzip.open(FLIGHT, "rt") as lines:
    FRAMES = [json.loads(line) for _, line in zip(range(400), lines, strict=False)]
AVR = "".join(f"*{r['frame'].upper()};\n" for r in FRAMES).encode()
SBS = b"".join(
    f"MSG,3,1,1,{r['frame'][2:8].upper()},1,2024/07/06,07:{i // 60 % 60:02d}:{i % 60:02d}.000,"
    f"2024/07/06,07:00:00.000,,35000,,,46.{i:04d},1.{i:04d},,,0,0,0,0\r\n".encode()
    for i, r in enumerate(FRAMES)
)
SBS += b"".join(  # identification lines: the callsign field, for damage to reach it
    f"MSG,1,1,1,{r['frame'][2:8].upper()},1,2024/07/06,07:07:00.000,2024/07/06,07:07:00.000,"
    f"AFR34ZG,,,,,,,,0,0,0,0\r\n".encode()
    for r in FRAMES[:40]
)
DOCUMENT = json.dumps(
    {
        "now": 1720249044.8,
        "messages": 10,
        "aircraft": [
            {
                "hex": r["frame"][2:8],
                "lat": 46.0 + i / 1000,
                "lon": 1.9,
                "alt_baro": 35000,
                "gs": 430.0,
                "track": 190.0,
                "seen_pos": 0.4,
                "flight": "AFR34ZG ",
                "nic": 8,
            }
            for i, r in enumerate(FRAMES[:40])
        ],
    }
).encode()


@given(data=damaged(BEAST * 3), cuts=st.data())
def test_beast_any_bytes_any_cuts(data: bytes, cuts: st.DataObject) -> None:
    whole = BeastParser()
    expected = whole.feed(data)
    pieces = cuts.draw(chunks(data))
    parser = BeastParser()
    found = [parser.feed(piece) for piece in pieces]
    frames = [f for batch in found for f in batch.frame.tolist()]
    assert frames == expected.frame.tolist()  # chunking never changes what is found
    s = parser.stats
    assert s.bytes_fed == len(data)
    assert s.bytes_fed == s.frame_bytes + s.status_bytes + s.skipped_bytes + parser.pending
    assert parser.pending <= 2 * 23  # at most one message (escaped) waits for its end
    for frame in frames:
        assert len(frame) in (4, 14, 28) and int(frame, 16) >= 0


@given(data=damaged(AVR, max_edits=12))
def test_avr_lines(data: bytes) -> None:
    frames, stats = parse_avr(data)
    assert stats.used + stats.ignored + sum(stats.malformed.values()) == stats.lines
    assert len(frames.frame) == stats.used
    assert all(len(f) in (4, 14, 28) for f in frames.frame.tolist())


@given(data=damaged(SBS, max_edits=12))
def test_sbs_lines(data: bytes) -> None:
    messages, stats = parse_sbs(data)
    assert stats.used + stats.ignored + sum(stats.malformed.values()) == stats.lines
    vectors = SbsAssembler().assemble(messages)
    assert all(_plain(c) for c in [*vectors.callsign.tolist(), *vectors.squawk.tolist()])
    ok = np.isfinite(vectors.lat_deg)
    assert (np.abs(vectors.lat_deg[ok]) <= 90).all() and (np.abs(vectors.lon_deg[ok]) <= 180).all()


@given(data=damaged(DOCUMENT, max_edits=10))
def test_aircraft_json_documents(data: bytes) -> None:
    stats = AircraftJsonStats()
    try:
        vectors = parse_aircraft_json(data, stats)
    except ValueError as exc:
        assert "aircraft.json" in str(exc) or "JSON" in str(exc) or "gzip" in str(exc), exc
        return
    assert len(vectors) == stats.vectors
    assert stats.vectors + stats.no_position + stats.non_icao + stats.malformed == stats.aircraft
    assert all(_plain(c) for c in vectors.callsign.tolist())


def _plain(text: str) -> bool:
    """What a source may hand on from the air: printable ASCII only (issue 12)."""
    return text.isascii() and text.isprintable()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(
    entries=st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "hex",
                    "lat",
                    "lon",
                    "alt_baro",
                    "gs",
                    "track",
                    "seen_pos",
                    "flight",
                    "nic",
                    "nac_p",
                    "alt_geom",
                    "baro_rate",
                ]
            ),
            JSON_VALUES,
        )
        | JSON_VALUES,
        max_size=20,
    ),
    now=JSON_VALUES,
)
def test_aircraft_json_with_wrong_types(entries: list[object], now: object) -> None:
    stats = AircraftJsonStats()
    try:
        vectors = parse_aircraft_json({"now": now, "aircraft": entries}, stats)
    except ValueError as exc:
        assert "aircraft.json" in str(exc), exc
        return
    assert len(vectors) == stats.vectors
    assert stats.vectors + stats.no_position + stats.non_icao + stats.malformed == stats.aircraft


@given(
    frames=st.lists(
        st.text("0123456789abcdefABCDEF", min_size=0, max_size=30)
        | st.sampled_from([r["frame"] for r in FRAMES]),
        min_size=1,
        max_size=60,
    )
)
def test_the_decoder_takes_any_hex(frames: list[str]) -> None:
    decoder = FrameDecoder()
    t = np.arange(len(frames), dtype=float) + 1_720_249_044.0
    vectors = decoder.decode(t, np.array(frames))
    assert len(vectors) <= len(frames)
    assert decoder.stats.malformed <= len(frames)


@pytest.mark.parametrize("size", [0, 1, 5])
def test_empty_and_tiny_inputs(size: int) -> None:
    assert len(BeastParser().feed(BEAST[:size]).frame) == 0
    assert parse_avr(AVR[:size])[1].used == 0
    assert parse_sbs(SBS[:size])[1].used == 0
