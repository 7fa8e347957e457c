"""Opening recordings: gzip is inflated as a stream, within a cap that real recordings never
reach and a decompression bomb always does."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from fakes import OPENSKY_HEADER, gzip_bomb

import skyfence
from skyfence.sources.base import MAX_INFLATE_RATIO, MIN_INFLATE_BYTES, RecordingError
from skyfence.sources.recordings import read_recording


def test_real_recordings_inflate_far_below_the_cap(samples: Path) -> None:
    """Every gzip recording shipped with traffic and skyfence: the ratio from the gzip trailer
    (the content's size mod 2^32; all are far smaller) stays under a fifth of the cap."""
    paths = [*samples.rglob("*.gz"), *(Path(skyfence.__file__).parent / "samples").glob("*.gz")]
    assert len(paths) >= 60
    for path in paths:
        data = path.read_bytes()
        ratio = struct.unpack("<I", data[-4:])[0] / len(data)
        assert ratio < MAX_INFLATE_RATIO / 5, path


@pytest.mark.parametrize(
    ("fmt", "head", "filler"),
    [
        ("opensky-csv", OPENSKY_HEADER, b"\n"),
        ("sbs", b"", b"\n"),
        ("avr", b"", b"\n"),
        ("frames-jsonl", b"", b"\n"),
        ("traffic-json", b"", b"\n"),
        ("readsb-trace", b'{"icao": "4baac6", "timestamp": 0, "trace": [', b" "),
        ("beast", b"", b"\x00"),
    ],
)
def test_a_gzip_bomb_is_refused_with_the_file_named(
    tmp_path: Path, fmt: str, head: bytes, filler: bytes
) -> None:
    """64 MiB of blanks in a 64 KiB file (the attack: 2 GiB of blank lines in 2 MiB) stops at
    the cap, MIN_INFLATE_BYTES for so small a file, in every reader."""
    path = gzip_bomb(tmp_path / "bomb.gz", head, filler, 64 << 20)
    assert path.stat().st_size * MAX_INFLATE_RATIO < MIN_INFLATE_BYTES
    reader = read_recording(path, fmt)
    with pytest.raises(RecordingError, match=r"bomb\.gz: gzip content larger than") as caught:
        for _ in reader:
            pass
    assert "decompression bomb" in str(caught.value)
