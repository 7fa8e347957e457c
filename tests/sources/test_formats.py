"""The registry of recording formats: every entry resolves, and a format added by one line is
recognised and read like the built-in ones (here: the real rs1090 frames as tab-separated lines)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from skyfence.decoding.frames import FrameDecoder
from skyfence.schema import StateVectors
from skyfence.sources.base import ReadStats, RecordingError
from skyfence.sources.formats import FORMATS, RecordingFormat, detect_format
from skyfence.sources.recordings import read_recording
from skyfence.sources.sniff import Head

FRAMES = Path("rs1090") / "full_flight_short.jsonl"


def test_every_registered_format_names_a_reader_that_exists() -> None:
    for name, recording_format in FORMATS.items():
        module, function = recording_format.reader.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert set(recording_format.options) <= {"reference", "start_s"}, name


def _tab_frames(head: Head) -> bool:
    first = head.text.split(b"\n", 1)[0].split(b"\t")
    return len(first) == 2 and first[0].replace(b".", b"").isdigit()


def read_tab_frames(
    path: Path, batch_rows: int, stats: ReadStats, reference: tuple[float, float] | None = None
) -> Iterator[StateVectors]:
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    stats.rows_read = len(rows)
    yield FrameDecoder(reference).decode(
        np.array([float(t) for t, _ in rows]), np.array([frame for _, frame in rows])
    )


def test_a_format_added_by_one_line_is_detected_and_read(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = (samples / FRAMES).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    tab = tmp_path / "frames.txt"
    tab.write_text("".join(f"{r['timestamp']}\t{r['frame']}\n" for r in records))
    with pytest.raises(Exception, match="not a known format"):
        detect_format(tab)

    entry = RecordingFormat(_tab_frames, f"{__name__}:read_tab_frames", True, ("reference",))
    monkeypatch.setitem(FORMATS, "frames-tab", entry)

    assert detect_format(tab) == "frames-tab"
    assert detect_format(samples / FRAMES) == "frames-jsonl"  # the others are unchanged
    got = StateVectors.concat(list(read_recording(tab)))
    expected = StateVectors.concat(list(read_recording(samples / FRAMES)))
    assert len(got) > 100
    np.testing.assert_array_equal(got.icao24, expected.icao24)
    np.testing.assert_allclose(got.lat_deg, expected.lat_deg, equal_nan=True)
    np.testing.assert_allclose(got.t_s, expected.t_s)


def test_a_beast_capture_started_mid_message_is_detected_and_read(
    tmp_path: Path, samples: Path
) -> None:
    """`nc HOST 30005 > file` starts wherever the stream is: the real dump1090 capture cut 1 to
    40 bytes in was "binary content of an unknown format". It is Beast, read from its first
    whole message on; random bytes after an escape stay unknown."""
    whole = (samples / "dump1090" / "sample_dump1090.bin").read_bytes()
    full = StateVectors.concat(list(read_recording(samples / "dump1090" / "sample_dump1090.bin")))
    for cut in range(1, 41):
        path = tmp_path / f"cut{cut}.bin"
        path.write_bytes(whole[cut:])
        assert detect_format(path) == "beast", cut
        sv = StateVectors.concat(list(read_recording(path)))
        assert np.array_equal(sv.lat_deg, full.lat_deg, equal_nan=True), cut
    noise = tmp_path / "noise.bin"
    noise.write_bytes(b"\x1a" + np.random.default_rng(0).bytes(4096))
    with pytest.raises(RecordingError, match=r"noise\.bin: binary content of an unknown format"):
        detect_format(noise)


def test_avr_and_sbs_captures_started_mid_line_are_detected_and_read(
    tmp_path: Path, samples: Path
) -> None:
    """A capture of port 30002 or 30003 starts mid-line as often as not: the real AFR frames as
    timestamped AVR lines, and the real quickstart positions as SBS lines, each cut 9 bytes in,
    were "not a known format". The cut line is counted malformed; every other line is read."""
    from fakes import sbs_line

    frames = [json.loads(line) for line in (samples / FRAMES).read_text().splitlines()[:3000]]
    t0 = frames[0]["timestamp"]
    avr = "".join(f"@{int((f['timestamp'] - t0) * 12e6) + 1:012X}{f['frame']};\n" for f in frames)
    sv = StateVectors.concat(list(read_recording(samples / "collections" / "quickstart.json.gz")))
    sv = sv.take(np.flatnonzero(np.isfinite(sv.lat_deg))[:3000])
    sbs = "".join(
        sbs_line(3, int(sv.icao24[i]), float(sv.t_s[i]),
                 {14: f"{sv.lat_deg[i]:.5f}", 15: f"{sv.lon_deg[i]:.5f}"}) + "\r\n"
        for i in range(len(sv))
    )  # fmt: skip
    for name, text, fmt in (("cut.avr", avr, "avr"), ("cut.sbs", sbs, "sbs")):
        whole, cut = tmp_path / f"whole-{name}", tmp_path / name
        whole.write_text(text)
        cut.write_text(text[9:])
        assert detect_format(cut) == fmt
        reader = read_recording(cut, start_s=t0)
        got = StateVectors.concat(list(reader))
        want = StateVectors.concat(list(read_recording(whole, start_s=t0)))
        assert reader.stats.rows_skipped == 1 and len(got) > 0
        assert len(got) >= len(want) - 1
