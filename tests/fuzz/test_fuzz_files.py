"""Recordings and zone files under damage: a file is read, or refused with its name; nothing
else ever escapes, and nothing hangs (each example is a real file on disk, read to its end)."""

from __future__ import annotations

import gzip
import json
import tempfile
import zlib
from importlib.resources import files
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import damaged, traffic_samples

from skyfence.schema import StateVectors
from skyfence.sources.base import RecordingError
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones, zones_from_geojson
from skyfence.zones.model import ZoneError
from skyfence.zones.openair import openair_to_geojson

SAMPLES = traffic_samples()
PACKAGE = Path(str(files("skyfence")))
SEEDS = {
    "frames.jsonl": gzip.decompress(
        (PACKAGE / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz").read_bytes()
    )[:6000],
    "capture.bin": (SAMPLES / "dump1090" / "sample_dump1090.bin").read_bytes(),
    "trace.json": (SAMPLES / "readsb" / "trace_full_ac671b.json").read_bytes()[:8000],
    "states.json": gzip.decompress(
        (PACKAGE / "samples" / "thy9bp_spoofing_2024-09-17.json.gz").read_bytes()
    )[:8000],
    "states.csv": b"time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,"
    b"alert,spi,squawk,baroaltitude,geoaltitude,lastposupdate,lastcontact\n"
    + b"".join(
        f"{1726565064 + i},4baac6,49.{i:03d},23.9,212.0,333.0,0.0,THY9BP,false,false,false,"
        f"1000,11582.4,11800.0,{1726565064 + i}.5,{1726565064 + i}.6\n".encode()
        for i in range(60)
    ),
}
ZONES = (PACKAGE / "zones" / "data" / "demo.geojson").read_bytes()
OPENAIR = (Path(__file__).parents[1] / "zones" / "data" / "ksgu_openair.txt").read_bytes()[:4000]


def read_all(name: str, data: bytes) -> None:
    """Read a damaged file to its end: state vectors, or a RecordingError naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            reader = read_recording(path, batch_rows=500, start_s=1_720_249_044.0)
            batches = list(reader)
        except RecordingError as exc:
            assert name in str(exc), exc
            return
        sv = StateVectors.concat(batches) if batches else StateVectors.empty()
        stats = reader.stats
        assert len(sv) <= max(stats.rows_read, len(data))  # nothing made up


@given(name=st.sampled_from(sorted(SEEDS)), data=st.data())
def test_recordings(name: str, data: st.DataObject) -> None:
    read_all(name, data.draw(damaged(SEEDS[name])))


@given(data=damaged(gzip.compress(SEEDS["states.json"]), max_edits=3))
def test_damaged_gzip(data: bytes) -> None:
    read_all("states.json.gz", data)


@settings(max_examples=6)  # each reads the cap's 16 MiB: a few examples, in every profile
@given(
    name=st.sampled_from(sorted(SEEDS)),
    filler=st.sampled_from([b"\n", b" ", b"\x00", b"\x1a", b"\r\n", b"{}\n"]),
    cut=st.integers(0, 4000),
)
def test_gzip_bombs(name: str, filler: bytes, cut: int) -> None:
    """A real recording's head, then 64 MiB of one filler, gzipped (~1,000x): read, or refused
    with the file named (the inflation cap), in bounded memory."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = filler * ((1 << 22) // len(filler))
    parts = [deflate.compress(SEEDS[name][:cut])]
    parts += [deflate.compress(chunk) for _ in range(16)]
    read_all(name + ".gz", b"".join([*parts, deflate.flush()]))


@given(data=damaged(ZONES, max_edits=10))
def test_zone_geojson(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zones.geojson"
        path.write_bytes(data)
        try:
            zones = load_zones(path)
        except ZoneError as exc:
            assert "zones.geojson" in str(exc), exc
            return
    assert all(z.geometry.is_valid and z.floor_ft < z.ceiling_ft for z in zones)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)
PROPERTIES = st.dictionaries(
    st.sampled_from(["id", "name", "floor", "ceiling", "active", "applies_to", "exempt", "radius_m",
                     "radius_nm", "lookahead_s", "buffer_m", "severity", "ceilng"]),
    JSON,
)  # fmt: skip


@given(
    features=st.lists(
        st.fixed_dictionaries(
            {"type": st.just("Feature"), "properties": PROPERTIES, "geometry": JSON}
        )
        | JSON,
        min_size=1,
        max_size=6,
    )
)
def test_zone_features_of_any_shape(features: list[object]) -> None:
    try:
        zones = zones_from_geojson({"type": "FeatureCollection", "features": features}, "fuzz")
    except ZoneError as exc:
        assert str(exc).startswith("fuzz:"), exc
        return
    assert len(zones) == len(features)


@given(data=damaged(OPENAIR, max_edits=10))
def test_openair(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        document = openair_to_geojson(text, "airspace.txt")
    except ZoneError as exc:
        assert str(exc).startswith("airspace.txt:"), exc
        return
    json.dumps(document)  # what it writes is GeoJSON text


ZONE_DATA = Path(__file__).parents[1] / "zones" / "data"
PUBLISHED = {
    name: (ZONE_DATA / name).read_bytes()[:6000]
    for name in (
        "notams_published.txt",
        "notams_edge_cases.txt",
        "che_ed269_geoawareness_1.json",
        "che_ed318_cis_sample.json",
        "tfr_constructed.xml",
    )
}
PUBLISHED["donlon_aixm51_airspaces.xml"] = (ZONE_DATA / "donlon_aixm51_airspaces.xml").read_bytes()


@given(name=st.sampled_from(sorted(PUBLISHED)), data=st.data())
def test_published_zone_formats(name: str, data: st.DataObject) -> None:
    """Damaged NOTAM, ED-269, ED-318, TFR and AIXM files: zones that are valid, or a ZoneError
    naming the file; never another exception."""
    from skyfence.zones.load import import_text

    raw = data.draw(damaged(PUBLISHED[name], max_edits=8))
    text = raw.decode("utf-8", errors="replace")
    try:
        imported = import_text(text, name)
    except ZoneError as exc:
        assert str(exc).startswith(name) or name in str(exc), exc
        return
    assert imported.zones and json.dumps(imported.document, allow_nan=False)
