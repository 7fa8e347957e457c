"""The rules' options on `audit` and `watch`: a watch list in Plane-Alert's layout, a zone for
watched aircraft only, emergency squawks; bad input named, then the same events either way."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from fakes import squawking
from typer.testing import CliRunner

from skyfence.cli import app

HEADER = (
    "$ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category,$#Link"
)
LISTED = "39CF08,,Air France,Airbus,,Civ,Flag carrier,,,Airlines,"
QUICKSTART = "collections/quickstart.json.gz"


def watchlist(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "plane-alert-db.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_audit_and_its_options(samples: Path, tmp_path: Path, paris_zones_path: Path) -> None:
    good = watchlist(tmp_path, [LISTED])
    runner = CliRunner()
    base = ["audit", str(samples / QUICKSTART), "--zones", str(paris_zones_path)]
    run = runner.invoke(app, [*base, "--watchlist", str(good), "--watched-only-zone", "CDG-10NM"])
    assert run.exit_code == 0, run.output
    assert "watched_aircraft" in run.output and "on the watch list" in run.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nnot-hex,,,\n")
    run = runner.invoke(app, [*base, "--watchlist", str(bad)])
    assert run.exit_code == 2 and "bad.csv:2: 'not-hex' is not an ICAO address" in run.output
    run = runner.invoke(app, [*base, "--watched-only-zone", "NOWHERE", "--watchlist", str(good)])
    assert run.exit_code == 2 and "no zone NOWHERE" in run.output


def test_watch_and_audit_raise_the_rules_events_alike(
    samples: Path, tmp_path: Path, paris_zones_path: Path
) -> None:
    """A real flight squawking 7700 for a stretch, on the list, CDG-10NM for watched aircraft
    only: `watch` (piped, as a service runs it) stores what `audit -o` writes."""
    recording = tmp_path / "flight.jsonl"
    squawking(samples, recording, [range(300, 400)])
    listed = watchlist(tmp_path, ["393322,,Air France,,,Civ,,,,,"])
    rules = ["--watchlist", listed, "--watched-only-zone", "CDG-10NM", "-z", paris_zones_path]
    store, out = tmp_path / "events.sqlite", tmp_path / "events.jsonl"
    watch = skyfence("watch", "-s", recording, "--speed", "0", "--store", store, *rules)
    assert watch.returncode == 0, watch.stderr
    assert "emergency_squawk" in watch.stdout and "watched_aircraft" in watch.stdout
    audit = skyfence("audit", recording, "-o", out, *rules)
    assert audit.returncode == 0, audit.stderr
    audited = [json.loads(line) for line in out.read_text().splitlines()]
    with sqlite3.connect(store) as db:
        stored = db.execute("SELECT id, kind FROM events").fetchall()
    assert sorted(stored) == sorted((e["id"], e["kind"]) for e in audited)
    kinds = [kind for _, kind in stored]
    assert kinds.count("emergency_squawk") == 1 and kinds.count("watched_aircraft") == 1
    (emergency,) = [i for i, kind in stored if kind == "emergency_squawk"]
    page = tmp_path / "report.html"
    report = skyfence("report", emergency, "--store", store, "-o", page)
    assert report.returncode == 0, report.stderr
    assert "<title>skyfence: emergency squawk: AFR34ZG</title>" in page.read_text()
    # a rule's event names no zone: the store's zones are the watched ones, no empty id
    from skyfence.store.events import EventStore

    with EventStore(store) as opened:
        assert "" not in opened.zone_ids() and "CDG-10NM" in opened.zone_ids()
    quiet = skyfence("audit", recording, "-o", tmp_path / "quiet.jsonl", "--no-squawks", *rules)
    assert (
        quiet.returncode == 0 and "emergency_squawk" not in (tmp_path / "quiet.jsonl").read_text()
    )


def skyfence(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, from this checkout."""
    return subprocess.run(
        [sys.executable, "-m", "skyfence", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).parents[2],
    )
