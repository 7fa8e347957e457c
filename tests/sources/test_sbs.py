"""SBS lines, built from real data: the state vectors of traffic's quickstart recording
written out as a BaseStation feed would."""

from __future__ import annotations

import gzip
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import assert_same
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats
from skyfence.sources.recordings import read_recording
from skyfence.sources.sbs import SbsAssembler, parse_sbs, read_sbs_file

START_S = 1_700_000_000.0


def sbs_line(kind: int, icao: int, t: float, **values: Any) -> str:
    """One MSG line, with dump1090's layout and precision."""

    def num(name: str, fmt: str) -> str:
        v = values.get(name, math.nan)
        return "" if not math.isfinite(v) else format(v, fmt)

    when = datetime.fromtimestamp(t, tz=UTC)
    date, time = when.strftime("%Y/%m/%d"), when.strftime("%H:%M:%S.%f")[:-3]
    ground = values.get("ground")
    return ",".join(
        [
            "MSG",
            str(kind),
            "1",
            "1",
            f"{icao:06X}",
            "1",
            date,
            time,
            date,
            time,
            values.get("callsign", ""),
            num("alt", ".0f"),
            num("gs", ".1f"),
            num("track", ".1f"),
            num("lat", ".5f"),
            num("lon", ".5f"),
            num("vrate", ".0f"),
            values.get("squawk", ""),
            "",
            "",
            "",
            "" if ground is None else ("-1" if ground else "0"),
        ]
    )


def sbs_feed(sv: StateVectors) -> tuple[list[str], list[dict[str, Any]]]:
    """Each state vector as the lines a BaseStation feed sends, with what each line says."""
    lines, said = [], []
    for r in range(len(sv)):
        icao, t = int(sv.icao24[r]), float(sv.t_s[r])
        ground = bool(sv.on_ground[r])
        messages: list[tuple[int, dict[str, Any]]] = [(1, {"callsign": str(sv.callsign[r])})]
        if sv.squawk[r]:
            messages.append((6, {"squawk": str(sv.squawk[r])}))
        if np.isfinite(sv.gs_kt[r]):
            kinematics = {"gs": sv.gs_kt[r], "track": sv.track_deg[r], "vrate": sv.vrate_fpm[r]}
            messages.append((4, {k: float(v) for k, v in kinematics.items()}))
        position = {"lat": float(sv.lat_deg[r]), "lon": float(sv.lon_deg[r]), "ground": ground}
        if not ground:
            position["alt"] = float(sv.alt_baro_ft[r])
        messages.append((2 if ground else 3, position))
        for kind, values in messages:
            lines.append(sbs_line(kind, icao, t, **values))
            said.append({"kind": kind, "icao": icao, "t": t, **values})
    return lines, said


@pytest.fixture(scope="module")
def quickstart(samples: Path) -> StateVectors:
    """A dozen aircraft of the quickstart recording, in the air and on the ground, in time
    order as a receiver sends them (the recording itself is stored flight by flight)."""
    sv = StateVectors.concat(list(read_recording(samples / "collections" / "quickstart.json.gz")))
    aircraft = np.unique(sv.icao24)[::18]
    part = sv.take(np.isin(sv.icao24, aircraft))
    part = part.take(np.argsort(part.t_s, kind="stable"))
    assert 5_000 < len(part) < 40_000 and part.on_ground.any() and not part.on_ground.all()
    return part


@pytest.fixture(scope="module")
def feed(quickstart: StateVectors) -> tuple[list[str], list[dict[str, Any]]]:
    return sbs_feed(quickstart)


def test_sbs_rows_say_what_the_lines_say(feed: tuple[list[str], list[dict[str, Any]]]) -> None:
    lines, said = feed
    messages, stats = parse_sbs(lines)
    assert stats.lines == stats.used == len(lines) and not stats.malformed
    sv = messages.vectors
    assert messages.msg_type.tolist() == [s["kind"] for s in said]
    assert sv.icao24.tolist() == [s["icao"] for s in said]
    np.testing.assert_allclose(sv.t_s, [s["t"] for s in said], atol=1e-3)
    for column, key, tol in (
        ("lat_deg", "lat", 5e-6),
        ("lon_deg", "lon", 5e-6),
        ("alt_baro_ft", "alt", 0.5),
        ("gs_kt", "gs", 0.05),
        ("track_deg", "track", 0.05),
        ("vrate_fpm", "vrate", 0.5),
    ):
        expected = np.array([s.get(key, np.nan) for s in said], dtype=float)
        np.testing.assert_allclose(getattr(sv, column), expected, atol=tol, err_msg=column)
    assert sv.callsign.tolist() == [s.get("callsign", "") for s in said]
    assert sv.squawk.tolist() == [s.get("squawk", "") for s in said]
    has_flag = np.array(["ground" in s for s in said])
    assert messages.ground_known.tolist() == has_flag.tolist()
    assert sv.on_ground.tolist() == [bool(s.get("ground", False)) for s in said]


def test_sbs_bytes_and_lines_agree(feed: tuple[list[str], list[dict[str, Any]]]) -> None:
    lines = feed[0][:2000]
    a, _ = parse_sbs(lines)
    b, _ = parse_sbs("\r\n".join(lines).encode())
    assert_same(a.vectors, b.vectors)


def test_sbs_noise_is_malformed_not_fatal(feed: tuple[list[str], list[dict[str, Any]]]) -> None:
    data = bytearray(b"MSG,3\xff\xfe,\x1a\n" + "\n".join(feed[0][:100]).encode())
    messages, stats = parse_sbs(data)
    assert len(messages) == 100 and stats.malformed == {"SBS MSG line without exactly 22 fields": 1}


def test_read_sbs_file_rebuilds_the_state_vectors(
    quickstart: StateVectors, feed: tuple[list[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    path = tmp_path / "feed.sbs.gz"
    path.write_bytes(gzip.compress(("\n".join(feed[0]) + "\n").encode()))
    stats = ReadStats()
    got = StateVectors.concat(list(read_sbs_file(path, 1_000_000, stats)))
    assert stats.rows_read == len(feed[0]) and stats.rows_skipped == 0
    assert len(got) == stats.rows_yielded == len(quickstart)

    src = quickstart.take(np.lexsort((quickstart.icao24, quickstart.t_s)))
    assert got.icao24.tolist() == src.icao24.tolist()
    np.testing.assert_allclose(got.t_s, src.t_s, atol=1e-3)
    np.testing.assert_allclose(got.lat_deg, src.lat_deg, atol=5e-6)
    np.testing.assert_allclose(got.lon_deg, src.lon_deg, atol=5e-6)
    assert got.on_ground.tolist() == src.on_ground.tolist()
    assert got.callsign.tolist() == src.callsign.tolist()
    said = src.squawk != ""
    assert got.squawk[said].tolist() == src.squawk[said].tolist()
    air = ~src.on_ground
    for column, tol, rows in (
        ("alt_baro_ft", 0.5, air),
        ("gs_kt", 0.05, air | src.on_ground),
        ("track_deg", 0.05, air | src.on_ground),
        ("vrate_fpm", 0.5, air),
    ):
        have = rows & np.isfinite(getattr(src, column))
        assert have.sum() > 1000, column
        np.testing.assert_allclose(
            getattr(got, column)[have], getattr(src, column)[have], atol=tol, err_msg=column
        )
    assert np.isnan(got.alt_baro_ft[src.on_ground]).all()  # no pressure altitude taxiing


def test_read_sbs_file_does_not_depend_on_batches(
    feed: tuple[list[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    path = tmp_path / "feed.sbs"
    path.write_text("\n".join(feed[0]) + "\n")
    whole = StateVectors.concat(list(read_sbs_file(path, 1_000_000, ReadStats())))
    batches = list(read_sbs_file(path, 500, ReadStats()))
    assert max(len(b) for b in batches) <= 500
    # Rows of different aircraft at the same second may come out in another order.
    joined = StateVectors.concat(batches)
    joined = joined.take(np.lexsort((joined.icao24, joined.t_s)))
    assert_same(joined, whole.take(np.lexsort((whole.icao24, whole.t_s))))


def test_sbs_carried_values_expire() -> None:
    """A speed heard 2 minutes before a position is not the aircraft's speed now."""
    lines = [
        sbs_line(4, 0x4CA2D6, START_S, gs=450.0, track=90.0, vrate=0.0),
        sbs_line(1, 0x4CA2D6, START_S, callsign="EIN123"),
        sbs_line(3, 0x4CA2D6, START_S + 30, alt=35000.0, lat=51.5, lon=-0.1, ground=False),
        sbs_line(3, 0x4CA2D6, START_S + 120, alt=35000.0, lat=51.6, lon=-0.1, ground=False),
    ]
    sv = SbsAssembler().assemble(parse_sbs(lines)[0])
    assert sv.gs_kt.tolist()[0] == 450.0 and math.isnan(sv.gs_kt[1])
    assert sv.callsign.tolist() == ["EIN123", "EIN123"]


def test_sbs_malformed_and_other_lines(feed: tuple[list[str], list[dict[str, Any]]]) -> None:
    good = next(line for line in feed[0] if line.startswith("MSG,3,"))
    f = good.split(",")

    def edit(i: int, value: str) -> str:
        return ",".join([*f[:i], value, *f[i + 1 :]])

    lines = [
        good,
        good + ",extra,fields",
        "",
        "AIR,,1,1,4CA2D6,1,2024/01/01,12:00:00.000,2024/01/01,12:00:00.000",
        "CLK,,,,,,2024/01/01,12:00:00.000,2024/01/01,12:00:00.000",
        ",".join(f[:10]),
        "hello world",
        edit(1, "9"),
        edit(4, "XYZ123"),
        ",".join([*f[:6], "yesterday", f[7], "yesterday", *f[9:]]),
        edit(11, "35k"),
        edit(14, "91.5"),
        edit(11, "1e300"),  # a number, but no transponder's: an entry at 1e300 ft stopped watch
    ]
    messages, stats = parse_sbs(lines)
    assert len(messages) == stats.used == 1
    assert stats.ignored == 2 and stats.lines == len(lines) - 1
    assert stats.malformed == {
        "SBS MSG line without exactly 22 fields": 2,
        "not an SBS line (MSG, SEL, ID, AIR, STA, CLK)": 1,
        "SBS transmission type not 1-8": 1,
        "SBS hex ident not a 24-bit address": 1,
        "SBS date/time missing or not YYYY/MM/DD HH:MM:SS": 1,
        "SBS altitude not a number": 1,
        "SBS position out of range": 1,
        "SBS altitude out of range": 1,
    }
    report = ReadStats()
    stats.report(report, "lines 1-13")
    assert report.rows_read == len(lines) - 1 and report.rows_skipped == 9


def test_a_bad_sbs_line_is_named_by_its_line_not_its_block(
    feed: tuple[list[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    """A BaseStation log (CRLF, blank lines) with a damaged line here and there, across the
    reader's blocks: each problem names its line, as OpenSky CSV rows do, not "lines 1-3000"."""
    lines = list(feed[0])
    good = lines[10].split(",")
    damage = {  # line number (from 1) -> the damaged line, and the problem said
        3: (",".join([*good[:11], "35k", *good[12:]]), "SBS altitude not a number"),
        2_500: ("hello world", "not an SBS line (MSG, SEL, ID, AIR, STA, CLK)"),
        7_001: (",".join(good[:10]), "SBS MSG line without exactly 22 fields"),
        20_000: (",".join([*good[:4], "XYZ123", *good[5:]]), "SBS hex ident not a 24-bit address"),
    }
    for number in sorted(damage):
        lines.insert(number - 1, damage[number][0])
    lines.insert(5_000 - 1, "")  # blank lines count as lines of the file, read or not
    lines.insert(5_001 - 1, "")
    damage = {(n + 2 if n > 5_001 else n): v for n, v in damage.items()}
    path = tmp_path / "feed.sbs"
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    stats = ReadStats()
    sv = StateVectors.concat(list(read_sbs_file(path, 2_000, stats)))  # blocks of ~256 KiB
    assert len(sv) > 5_000 and path.stat().st_size > 4 * 256 * 1024
    assert sorted(stats.problems) == sorted(f"line {n}: {why}" for n, (_, why) in damage.items())
    assert stats.rows_skipped == len(damage)


def test_cr_lf_and_crlf_line_ends_read_alike(
    feed: tuple[list[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    """A BaseStation log exported on an old Mac ends its lines with CR alone: each block of the
    reader was one bad line. The real feed with CR, LF and CRLF ends (a damaged line in it,
    blocks of ~256 KiB) gives the same state vectors and names the damaged line alike; the
    format is found from content for each, and for a capture starting mid-line too."""
    from skyfence.sources.recordings import detect_format, read_recording

    lines = list(feed[0])
    lines.insert(6_999, "hello world")  # line 7,000
    got = {}
    for name, end in (("lf", "\n"), ("cr", "\r"), ("crlf", "\r\n")):
        path = tmp_path / f"feed_{name}.log"
        path.write_bytes((end.join(lines) + end).encode())
        assert detect_format(path) == "sbs"
        stats = ReadStats()
        got[name] = StateVectors.concat(list(read_sbs_file(path, 2_000, stats)))
        assert stats.problems == ["line 7000: not an SBS line (MSG, SEL, ID, AIR, STA, CLK)"]
        assert stats.rows_read == len(lines) and stats.rows_skipped == 1
        cut = tmp_path / f"cut_{name}.log"  # `nc HOST 30003 > file`: its first line a part
        cut.write_bytes(path.read_bytes()[20:])
        assert detect_format(cut) == "sbs"
    got["whole"] = StateVectors.concat(list(read_recording(tmp_path / "feed_cr.log")))
    # rows of different aircraft at the same second may come out in another order per block
    got = {k: v.take(np.lexsort((v.icao24, v.t_s))) for k, v in got.items()}
    assert len(got["lf"]) > 5_000
    for name in ("cr", "crlf", "whole"):
        assert_same(got[name], got["lf"])


def test_sbs_local_time(feed: tuple[list[str], list[dict[str, Any]]]) -> None:
    utc, _ = parse_sbs(feed[0][:50])
    local, _ = parse_sbs(feed[0][:50], utc_offset_s=3600.0)
    np.testing.assert_allclose(local.vectors.t_s, utc.vectors.t_s - 3600.0)


@settings(max_examples=200, deadline=2000)
@given(st.lists(st.text(alphabet="MSGAIR,0123456789./:-~ abcdefABCDEF", max_size=120)))
def test_sbs_fuzz_every_line_accounted(lines: list[str]) -> None:
    messages, stats = parse_sbs(lines)
    assert stats.used == len(messages)
    assert stats.used + stats.ignored + sum(stats.malformed.values()) == stats.lines
