"""The command line as a user runs it (a real subprocess, real files)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

from fakes import OPENSKY_HEADER, gzip_bomb

from skyfence.audit import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.store.events import EventStore
from skyfence.zones.geojson import load_zones


def skyfence(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyfence", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )


def test_demo_replays_real_frames_and_quarantines_the_spoofed_flight(tmp_path: Path) -> None:
    store_path = tmp_path / "demo.sqlite"
    run = skyfence("demo", "--no-web", "--store", store_path)
    assert run.returncode == 0, run.stderr
    assert "740 quarantined" not in run.stdout  # watch output, not audit's
    with EventStore(store_path) as store:
        events = store.query(limit=100)
        picture = store.aircraft()
        thy = store.positions("4baac6", 0, 2e9)
    seen = [(e["callsign"], e["kind"], e["zone_id"]) for e in events]
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
    assert [e.id for e in audited] == [e["id"] for e in events[:6]]
    # the spoofed fixes are kept as evidence, every one of them, and never trusted
    quarantined = [p for p in thy if not p["trusted"]]
    assert len(quarantined) == 740
    assert {p["reason"] for p in quarantined} <= {"outside_flight_envelope", "impossible_jump"}
    assert [a["callsign"] for a in picture] == ["THY9BP"]  # the picture of the last replay
    assert "skyfence reports a suspect position and no entry" in run.stdout


def test_reports_and_exports_from_the_store(demo_store_path: Path, tmp_path: Path) -> None:
    with EventStore(demo_store_path) as store:
        exit_id = store.query(kind="exit")[0]["id"]
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
    assert run.returncode == 2 and "no event store here" in run.stderr
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
    assert "as traffic-parquet" in run.stdout and "740 quarantined" in run.stdout


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
    assert "suspect_position UKLV" in run.stdout and "1 events" in run.stdout
    assert len(received) == 1
    key, event = received[0]
    assert event["kind"] == "suspect_position" and key == event["id"]

    from skyfence.store.events import EventStore

    with EventStore(store) as reopened:
        assert reopened.get(key) == event
