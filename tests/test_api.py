"""The public API against the CLI, on real recordings, in every form an analyst holds them."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes import HOLD, Receiver, squawking
from typer.testing import CliRunner

import skyfence
from skyfence.alerts.files import PARQUET_SCHEMA
from skyfence.decoding.frames import FrameDecoder
from skyfence.sources.beast import BeastParser

SAMPLES = Path(skyfence.__file__).parent / "samples"
THY9BP = SAMPLES / "thy9bp_spoofing_2024-09-17.json.gz"
AFR_FRAMES = SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz"


def cli_events(tmp_path: Path, zones: list[str], inputs: list[Path], *options: str) -> pa.Table:
    """What `skyfence audit ... -o events.parquet` writes."""
    from skyfence.cli import app

    out = tmp_path / f"cli-{len(list(tmp_path.iterdir()))}.parquet"
    args = ["audit", *[a for z in zones for a in ("-z", z)], *map(str, inputs), "-o", str(out)]
    run = CliRunner().invoke(app, [*args, *options])
    assert run.exit_code == 0, run.output
    return pq.read_table(out)


def cli_error(*args: str) -> str:
    from skyfence.cli import app

    run = CliRunner().invoke(app, list(args))
    assert run.exit_code == 2, run.output
    return " ".join(run.output.split()).removeprefix("error: ")


def same(api: pa.Table, cli: pa.Table) -> None:
    assert api.schema == PARQUET_SCHEMA
    assert api.num_rows > 0

    # the same events with the same ids; events of one instant may come in another order when
    # the rows are cut into other batches (the CLI reads files in batches of its own)
    def ordered(table: pa.Table) -> list[dict[str, Any]]:
        return sorted(table.to_pylist(), key=lambda e: (e["time"], e["id"]))

    assert ordered(api) == ordered(cli)


def to_opensky(frame: pd.DataFrame) -> pd.DataFrame:
    """A traffic-layout frame as OpenSky would have served it (SI units, its column names)."""
    return pd.DataFrame(
        {
            "time": frame["timestamp"].astype("int64") // 10**9,
            "icao24": frame["icao24"],
            "lat": frame["latitude"],
            "lon": frame["longitude"],
            "velocity": frame["groundspeed"] * 1852 / 3600,
            "heading": frame["track"],
            "vertrate": frame["vertical_rate"] * 0.3048 / 60,
            "callsign": frame["callsign"],
            "baroaltitude": frame["altitude"] * 0.3048,
            "lastposupdate": frame["last_position"] / 1000,
        }
    )


@pytest.fixture(scope="module")
def thy9bp() -> Any:
    from traffic.core import Traffic

    return Traffic.from_file(THY9BP)


# -- audit equals the CLI ---------------------------------------------------------------------


def test_audit_of_the_spoofed_flight_in_every_form(thy9bp: Any, tmp_path: Path) -> None:
    cli = cli_events(tmp_path, ["ukraine"], [THY9BP])
    assert cli.column("kind").to_pylist() == ["suspect_position"]
    zones = skyfence.load_zones("ukraine")
    flight = thy9bp["THY9BP"]
    assert type(flight).__name__ == "Flight"
    for data in (
        THY9BP,
        str(THY9BP),
        [THY9BP],
        thy9bp,
        flight,
        thy9bp.data,
        pa.Table.from_pandas(thy9bp.data),
    ):
        same(skyfence.audit(data, zones), cli)
    same(skyfence.audit(flight, "ukraine"), cli)  # zones given as the CLI gives them

    opensky = to_opensky(thy9bp.data)
    csv = tmp_path / "thy9bp_opensky.csv"
    opensky.to_csv(csv, index=False)
    from_csv = cli_events(tmp_path, ["ukraine"], [csv])
    assert from_csv.column("id").to_pylist() == cli.column("id").to_pylist()
    same(skyfence.audit(opensky, zones), from_csv)
    same(skyfence.audit(pa.Table.from_pandas(opensky), zones), from_csv)


def test_audit_of_quickstart_with_a_window_and_a_lookahead(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    from traffic.core import Traffic

    recording = samples / "collections/quickstart.json.gz"
    options = ("--since", "2021-10-07T12:30Z", "--until", "2021-10-07T14:00Z", "--lookahead", "300")
    cli = cli_events(tmp_path, [str(paris_zones_path), "ukraine"], [recording], *options)
    assert cli.num_rows > 100
    zones = skyfence.load_zones(paris_zones_path, "ukraine")
    window: dict[str, Any] = {
        "since": "2021-10-07T12:30Z",
        "until": pd.Timestamp("2021-10-07T14:00Z"),
        "lookahead_s": 300,
    }
    same(skyfence.audit(recording, zones, **window), cli)
    quickstart = Traffic.from_file(recording)
    same(skyfence.audit(quickstart, zones, **window), cli)
    same(skyfence.audit(quickstart.data, zones, **window), cli)

    # as if one receiver in Lyon had recorded it: what it cannot have heard is quarantined
    lyon = ("--since", "2021-10-07T13:00Z", "--until", "2021-10-07T13:20Z")
    cli = cli_events(tmp_path, [str(paris_zones_path)], [recording], "--receiver",
                     "45.764,4.836,100", *lyon)  # fmt: skip
    reasons = {json.loads(d).get("reason") for d in cli.column("details").to_pylist()}
    assert "beyond_radio_horizon" in reasons
    paris = skyfence.load_zones(paris_zones_path)
    span = {"since": lyon[1], "until": lyon[3]}
    same(skyfence.audit(recording, paris, receiver=(45.764, 4.836, 100), **span), cli)
    same(skyfence.audit(quickstart.data, paris, receiver="45.764,4.836,100", **span), cli)


def test_audit_of_raw_frames_and_of_several_files(tmp_path: Path) -> None:
    cli = cli_events(tmp_path, ["demo", "ukraine"], [AFR_FRAMES, THY9BP])
    kinds = set(cli.column("kind").to_pylist())
    assert {"predicted_entry", "entry", "exit", "suspect_position"} <= kinds
    zones = skyfence.load_zones("demo", "ukraine")
    same(skyfence.audit([AFR_FRAMES, THY9BP], zones), cli)
    same(skyfence.audit([str(AFR_FRAMES), str(THY9BP)], ["demo", "ukraine"]), cli)


def test_audit_and_watch_raise_the_emergency_squawks_the_cli_raises(
    samples: Path, tmp_path: Path
) -> None:
    """A real flight (Air France 393322) whose identity replies say 7700 for a stretch:
    `skyfence audit` raises `emergency_squawk` by default, and so do `audit` and `watch` here
    (they raised none); `squawks=False` is `--no-squawks`."""
    recording = tmp_path / "flight.jsonl"
    squawking(samples, recording, [range(300, 400)])
    cli = cli_events(tmp_path, ["demo"], [recording])
    assert cli.column("kind").to_pylist().count("emergency_squawk") == 1
    same(skyfence.audit(recording, "demo"), cli)
    without = cli_events(tmp_path, ["demo"], [recording], "--no-squawks")
    same(skyfence.audit(recording, "demo", squawks=False), without)
    assert "emergency_squawk" not in without.column("kind").to_pylist()
    with skyfence.watch(recording, "demo") as watch:
        watched = sorted(e.id for e in watch)
    assert watched == sorted(cli.column("id").to_pylist())


def test_audit_results_fit_pandas(thy9bp: Any) -> None:
    events = skyfence.audit(thy9bp, "ukraine").to_pandas()
    assert list(events.columns) == PARQUET_SCHEMA.names
    suspect = events.iloc[0]
    assert str(suspect["time"].tz) == "UTC"
    assert json.loads(suspect["details"])["claimed_zones"] == ["UKLV"]


def test_audit_of_an_hourly_opensky_folder(thy9bp: Any, tmp_path: Path) -> None:
    states = to_opensky(thy9bp.data)
    history = tmp_path / "history" / "2024-09-17"
    history.mkdir(parents=True)
    for hour, rows in states.groupby(states["time"] // 3600):
        rows.to_parquet(history / f"{hour}.parquet", index=False)
    assert len(list(history.iterdir())) >= 2  # the track crosses from one file to the next
    cli = cli_events(tmp_path, ["ukraine"], [history.parent], "--workers", "1")
    same(skyfence.audit(history.parent, "ukraine", workers=1), cli)
    same(skyfence.audit(states, "ukraine"), cli)
    with pytest.raises(skyfence.InputError, match="since: not applied on a folder"):
        skyfence.audit(history.parent, "ukraine", since="2024-09-17T09:00Z")
    # a table has no format and no receiver clock: refused, not ignored
    with pytest.raises(skyfence.InputError, match="format, start: not applied to a table"):
        skyfence.audit(states, "ukraine", format="beast", start="2024-09-17T09:00Z")


def test_audit_with_its_summary_gives_the_numbers_the_cli_prints(
    thy9bp: Any, tmp_path: Path
) -> None:
    """A notebook user gets the events and what `skyfence audit` prints under them, for a file,
    a folder of hourly Parquet files and a table alike; the table alone stays the default."""
    from skyfence.cli import app
    from skyfence.engine.events import iso_time

    states = to_opensky(thy9bp.data)
    history = tmp_path / "history"
    history.mkdir()
    for hour, rows in states.groupby(states["time"] // 3600):
        rows.to_parquet(history / f"{hour}.parquet", index=False)
    frame = thy9bp.data.copy()
    frame.loc[3, "latitude"] = 200.0  # one corrupt row: skipped, and said in the summary too
    frozen, thresholds = gc.get_freeze_count(), gc.get_threshold()
    for data, cli_args in (
        (THY9BP, [str(THY9BP)]),
        (history, [str(history), "--workers", "1"]),
        (frame, None),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            found = skyfence.audit(data, "ukraine", workers=1, summary=True)
            table = skyfence.audit(data, "ukraine", workers=1)
        assert isinstance(found, skyfence.Audit) and isinstance(table, pa.Table)
        assert found.events.equals(table)
        assert found.by_kind == {"suspect_position": 1} == found.by_zone["UKLV"]
        assert found.rows > 8_000 and 0 < found.suspect < found.fixes
        assert found.trusted + found.suspect == found.fixes and found.aircraft == 1
        assert found.first is not None and found.last is not None and found.first < found.last
        if cli_args is None:
            ((where, (n, problems)),) = found.skipped.items()
            assert (where, n) == ("traffic table", 1) and problems[0].startswith("rows 0-")
            continue
        assert found.skipped == {}
        run = CliRunner().invoke(app, ["audit", "-z", "ukraine", *cli_args])
        assert run.exit_code == 0, run.output
        said = " ".join(run.output.split())
        span = f"from {iso_time(found.first.timestamp())} to {iso_time(found.last.timestamp())}"
        assert f"{found.rows:,} state vectors of 1 aircraft {span} in " in said
        assert f"{found.fixes:,} position fixes, {found.trusted:,} trusted, " in said
        assert f"{found.suspect:,} quarantined as suspect; 1 event (1 suspect_position)" in said
    # run as `skyfence audit` runs, with fewer collections, and the collector left as it was
    assert (gc.get_freeze_count(), gc.get_threshold()) == (frozen, thresholds)


def test_malformed_rows_are_skipped_and_said(thy9bp: Any) -> None:
    frame = thy9bp.data.copy()
    frame.loc[3, "latitude"] = 200.0  # a corrupt row: counted, skipped, never acted on
    with pytest.warns(UserWarning, match=r"traffic table: 1 malformed rows skipped \(rows 0-"):
        events = skyfence.audit(frame, "ukraine")
    assert events.column("kind").to_pylist() == ["suspect_position"]


def test_interference_cells_equal_the_cli(thy9bp: Any, tmp_path: Path) -> None:
    from skyfence.cli import app

    out = tmp_path / "cells.parquet"
    run = CliRunner().invoke(app, ["interference", str(THY9BP), "-o", str(out)])
    assert run.exit_code == 0, run.output
    cli = pq.read_table(out)
    assert cli.num_rows > 0 and sum(cli.column("spoofed").to_pylist()) > 0
    for data in (THY9BP, thy9bp["THY9BP"], thy9bp.data):
        assert skyfence.interference(data).to_pylist() == cli.to_pylist()
    hour = skyfence.interference(THY9BP, hour="2024-09-17T09:00Z")
    assert 0 < hour.num_rows < cli.num_rows
    with pytest.raises(skyfence.InputError, match="resolution"):
        skyfence.interference(THY9BP, resolution=11)


# -- zones and errors -------------------------------------------------------------------------


def test_load_zones_from_names_files_and_dicts(paris_zones_path: Path) -> None:
    document = json.loads(paris_zones_path.read_text())
    from_file = skyfence.load_zones(paris_zones_path)
    from_dict = skyfence.load_zones(document)
    assert [z.id for z in from_dict] == [z.id for z in from_file]
    assert all(z.geometry.equals(f.geometry) for z, f in zip(from_dict, from_file, strict=True))
    assert {z.id for z in skyfence.load_zones("ukraine")} >= {"UKLV", "ZNPP-30KM"}
    with pytest.raises(skyfence.ZoneError, match="more than one zone file: UKBV, UKDV"):
        skyfence.load_zones("ukraine", "ukraine")
    broken = {"type": "FeatureCollection", "features": [{"type": "Feature"}]}
    with pytest.raises(skyfence.ZoneError, match="GeoJSON argument 1"):
        skyfence.load_zones(broken)


@pytest.mark.filterwarnings("ignore:.*skipped as not zones")
def test_load_zones_reads_every_format_the_cli_reads() -> None:
    from skyfence.cli import app

    data = Path(__file__).parent / "zones" / "data"
    for name in ("notams_published.txt", "ksgu_openair.txt", "donlon_aixm51_airspaces.xml",
                 "che_ed269_cis_sample.json", "tfr_constructed.xml"):  # fmt: skip
        run = CliRunner().invoke(app, ["zones", "show", "--geojson", str(data / name)])
        assert run.exit_code == 0, run.output
        shown = json.loads(next(line for line in run.output.splitlines() if line[:1] == "{"))
        ids = [f["properties"]["id"] for f in shown["features"]]
        assert ids and [z.id for z in skyfence.load_zones(data / name)] == ids, name


def test_errors_are_the_cli_messages_under_one_root(tmp_path: Path) -> None:
    bad_zones = tmp_path / "zones.geojson"
    bad_zones.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", ')
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\x01 not a recording")
    cases: list[tuple[type[Exception], Any, Any, list[str]]] = [
        (skyfence.ZoneError, THY9BP, bad_zones, ["-z", str(bad_zones), str(THY9BP)]),
        (skyfence.ZoneError, THY9BP, "atlantis", ["-z", "atlantis", str(THY9BP)]),
        (skyfence.RecordingError, tmp_path / "nothing.csv", "ukraine",
         ["-z", "ukraine", str(tmp_path / "nothing.csv")]),
        (skyfence.RecordingError, garbage, "ukraine", ["-z", "ukraine", str(garbage)]),
    ]  # fmt: skip
    for kind, data, zones, args in cases:
        with pytest.raises(kind) as caught:
            skyfence.audit(data, zones)
        assert isinstance(caught.value, skyfence.SkyfenceError)
        assert " ".join(str(caught.value).split()) == cli_error("audit", *args)

    with pytest.raises(skyfence.InputError, match="neither the OpenSky layout"):
        skyfence.audit(pa.table({"when": [1.0]}), "ukraine")
    with pytest.raises(skyfence.InputError, match="since: time 'yesterday' is not ISO 8601"):
        skyfence.audit(THY9BP, "ukraine", since="yesterday")
    with pytest.raises(skyfence.InputError, match=r"receiver '45\.7,north': expected LAT,LON"):
        skyfence.audit(THY9BP, "ukraine", receiver="45.7,north")
    with pytest.raises(skyfence.InputError, match="is not a path"):
        skyfence.audit(42, "ukraine")
    assert issubclass(skyfence.InputError, ValueError)
    assert issubclass(skyfence.StoreError, OSError)
    assert issubclass(skyfence.EventNotFoundError, LookupError)


def test_watch_refuses_what_it_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(skyfence.RecordingError, match="no such file"):
        skyfence.watch(tmp_path / "missing.jsonl", "ukraine")
    with pytest.raises(skyfence.InputError, match="beast://h:x"):
        skyfence.watch([THY9BP, "beast://h:x"], "ukraine")
    with pytest.raises(skyfence.InputError, match="speed"):
        skyfence.watch(THY9BP, "ukraine", speed=-1)
    folder = tmp_path / "store-is-a-folder"
    folder.mkdir()
    with pytest.raises(skyfence.StoreError):
        skyfence.watch(THY9BP, "ukraine", store=folder)


def test_import_skyfence_loads_nothing_heavy() -> None:
    code = (
        "import sys, skyfence; "
        "heavy = [m for m in ('numpy', 'pyarrow', 'shapely', 'typer', 'skyfence.api') "
        "if m in sys.modules]; "
        "print(heavy, sorted(n for n in skyfence.__all__ if n not in dir(skyfence)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"
    for name in skyfence.__all__:
        assert getattr(skyfence, name) is not None
        assert getattr(skyfence, name).__doc__ or name == "__version__"


# -- watch and report -------------------------------------------------------------------------


def test_watch_replays_as_audit_finds_and_reports(tmp_path: Path) -> None:
    zones = skyfence.load_zones("demo", "ukraine")
    audited = skyfence.audit([AFR_FRAMES], zones).to_pylist()
    store = tmp_path / "events.sqlite"
    with skyfence.watch(AFR_FRAMES, zones, speed=0, store=store) as events:
        watched = [e.to_dict() for e in events]
    assert [e["id"] for e in watched] == [e["id"] for e in audited]
    assert [e["kind"] for e in watched] == [e["kind"] for e in audited]

    async def collect() -> list[str]:
        async with skyfence.watch([str(AFR_FRAMES)], zones) as stream:
            return [event.id async for event in stream]

    assert asyncio.run(collect()) == [e["id"] for e in audited]

    entry = next(e for e in watched if e["kind"] == "entry")
    page = skyfence.report(entry["id"], store=store, out=tmp_path / "report.html")
    assert entry["callsign"] in page and entry["zone_id"] in page
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == page
    with pytest.raises(skyfence.EventNotFoundError) as caught:
        skyfence.report("nope", store=store)
    assert str(caught.value) == cli_error("report", "nope", "--store", str(store))
    with pytest.raises(skyfence.StoreError, match="no event store here"):
        skyfence.report(entry["id"], store=tmp_path / "none.sqlite")


def test_watch_stops_cleanly_when_closed_early() -> None:
    before = threading.active_count()
    stream = skyfence.watch(THY9BP, "ukraine", speed=0)
    first = next(stream)
    assert first.kind == "suspect_position"
    stream.close()
    stream.close()
    assert list(stream) == []
    assert threading.active_count() == before
    never_started = skyfence.watch(THY9BP, "ukraine")
    never_started.close()
    assert list(never_started) == []


def test_watch_a_beast_feed(samples: Path) -> None:
    """A real capture served as a receiver serves it; a zone drawn around what it heard."""
    capture = (samples / "dump1090" / "sample_dump1090.bin").read_bytes()
    frames = [str(f) for f in BeastParser().feed(capture).frame.tolist()]
    heard = FrameDecoder().decode(np.full(len(frames), 1.7e9), np.array(frames))
    lat, lon = np.nanmedian(heard.lat_deg), np.nanmedian(heard.lon_deg)
    zone = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"id": "AROUND", "radius_m": 300_000},
            }
        ],
    }
    receiver = Receiver([[capture, HOLD]])
    try:
        with skyfence.watch(f"beast://127.0.0.1:{receiver.port}", zone) as stream:
            event = next(stream)
        assert event.kind == "entry" and event.zone_id == "AROUND"
        assert event.icao24 in {f"{a:06x}" for a in heard.icao24.tolist()}
    finally:
        receiver.close()
    assert "skyfence-watch" not in {t.name for t in threading.enumerate()}
