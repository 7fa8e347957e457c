"""`skyfence watch --config FILE` and `skyfence config check FILE`, run as a user runs them."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from importlib.resources import files
from pathlib import Path

import typer.main
from fakes import run_skyfence

from skyfence.cli import app
from skyfence.config.file import option_keys

SAMPLES = Path(str(files("skyfence") / "samples"))
FRAMES = SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz"  # AFR34ZG's Mode S frames, CDG to TLS
SPOOFED = SAMPLES / "thy9bp_spoofing_2024-09-17.json.gz"
ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "docs" / "skyfence.toml"


def skyfence(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_skyfence(*args, cwd=cwd, env=env)  # run from another folder


def stored(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The events (but when they were inserted) and the positions of a store."""
    with sqlite3.connect(path) as conn:
        events = conn.execute(
            "SELECT id, kind, zone_id, icao24, callsign, country, time_s, lat, lon, altitude_ft,"
            " details FROM events ORDER BY time_s, id"
        ).fetchall()
        positions = conn.execute("SELECT * FROM positions ORDER BY icao24, time_s").fetchall()
    return events, positions


def test_a_config_file_drives_the_same_watch_as_its_flags(tmp_path: Path) -> None:
    """A real recording replayed through `watch --config`, run from another folder (paths are
    the file's), stores exactly what the same watch given by flags stores."""
    (tmp_path / "recordings").mkdir()
    shutil.copy(FRAMES, tmp_path / "recordings" / FRAMES.name)
    (tmp_path / "station" / "out").mkdir(parents=True)  # a store's folder must exist
    config = tmp_path / "station" / "skyfence.toml"
    config.write_text(
        f"""# a station near Orléans
zones = ["demo"]
speed = 0
lost-contact = 90
receiver = {{ lat = 47.9, lon = 1.9, height_m = 300 }}
store = "out/events.sqlite"
out = "out/events.jsonl"

[[source]]
url = "../recordings/{FRAMES.name}"
""",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    by_file = skyfence("watch", "--config", config, cwd=elsewhere)
    assert by_file.returncode == 0, by_file.stderr
    by_flags = skyfence(
        "watch", "-z", "demo", "-s", tmp_path / "recordings" / FRAMES.name, "--speed", "0",
        "--lost-contact", "90", "--receiver", "47.9,1.9,300",
        "--store", tmp_path / "flags.sqlite", "-o", tmp_path / "flags.jsonl",
        cwd=tmp_path,
    )  # fmt: skip
    assert by_flags.returncode == 0, by_flags.stderr

    store = tmp_path / "station" / "out" / "events.sqlite"
    assert not list(elsewhere.iterdir())  # nothing written where the command ran
    assert by_file.stdout.replace(str(store), "STORE") == by_flags.stdout.replace(
        str(tmp_path / "flags.sqlite"), "STORE"
    )
    events, positions = stored(store)
    assert (events, positions) == stored(tmp_path / "flags.sqlite")
    kinds = {kind for _, kind, *_ in events}
    assert {"entry", "exit", "predicted_entry"} <= kinds
    reasons = {p[-1] for p in positions}
    assert "beyond_radio_horizon" in reasons  # the receiver of the file was applied
    written = (tmp_path / "station" / "out" / "events.jsonl").read_text(encoding="utf-8")
    assert written == (tmp_path / "flags.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line)["id"] for line in written.splitlines()] == [e[0] for e in events]


def test_flags_given_with_the_file_win(tmp_path: Path) -> None:
    """A repeated flag replaces the file's whole list, a single one its value."""
    config = tmp_path / "skyfence.toml"
    config.write_text(
        f'zones = ["demo"]\nsource = ["{SPOOFED}"]\nspeed = 0\nstore = "file.sqlite"\n',
        encoding="utf-8",
    )
    run = skyfence("watch", "--config", config, "-z", "ukraine", "--store", "cli.sqlite",
                   cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "suspect_position UKLV" in run.stdout  # a Ukrainian zone: not the file's demo set
    assert not (tmp_path / "file.sqlite").exists()
    events, _ = stored(tmp_path / "cli.sqlite")
    assert [(kind, zone) for _, kind, zone, *_ in events] == [("suspect_position", "UKLV")]


BROKEN = """zones = ["demo", "missing.geojson"]
lost_contact = 30
webhook = ["https://hooks.example.org/x?token=${SKYFENCE_TEST_UNSET}"]

[[source]]
url = "beast://radar.local:99999"
receiver = { lat = 43.6, lon = 1.4, height = 150 }
"""


def test_config_check_lists_every_problem_and_watch_starts_nothing(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(BROKEN, encoding="utf-8")
    check = skyfence("config", "check", config, cwd=tmp_path)
    assert check.returncode == 2 and check.stdout == ""
    missing = tmp_path / "missing.geojson"
    assert check.stderr.splitlines() == [
        f"error: {config}: 5 problem(s):",
        f"  line 1: {missing}: cannot read zone file: No such file or directory (and it is not "
        "a bundled zone set: demo, ukraine)",
        "  line 2: unknown key 'lost_contact' (did you mean 'lost-contact'?); known: "
        + ", ".join(option_keys(typer.main.get_command(app).commands["watch"])),  # type: ignore[attr-defined]
        "  line 3: webhook[0]: environment variable SKYFENCE_TEST_UNSET is not set",
        "  line 5: invalid feed URI 'beast://radar.local:99999?receiver=43.6,1.4': Port out of "
        "range 0-65535",
        "  line 7: unknown key 'height' in a receiver; known: lat, lon, height_m",
    ]

    watch = skyfence("watch", "--config", config, "--store", "events.sqlite", cwd=tmp_path)
    assert watch.returncode == 2 and "watching" not in watch.stdout
    assert "line 2: unknown key 'lost_contact'" in watch.stderr
    assert "line 3: webhook[0]: environment variable SKYFENCE_TEST_UNSET" in watch.stderr
    assert not (tmp_path / "events.sqlite").exists()


def test_config_check_summarises_the_documented_example(tmp_path: Path) -> None:
    check = skyfence("config", "check", EXAMPLE, cwd=tmp_path,
                     env={"SKYFENCE_WEBHOOK_TOKEN": "t0k3n"})  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"{EXAMPLE}: ") and "2 sources" in check.stdout
    assert "t0k3n" not in check.stdout
