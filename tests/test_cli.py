"""The command line as a user runs it (a real subprocess, real files)."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from importlib.resources import files
from pathlib import Path

from fakes import OPENSKY_HEADER, gzip_bomb, run_skyfence

from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.store.events import EventStore
from skyfence.store.rows import EventFilter
from skyfence.zones.geojson import load_zones


def skyfence(*args: str | Path, data_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    # where the default stores live (platformdirs)
    env = {} if data_home is None else {"XDG_DATA_HOME": str(data_home)}
    return run_skyfence(*args, env=env)


def test_demo_replays_real_frames_and_quarantines_the_spoofed_flight(tmp_path: Path) -> None:
    store_path = tmp_path / "demo.sqlite"
    run = skyfence("demo", "--no-web", "--store", store_path)
    assert run.returncode == 0, run.stderr
    assert "741 quarantined" not in run.stdout  # watch output, not audit's
    with EventStore(store_path) as store:
        events = store.query(limit=100)
        picture = store.aircraft()
        thy = store.positions("4baac6", 0, 2e9)
    seen = [(e.callsign, e.kind, e.zone_id) for e in events]
    assert seen == [
        ("AFR34ZG", "predicted_entry", "DEMO-TRA-CENTRE"),
        ("AFR34ZG", "entry", "DEMO-TRA-CENTRE"),
        ("AFR34ZG", "exit", "DEMO-TRA-CENTRE"),
        ("AFR34ZG", "predicted_entry", "DEMO-R-APPROACH"),
        ("AFR34ZG", "entry", "DEMO-R-APPROACH"),
        ("AFR34ZG", "exit", "DEMO-R-APPROACH"),
        ("THY9BP", "suspect_position", "UKLV"),
    ]
    # the same events as a batch audit of the same files (the frames decoded by skyfence)
    frames = Path(str(files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"))
    audited: list[Event] = []
    run_audit(
        [frames], Engine(load_zones("demo") + load_zones("ukraine")), [], on_events=audited.extend
    )
    assert [e.id for e in audited] == [e.id for e in events[:6]]
    # the spoofed fixes are kept as evidence, every one of them, and never trusted
    quarantined = [p for p in thy if not p["trusted"]]
    assert len(quarantined) == 741  # the first: the last real position re-sent, frozen
    assert {p["reason"] for p in quarantined} <= {
        "frozen_position",
        "outside_flight_envelope",
        "impossible_jump",
    }
    assert [a["callsign"] for a in picture] == ["THY9BP"]  # the picture of the last replay
    # one count, explained: the distinct spoofed reports (OpenSky repeats each a second) and
    # the fixes the store quarantined, as the store holds them
    spoofed = [p for p in quarantined if p["reason"] == "outside_flight_envelope"]
    said = " ".join(run.stdout.split())
    assert f"{len(spoofed):,} position reports of THY9BP (repeated in " in said
    assert f"skyfence quarantined {len(quarantined):,} fixes ({len(spoofed):,} " in said
    assert "reports a suspect position and no entry" in said
    # what to run next, with this store and a real event of it: it works as printed
    entry_id = next(e.id for e in events if e.kind == "entry")
    assert f"skyfence report {entry_id} --store {store_path}" in run.stdout
    page = tmp_path / "entry.html"
    run = skyfence("report", entry_id, "--store", store_path, "-o", page)
    assert run.returncode == 0 and "AFR34ZG" in page.read_text()


def test_a_missing_store_is_named_and_the_demo_store_pointed_to(
    demo_store_path: Path, tmp_path: Path
) -> None:
    default = tmp_path / "skyfence" / "events.sqlite"
    run = skyfence("report", "some-id", data_home=tmp_path)
    assert run.returncode == 2 and f"no event store at {default}" in run.stderr
    assert "run `skyfence demo`" in run.stderr
    (tmp_path / "skyfence").mkdir()
    demo_copy = tmp_path / "skyfence" / "demo.sqlite"
    demo_copy.write_bytes(demo_store_path.read_bytes())
    for command in (("report", "some-id"), ("serve",), ("export", "events", "-o", "e.csv")):
        run = skyfence(*command, data_home=tmp_path)
        assert run.returncode == 2, run.stderr
        assert f"the demo's events are in {demo_copy}: give --store {demo_copy}" in run.stderr


def test_reports_and_exports_from_the_store(demo_store_path: Path, tmp_path: Path) -> None:
    with EventStore(demo_store_path) as store:
        exit_id = store.query(EventFilter(kind="exit"))[0].id
    page = tmp_path / "incident.html"
    run = skyfence("report", exit_id, "--store", demo_store_path, "-o", page)
    assert run.returncode == 0, run.stderr
    assert "AFR34ZG" in page.read_text() and "data:image/png;base64," in page.read_text()
    run = skyfence(
        "report", "--store", demo_store_path, "--since", "2024-07-06", "-o", tmp_path / "s.html"
    )
    assert run.returncode == 0 and "7 events" in (tmp_path / "s.html").read_text()
    run = skyfence("report", "nope", "--store", demo_store_path)
    assert run.returncode == 2 and "no event 'nope'" in run.stderr
    run = skyfence("report", "--store", tmp_path / "missing.sqlite")
    assert run.returncode == 2 and "no event store at" in run.stderr
    out = tmp_path / "events.geojson"
    run = skyfence("export", "events", "-o", out, "--store", demo_store_path, "--kind", "exit")
    assert run.returncode == 0 and len(json.loads(out.read_text())["features"]) == 2
    run = skyfence("export", "track", "-o", tmp_path / "t.kml", "--store", demo_store_path)
    assert run.returncode == 2 and "needs --icao24" in run.stderr
    run = skyfence("export", "events", "-o", tmp_path / "e.xlsx", "--store", demo_store_path)
    assert run.returncode == 2 and "unknown export type" in run.stderr


def test_audit_writes_events_and_summarises(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "events.jsonl"
    run = skyfence(
        "audit", "--zones", paris_zones_path, "--zones", "ukraine",
        samples / "collections/quickstart.json.gz", samples / "readsb/trace_full_ac671b.json",
        "--out", out, "--since", "2021-10-07T12:30:00Z", "--show", "3",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) > 100
    assert all(e["time"] >= "2021-10-07T12:30:00" for e in events)
    assert "Events per zone and kind" in run.stdout and "CDG-10NM" in run.stdout
    assert f"events written to {out}" in run.stdout.replace("\n", "")


def test_audit_with_a_receiver_quarantines_what_it_cannot_have_heard(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """quickstart as if one receiver in Lyon, 390 km from Paris, had recorded it."""
    out = tmp_path / "events.jsonl"
    recording = samples / "collections/quickstart.json.gz"
    run = skyfence(
        "audit", "-z", paris_zones_path, recording, "--receiver", "45.764,4.836,100",
        "--out", out, "--since", "2021-10-07T13:00:00Z", "--until", "2021-10-07T13:20:00Z",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    reasons = [e["details"]["reason"] for e in events if e["kind"] == "suspect_position"]
    assert reasons and set(reasons) == {"beyond_radio_horizon"}
    run = skyfence("audit", "-z", paris_zones_path, recording, "--receiver", "45.7,north")
    assert run.returncode == 2 and "--receiver '45.7,north': expected LAT,LON" in run.stderr


def test_audit_fails_clearly_on_bad_input(tmp_path: Path, samples: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\x01 not a recording at all")
    run = skyfence("audit", "--zones", "ukraine", garbage)
    assert run.returncode == 2
    assert "garbage.json" in run.stderr
    run = skyfence("audit", "--zones", "ukraine", tmp_path / "missing.json")
    assert run.returncode == 2 and "missing.json: no such file" in run.stderr
    run = skyfence("audit", "--zones", "nowhere.geojson", samples / "noisy/noisy_spoofing.json.gz")
    assert run.returncode == 2 and "nowhere.geojson: cannot read zone file" in run.stderr
    run = skyfence(
        "audit", "-z", "ukraine", samples / "noisy/noisy_spoofing.json.gz", "-o", tmp_path / "e.txt"
    )
    assert run.returncode == 2 and "unknown event file type" in run.stderr
    run = skyfence(
        "audit", "-z", "ukraine", samples / "noisy/noisy_spoofing.json.gz", "--since", "soon"
    )
    assert run.returncode == 2 and "--since" in run.stderr


def test_numbers_without_meaning_are_refused_by_flag(tmp_path: Path) -> None:
    """`audit --lookahead nan` hung (killed by a timeout, nothing printed), `watch --speed nan`
    passed its `< 0` test and `--port 70000` ended in an OverflowError traceback."""
    frames = Path(str(files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"))
    store = tmp_path / "events.sqlite"
    for command, flag, value in [
        ("audit", "--lookahead", "nan"),
        ("audit", "--lost-contact", "-5"),
        ("audit", "--lost-contact", "0"),  # 80 lost contacts on the AFR flight
        ("watch", "--lost-contact", "0"),
        ("watch", "--speed", "nan"),
        ("watch", "--lookahead", "inf"),
        ("watch", "--unhealthy-after", "-1"),
        ("audit", "--lookahead", "36000"),  # took 100 s; 1e9 seemed to hang
    ]:
        where = ["-s", frames, "--store", store] if command == "watch" else [frames]
        run = skyfence(command, "-z", "demo", *where, flag, value)
        assert run.returncode == 2, run.stderr
        refused = f"{flag} must be a finite number >" in run.stderr
        assert refused or f"{flag} must be at most 3600, got 36000" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
    run = skyfence(
        "watch", "-z", "demo", "-s", frames, "--store", store, "--web", "--port", "70000"
    )
    assert run.returncode == 2 and "'--port'" in run.stderr and "Traceback" not in run.stderr
    assert not store.exists()  # refused before anything was opened


def test_an_output_that_is_also_an_input_is_refused_and_the_recording_kept(
    tmp_path: Path,
) -> None:
    """`audit rec.jsonl -o rec.jsonl` emptied the real recording before reading it ("empty
    file"), and `watch -o` on its own recording replaced it with its events; a symbolic link
    to the recording is the same file."""
    frames = Path(str(files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"))
    recording = tmp_path / "frames.jsonl"
    recording.write_bytes(gzip.decompress(frames.read_bytes()))
    original = recording.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(recording)
    store = tmp_path / "events.sqlite"
    for args in [
        ("audit", "-z", "demo", recording, "-o", recording),
        (
            "audit",
            "-z",
            "demo",
            recording,
            "-o",
            tmp_path / "ok.csv",
            "-o",
            tmp_path / "link.jsonl",
        ),
        ("watch", "-z", "demo", "-s", recording, "-o", recording, "--store", store),
    ]:
        run = skyfence(*args)
        assert run.returncode == 2 and "this is also an input" in run.stderr, run.stderr
        assert recording.read_bytes() == original
    assert not store.exists() and not (tmp_path / "ok.csv").exists()


def test_audit_of_a_gzip_bomb_ends_with_a_clear_error(tmp_path: Path) -> None:
    """An OpenSky header then 64 MiB of blank lines in 64 KiB of gzip. Arrow's CSV reader used
    to read the file from a thread of its own, still running at exit after the error: the
    interpreter then died with `terminate called without an active exception` (exit 134) in
    some runs. Each run must end with the message, and exit code 2."""
    bomb = gzip_bomb(tmp_path / "states.csv.gz", OPENSKY_HEADER, b"\n", 64 << 20)
    for _ in range(3):
        run = skyfence("audit", "-z", "ukraine", bomb)
        assert run.returncode == 2, run.stderr
        assert "states.csv.gz: gzip content larger than" in run.stderr.replace("\n", "")
        assert "terminate" not in run.stderr and "Traceback" not in run.stderr


def test_watch_refuses_a_bad_webhook_url_at_start(samples: Path, tmp_path: Path) -> None:
    for url, why in [
        ("http://127.0.0.1:99999/hook", "the port is not a number from 1 to 65535"),
        ("http://127.0.0.1:0/hook", "the port is not a number from 1 to 65535"),
        ("ftp://example.org/hook", "expected http(s)://HOST[:PORT]/PATH"),
    ]:
        run = skyfence(
            "watch", "-z", "ukraine", "-s", samples / "noisy/noisy_spoofing.json.gz",
            "--store", tmp_path / "events.sqlite", "--webhook", url,
        )  # fmt: skip
        assert run.returncode == 2, run.stderr
        assert f"webhook URL '{url}': {why}" in run.stderr.replace("\n", "")
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "events.sqlite").exists()  # refused before anything was opened


def test_zones_commands(tmp_path: Path) -> None:
    run = skyfence("zones", "list")
    assert run.returncode == 0 and "ukraine" in run.stdout and "UKLV" in run.stdout
    run = skyfence("zones", "show", "ukraine")
    assert run.returncode == 0 and "ZNPP-30KM" in run.stdout
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "A", "floor": "FL200", "ceiling": "FL100"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
    ]}))  # fmt: skip
    run = skyfence("zones", "check", bad)
    assert run.returncode == 2 and "floor FL200 is not below ceiling FL100" in run.stderr


def test_import_openair_then_audit(tmp_path: Path) -> None:
    source = Path(__file__).parent / "zones" / "data" / "ksgu_openair.txt"
    out = tmp_path / "ksgu.geojson"
    run = skyfence("zones", "import-openair", source, "-o", out)
    assert run.returncode == 0, run.stderr
    zones = load_zones(out)
    assert len(zones) == 6
    run = skyfence("zones", "check", out)
    assert run.returncode == 0 and "OK: 6 zones" in run.stdout


def test_malformed_rows_are_counted_and_reported(samples: Path, tmp_path: Path) -> None:
    """An OpenSky CSV with two broken rows: the rest is audited, the two are reported."""
    csv = tmp_path / "states.csv"
    csv.write_text(
        "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,"
        "baroaltitude,geoaltitude,lastposupdate,lastcontact\n"
        "1726563870,4baac6,49.67,23.98,26.2,260.9,0,THY9BP,False,False,False,1000,11582,11887,"
        "1726563869,1726563870\n"
        "1726563871,4baac6,not-a-latitude,23.98,26.2,260.9,0,THY9BP,False,False,False,1000,11582,"
        "11887,1726563870,1726563871\n"
        "1726563872,4baac6,49.67\n"
        "1726563873,4baac6,49.67,23.97,26.2,260.9,0,THY9BP,False,False,False,1000,11582,11887,"
        "1726563872,1726563873\n"
    )
    run = skyfence("audit", "-z", "ukraine", csv)
    assert run.returncode == 0, run.stderr
    assert "read " in run.stdout and "as opensky-csv" in run.stdout
    assert "2 malformed rows skipped" in run.stdout
    assert "2 state vectors of 1 aircraft" in run.stdout


def test_traffic_parquet_with_nanosecond_times(samples: Path, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_json(samples / "noisy/noisy_spoofing.json.gz")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    path = tmp_path / "spoofing.parquet"
    frame.to_parquet(path)
    run = skyfence("audit", "-z", "ukraine", path)
    assert run.returncode == 0, run.stderr
    assert "as traffic-parquet" in run.stdout and "741 quarantined" in run.stdout


def test_watch_replays_stores_and_delivers(samples: Path, tmp_path: Path) -> None:
    """A recording replayed by `watch`: the event is printed, stored and POSTed to a webhook
    (a real HTTP server on 127.0.0.1), with the event id as idempotency key."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[str, dict[str, object]]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Idempotency-Key"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = tmp_path / "events.sqlite"
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        run = skyfence("watch", "-z", "ukraine", "-s", samples / "noisy/noisy_spoofing.json.gz",
                       "--speed", "0", "--store", store, "--webhook", url)  # fmt: skip
    finally:
        server.shutdown()
    assert run.returncode == 0, run.stderr
    assert "suspect_position UKLV" in run.stdout and "1 event (1 suspect_position)" in run.stdout
    assert len(received) == 1
    key, event = received[0]
    assert event["kind"] == "suspect_position" and key == event["id"]

    from skyfence.store.events import EventStore

    with EventStore(store) as reopened:
        stored = reopened.get(key)
        assert stored is not None and stored.to_json() == event  # the body POSTed


CDG_NOTAM = """(T0001/21 NOTAMN
Q)LFFF/QRTCA/IV/BO/W/000/100/4901N00233E010
A)LFPG B)2110071200 C)2110071500
D)DAILY 1330-1400
E)TEMPORARY RESTRICTED AREA WI RADIUS 10NM CENTRED ON 490035N0023252E
F)SFC G)FL100)
"""


def test_zones_import_detects_every_format_and_audit_reads_a_notam_directly(
    samples: Path, tmp_path: Path
) -> None:
    data = Path(__file__).parent / "zones" / "data"
    files_in = [
        data / "notams_published.txt",
        data / "che_ed269_cis_sample.json",
        data / "che_ed318_cis_sample.json",
        data / "tfr_constructed.xml",
        data / "donlon_aixm51_airspaces.xml",
        data / "ksgu_openair.txt",
    ]
    out = tmp_path / "all.geojson"
    run = skyfence("zones", "import", *files_in, "-o", out)
    assert run.returncode == 0, run.stderr
    for name, fmt in zip(
        files_in, ("notam", "ed269", "ed318", "tfr", "aixm", "openair"), strict=True
    ):
        assert f"{name}: {fmt}," in run.stdout.replace("\n", "")
    assert "skipped: line 20 (NOTAM A1240/26): QMRLC is not a restriction" in run.stdout
    assert len(load_zones(out)) == 4 + 1 + 3 + 2 + 3 + 6
    run = skyfence("zones", "check", *files_in)  # --zones takes the published files as they are
    assert run.returncode == 0 and "OK: 19 zones in 6 files" in run.stdout, run.stderr
    assert (
        "3 item(s) skipped as not zones" in run.stderr
        and "QMRLC is not a restriction" in run.stderr
    )

    notam = tmp_path / "cdg.notam"
    notam.write_text(CDG_NOTAM)
    events_out = tmp_path / "events.jsonl"
    run = skyfence(
        "audit", "--zones", notam, samples / "collections/quickstart.json.gz", "-o", events_out
    )
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in events_out.read_text().splitlines()]
    zone_events = [e for e in events if e["kind"] in ("entry", "exit", "predicted_entry")]
    assert {e["zone_id"] for e in zone_events} == {"T0001/21"}
    kinds = {e["kind"] for e in zone_events}
    assert {"entry", "exit", "predicted_entry"} <= kinds

    def moment(text: str) -> str:
        return text[:19]

    # D) DAILY 1330-1400: no incursion outside its half hour, on either side of the boundaries
    for e in zone_events:
        when = e["details"]["predicted_time"] if e["kind"] == "predicted_entry" else e["time"]
        assert "2021-10-07T13:30:00" <= moment(when) <= "2021-10-07T14:00:00", e
    closing = [
        e for e in zone_events if e["kind"] == "exit" and e["details"]["crossing"] == "activation"
    ]
    assert closing and all(moment(e["time"]) == "2021-10-07T14:00:00" for e in closing)


def test_zones_import_refuses_unknown_and_bad_files(tmp_path: Path) -> None:
    unknown = tmp_path / "notes.txt"
    unknown.write_text("nothing to see here\n")
    run = skyfence("zones", "import", unknown)
    assert run.returncode == 2 and "format not recognised from its content" in run.stderr
    bad = tmp_path / "bad.notam"
    bad.write_text(CDG_NOTAM.replace("DAILY 1330-1400", "DAILY SR-SS"))
    run = skyfence("audit", "--zones", bad, tmp_path / "none.json")
    assert run.returncode == 2 and "line 1 (NOTAM T0001/21): D) 'DAILY SR-SS'" in run.stderr
    store = tmp_path / "events.sqlite"  # `-o` to a store by mistake wrote the zones over it
    store.write_bytes(b"SQLite format 3\x00 the events of a year")
    openair = Path(__file__).parent / "zones" / "data" / "ksgu_openair.txt"
    for command in (("zones", "import"), ("zones", "import-openair")):
        run = skyfence(*command, openair, "-o", store)
        assert run.returncode == 2 and "a zone file is GeoJSON" in run.stderr, run.stderr
    assert store.read_bytes() == b"SQLite format 3\x00 the events of a year"


def test_interference_maps_the_spoofed_flight(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    import shapely
    from shapely.geometry import shape

    recording = files("skyfence") / "samples" / "thy9bp_spoofing_2024-09-17.json.gz"
    cells, png = tmp_path / "cells.geojson", tmp_path / "map.png"
    run = skyfence("interference", recording, "-z", "ukraine", "-o", cells, "--png", png)
    assert run.returncode == 0, run.stderr
    assert "where aircraft were spoofed" in run.stdout
    uklv = next(z for z in load_zones("ukraine") if z.id == "UKLV").geometry
    features = json.loads(cells.read_text())["features"]
    claimed = [f for f in features if f["properties"]["claimed"]]
    assert claimed and all(
        uklv.contains(shapely.Point(f["properties"]["lon"], f["properties"]["lat"]))
        for f in claimed
    )
    assert all(shape(f["geometry"]).is_valid for f in features)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    parquet = tmp_path / "cells.parquet"
    run = skyfence("interference", recording, "-o", parquet, "--hour", "2024-09-17T09:00")
    assert run.returncode == 0, run.stderr
    table = pq.read_table(parquet).to_pylist()
    assert {str(r["hour"])[:13] for r in table} == {"2024-09-17 09"}
    assert {r["cell"] for r in table if r["claimed"]} == {
        f["properties"]["cell"]
        for f in claimed
        if f["properties"]["hour"].startswith("2024-09-17T09")
    }


def test_interference_fails_clearly(tmp_path: Path) -> None:
    recording = files("skyfence") / "samples" / "thy9bp_spoofing_2024-09-17.json.gz"
    for args, message in (
        ((), "give -o"),
        (("-o", tmp_path / "cells.csv"), ".geojson or .parquet"),
        (("--png", tmp_path / "map.jpg"), ".png"),
        (("-o", tmp_path / "c.geojson", "--resolution", "12"), "resolution 12"),
    ):
        run = skyfence("interference", recording, *args)
        assert run.returncode == 2 and message in run.stderr, run.stderr
    run = skyfence("interference", tmp_path / "none.json", "-o", tmp_path / "c.geojson")
    assert run.returncode == 2 and "no such file" in run.stderr


HOSTILE = "=\x1b[2J\x00\x07"  # a formula, an ESC sequence that clears the screen, NUL, BEL


def test_a_hostile_callsign_reaches_no_output_raw(tmp_path: Path) -> None:
    """Issue 12: a callsign with control characters made the KML invalid, its ESC sequences
    reached the terminal, and a leading `=` went raw into CSV. The real THY9BP recording with
    its callsign replaced, through watch, export (CLI and API) and the reports."""
    import codecs
    import csv
    import gzip
    import xml.etree.ElementTree as ET

    from fastapi.testclient import TestClient

    from skyfence.web.app import create_app

    sample = files("skyfence") / "samples" / "thy9bp_spoofing_2024-09-17.json.gz"
    recording = json.loads(gzip.decompress(sample.read_bytes()))
    recording["callsign"] = {row: HOSTILE for row in recording["callsign"]}
    hostile = tmp_path / "hostile.json.gz"
    hostile.write_bytes(gzip.compress(json.dumps(recording).encode()))
    store_path = tmp_path / "events.sqlite"

    run = skyfence("watch", "--zones", "ukraine", "--source", hostile, "--speed", "0",
                   "--store", store_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "\\x1b[2J\\x00\\x07" in run.stdout  # shown, escaped
    assert not {"\x1b", "\x00", "\x07"} & set(run.stdout + run.stderr)
    with EventStore(store_path) as store:
        (event,) = store.query(EventFilter(kind="suspect_position"))
        assert codecs.decode(event.callsign, "unicode_escape") == HOSTILE  # the evidence
        api = TestClient(create_app(store, "token"))
        api_kml = api.get("/api/export/events", params={"format": "kml"}).text
        api_csv = api.get("/api/export/events", params={"format": "csv"}).text

    for kml in (api_kml, _exported(tmp_path, store_path, "e.kml")):
        names = [n.text for n in ET.fromstring(kml).iter("{http://www.opengis.net/kml/2.2}name")]
        assert "suspect_position =\\x1b[2J\\x00\\x07" in names
    for text in (api_csv, _exported(tmp_path, store_path, "e.csv")):
        (row,) = csv.DictReader(text.splitlines())
        assert row["callsign"] == "'=\\x1b[2J\\x00\\x07"  # no spreadsheet runs it
    track = tmp_path / "t.kml"
    run = skyfence("export", "track", "--icao24", "4baac6", "-o", track, "--store", store_path)
    assert run.returncode == 0 and ET.parse(track).getroot() is not None
    for args in ([event.id], ["--since", "2024-09-17"]):
        page = tmp_path / "report.html"
        run = skyfence("report", *args, "--store", store_path, "-o", page)
        assert run.returncode == 0, run.stderr
        assert "=\\x1b[2J\\x00\\x07" in page.read_text()
        assert not {"\x1b", "\x00", "\x07"} & set(page.read_text())


def _exported(tmp_path: Path, store_path: Path, name: str) -> str:
    run = skyfence("export", "events", "-o", tmp_path / name, "--store", store_path)
    assert run.returncode == 0, run.stderr
    return (tmp_path / name).read_text(encoding="utf-8")


def test_version_and_help_read_well() -> None:
    import skyfence as package

    run = skyfence("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"skyfence {package.__version__}"
    run = skyfence("--help")
    lines = run.stdout.splitlines()
    for command in ("audit", "watch", "serve", "demo", "report", "export", "interference"):
        row = next(line for line in lines if line.startswith(f"│ {command} "))
        assert row.rstrip(" │").endswith("."), row  # one whole sentence, not cut
        following = lines[lines.index(row) + 1]
        assert following.startswith("│ ") and following[2] != " ", following  # not continued
    commands = [(c,) for c in ("audit", "watch", "serve", "demo", "report", "export")]
    commands += [("interference",), ("zones", "show"), ("zones", "check"), ("zones", "import")]
    commands += [("zones", "list"), ("config", "check")]
    for command in [(), *commands]:
        text = skyfence(*command, "--help").stdout
        # every value is named in click's words (PATH, TEXT, FLOAT); a flag, --help included,
        # shows none: no Python annotation such as <list[Path]>, <str> or <bool>
        assert not re.search(r"<(list\[|str|int|float|bool|path)", text, re.IGNORECASE), text
        assert "--help             Show" in text or "--help   " in text, text
    assert "FILE|SET" in skyfence("audit", "--help").stdout


def test_counts_are_singular_for_one(tmp_path: Path) -> None:
    zones = tmp_path / "one.geojson"
    one = json.loads((Path(str(files("skyfence") / "zones" / "data" / "demo.geojson"))).read_text())
    one["features"] = one["features"][:1]
    zones.write_text(json.dumps(one))
    run = skyfence("zones", "check", zones)
    assert run.returncode == 0 and "OK: 1 zone in 1 file" in run.stdout, run.stdout + run.stderr


def test_export_zone_is_case_insensitive_and_an_unknown_zone_refused(
    demo_store_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "uklv.csv"
    run = skyfence("export", "events", "-o", out, "--store", demo_store_path, "--zone", "uklv")
    assert run.returncode == 0 and "1 event written" in run.stdout, run.stderr
    assert "UKLV" in out.read_text()
    run = skyfence("export", "events", "-o", out, "--store", demo_store_path, "--zone", "UKXX")
    assert run.returncode == 2 and "--zone UKXX: no such zone in this store" in run.stderr
    assert "DEMO-R-APPROACH" in run.stderr


def test_an_empty_window_or_a_bad_address_is_refused_not_answered_with_an_empty_file(
    demo_store_path: Path, tmp_path: Path
) -> None:
    """`report` and `export` wrote empty files for these, which read as "nothing happened"."""
    store = ["--store", demo_store_path]
    reversed_window = ["--since", "2024-09-18", "--until", "2024-09-17"]
    out = tmp_path / "out.csv"
    for args in [
        ["report", *reversed_window, "-o", tmp_path / "r.html"],
        ["export", "events", "-o", out, *reversed_window],
        ["export", "track", "--icao24", "4baac6", "-o", out, *reversed_window],
    ]:
        run = skyfence(*args, *store)
        assert run.returncode == 2, run.stdout
        assert "--since must be before --until (2024-09-18T00:00:00.000Z is not before" in (
            run.stderr
        )
    run = skyfence("report", "--since", "2025-01-01", "-o", tmp_path / "r.html", *store)
    assert run.returncode == 2 and "the time of the store's last event" in run.stderr
    for what in ("track", "events"):
        run = skyfence("export", what, "--icao24", "zzzzzz", "-o", out, *store)
        assert run.returncode == 2 and "--icao24 'zzzzzz': not an ICAO 24-bit address" in (
            run.stderr
        )
    assert not out.exists() and not (tmp_path / "r.html").exists()
    copy = tmp_path / "store.sqlite"  # `-o` over the store itself wrote the page over every event
    copy.write_bytes(demo_store_path.read_bytes())
    before = copy.read_bytes()
    run = skyfence("report", "--since", "2024-07-06", "--store", copy, "-o", copy)
    assert run.returncode == 2 and "a report is an HTML file" in run.stderr
    assert copy.read_bytes() == before
    run = skyfence("export", "track", "--icao24", "4BAAC6", "-o", out, *store)
    assert run.returncode == 0 and "fixes written" in run.stdout and "THY9BP" in out.read_text()


def test_since_reports_no_event_before_it(tmp_path: Path) -> None:
    """--since 07:23:41.6Z falls between the two fixes around AFR34ZG's crossing into
    DEMO-TRA-CENTRE (interpolated at 07:23:41.565): the crossing is before the window, so the
    entry reported is the first fix inside it, and nothing is stamped before --since."""
    frames = files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"
    out = tmp_path / "events.jsonl"
    since = "2024-07-06T07:23:41.600Z"
    run = skyfence("audit", "-z", "demo", frames, "--since", since, "-o", out)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events and min(e["time"] for e in events) >= since
    assert (events[0]["kind"], events[0]["time"]) == ("entry", "2024-07-06T07:23:41.656Z")
    # where --since cannot be applied, it is refused rather than ignored
    run = skyfence("audit", "-z", "demo", tmp_path, "--since", since)
    assert run.returncode == 2 and "--since: not applied on a folder" in run.stderr
    spark = ("--engine", "spark", "-o", tmp_path)
    run = skyfence("audit", "-z", "demo", frames, *spark, "--until", since)
    assert run.returncode == 2 and "--until: not applied with --engine spark" in run.stderr


def test_since_and_until_hold_for_positions_older_than_their_sample(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """OpenSky rows carry the time of their position (`lastposupdate`), here 5 s before the
    sample as in its history: quickstart's real traffic written that way reported entries at
    12:59:56 under `--since 13:00`; every event now falls inside [--since, --until)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from scale.opensky_files import opensky_table

    from skyfence.schema import StateVectors
    from skyfence.sources.recordings import read_recording

    sv = StateVectors.concat(list(read_recording(samples / "collections" / "quickstart.json.gz")))
    table = opensky_table(sv)
    column = table.column_names.index("lastposupdate")
    table = table.set_column(column, "lastposupdate", pa.array(sv.t_s - 5.0))
    path = tmp_path / "states.parquet"
    pq.write_table(table, path)
    out = tmp_path / "events.jsonl"
    since, until = "2021-10-07T13:00:00.000Z", "2021-10-07T13:30:00.000Z"
    window = ("--since", since, "--until", until)
    run = skyfence("audit", "-z", paris_zones_path, path, *window, "-o", out, "--show", "0")
    assert run.returncode == 0, run.stderr
    times = [json.loads(line)["time"] for line in out.read_text().splitlines()]
    assert len(times) > 100 and min(times) >= since and max(times) < until
