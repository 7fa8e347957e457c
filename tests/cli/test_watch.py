"""`skyfence watch` as a service runs it: restarted, its event file keeps what it wrote."""

from __future__ import annotations

import csv
import json
from importlib.resources import files
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from fakes import run_skyfence

from skyfence.engine.events import EVENT_COLUMNS

SAMPLES = Path(str(files("skyfence") / "samples"))
AFR = ("-z", "demo", "-s", SAMPLES / "af_cdg_tls_2024-07-06.jsonl.gz")
THY = ("-z", "ukraine", "-s", SAMPLES / "thy9bp_spoofing_2024-09-17.json.gz")


def test_a_restarted_watch_appends_to_its_event_file(tmp_path: Path) -> None:
    """Two runs of one service (the AFR flight, then the spoofed THY9BP one): the file a user
    tails holds the first run's events, then the second's; a CSV keeps one header."""
    store = tmp_path / "events.sqlite"
    for name in ("events.jsonl", "events.csv"):
        out = tmp_path / name
        for run_args in (AFR, THY):
            run = run_skyfence("watch", *run_args, "--speed", "0", "--store", store, "-o", out)
            assert run.returncode == 0, run.stderr
        if name.endswith(".jsonl"):
            rows = [json.loads(line) for line in out.read_text().splitlines()]
        else:
            lines = out.read_text().splitlines()
            assert lines[0] == ",".join(EVENT_COLUMNS) and lines.count(lines[0]) == 1
            rows = list(csv.DictReader(lines))
        assert [(r["callsign"], r["kind"]) for r in rows] == [
            *[("AFR34ZG", kind) for kind in ("predicted_entry", "entry", "exit") * 2],
            ("THY9BP", "suspect_position"),
        ]


def test_a_recording_replayed_twice_writes_each_event_once(tmp_path: Path) -> None:
    """The store holds each event once (ids are deterministic), and the event file held the
    replayed recording's events twice: a second replay of the AFR flight (or a restart that
    hears a feed again) writes none of them again, in JSONL, CSV or Parquet parts, and says so."""
    for name in ("events.jsonl", "events.csv", "events.parquet"):
        out = tmp_path / name
        for n in range(2):
            store = tmp_path / f"{name}.{n}.sqlite"  # a store of its own: the file decides
            run = run_skyfence("watch", *AFR, "--speed", "0", "--store", store, "-o", out)
            assert run.returncode == 0, run.stderr
        said = " ".join(run.stdout.split())
        assert f"6 events already in {out}" in said and "not written again" in said, run.stdout
        if name.endswith(".jsonl"):
            ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
        elif name.endswith(".csv"):
            ids = [row["id"] for row in csv.DictReader(out.read_text().splitlines())]
        else:
            parts = [out, *sorted(tmp_path.glob("events.*.parquet"))]
            assert len(parts) == 2
            ids = ds.dataset(parts).to_table().column("id").to_pylist()
        assert len(ids) == len(set(ids)) == 6


def test_a_restarted_watch_writes_the_next_parquet_part(tmp_path: Path) -> None:
    """A Parquet file cannot be appended to: `watch -o events.parquet` refused to start once the
    file existed, so a service restarted by systemd stayed down. Each restart now writes the
    next part beside it (said on stderr), and the parts read as one table hold every run's
    events; a file that is not a Parquet file of events is refused, unchanged."""
    store, out = tmp_path / "events.sqlite", tmp_path / "events.parquet"
    for n, run_args in enumerate((AFR, THY)):
        run = run_skyfence("watch", *run_args, "--speed", "0", "--store", store, "-o", out)
        assert run.returncode == 0, run.stderr
        said = " ".join(run.stderr.split())
        assert (f"this run writes its events to {tmp_path / 'events.1.parquet'}" in said) == (
            n == 1
        ), run.stderr
    damaged = tmp_path / "damaged.sqlite"  # a restart loop on a store that fails to open...
    damaged.write_text("not a database\n")
    for _ in range(2):
        run = run_skyfence("watch", *THY, "--speed", "0", "--store", damaged, "-o", out)
        assert run.returncode == 2 and "damaged.sqlite" in run.stderr, run.stderr
    parts = [out, *sorted(tmp_path.glob("events.*.parquet"))]  # as docs/usage.md reads them
    assert [p.name for p in parts] == ["events.parquet", "events.1.parquet"]  # ...left none
    rows = ds.dataset(parts).to_table().sort_by("time").to_pylist()
    assert [(r["callsign"], r["kind"]) for r in rows] == [
        *[("AFR34ZG", kind) for kind in ("predicted_entry", "entry", "exit") * 2],
        ("THY9BP", "suspect_position"),
    ]

    run = run_skyfence("audit", "-z", "demo", AFR[3], "-o", out)  # a whole answer: replaced
    assert run.returncode == 0, run.stderr
    assert pq.read_table(out).num_rows == 6 and not (tmp_path / "events.2.parquet").exists()

    states = tmp_path / "states.parquet"  # state vectors, as OpenSky writes them: not events
    pq.write_table(pa.table({"icao24": ["393322"], "lat": [43.5], "lon": [1.4]}), states)
    text = tmp_path / "notes.parquet"
    text.write_text("not Parquet at all\n")
    for foreign, why in ((states, "its columns are not skyfence's events"),
                         (text, "not a Parquet file")):  # fmt: skip
        held = foreign.read_bytes()
        new_store = tmp_path / "new.sqlite"
        run = run_skyfence("watch", *THY, "--speed", "0", "--store", new_store, "-o", foreign)
        assert run.returncode == 2
        assert f"{foreign.name}: {why}" in " ".join(run.stderr.split()), run.stderr
        assert foreign.read_bytes() == held and not new_store.exists()
        assert not list(tmp_path.glob(foreign.stem + ".*.parquet"))


def test_a_store_in_a_missing_folder_is_refused_naming_it(tmp_path: Path) -> None:
    """A typo in a service file's `--store` wrote events where nobody looks: refused, the folder
    named and not created. The default store's folder is created (a first run)."""
    typo = tmp_path / "var" / "lib" / "skyfenec" / "events.sqlite"
    for command in (["watch", *AFR, "--speed", "0"], ["demo", "--no-web"]):
        run = run_skyfence(*command, "--store", typo)
        assert run.returncode == 2, run.stderr
        said = " ".join(run.stderr.split())
        assert f"--store {typo}: no folder {typo.parent}" in said, run.stderr
        assert not (tmp_path / "var").exists()
    data_home = tmp_path / "data"
    run = run_skyfence("watch", *AFR, "--speed", "0", env={"XDG_DATA_HOME": str(data_home)})
    assert run.returncode == 0, run.stderr
    assert (data_home / "skyfence" / "events.sqlite").is_file()


def test_an_option_that_takes_one_value_given_twice_is_refused(tmp_path: Path) -> None:
    """`watch -o a.jsonl -o b.csv` wrote b.csv only, and said nothing (click keeps the last
    value): an option that takes one value (`-o`, `--store`, `--config`, `--lost-contact`...)
    given twice is refused by name, before anything is opened. Repeatable ones still repeat:
    two sources, two zone files; `audit -o` writes each file given."""
    store, jsonl, csv_out = tmp_path / "events.sqlite", tmp_path / "a.jsonl", tmp_path / "b.csv"
    for name, twice in (
        ("--out", ("-o", jsonl, "--out", csv_out)),
        ("--store", ("--store", tmp_path / "other.sqlite")),
        ("--lost-contact", ("--lost-contact", "90", "--lost-contact=30")),
    ):
        run = run_skyfence("watch", *AFR, "--speed", "0", "--store", store, *twice)
        assert run.returncode == 2, run.stderr
        said = " ".join(run.stderr.split())
        assert f"'{name}'" in said and "given 2 times, and it takes one value" in said, run.stderr
        assert not store.exists() and not jsonl.exists() and not csv_out.exists()
    both = (*AFR, *THY)  # two zone sets, two recordings
    run = run_skyfence("watch", *both, "--speed", "0", "--store", store, "-o", jsonl)
    assert run.returncode == 0, run.stderr
    assert len(jsonl.read_text().splitlines()) == 7  # both flights' events
    run = run_skyfence("audit", "-z", "demo", AFR[3], "-o", tmp_path / "x.jsonl", "-o", csv_out)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "x.jsonl").is_file() and csv_out.is_file()


def test_a_path_starting_with_a_tilde_is_in_the_home_folder(tmp_path: Path) -> None:
    """`--store '~/events.sqlite'` (quoted, or from a service file that runs no shell) was
    refused for a missing folder `~`, and `-o '~/events.jsonl'` made a folder named `~` in the
    working folder: `~` is the home folder in every path the command line takes (`-z`, `-s`,
    `--store`, `-o`), as in the config file's."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "zones.geojson").write_bytes((SAMPLES.parent / "zones/data/demo.geojson").read_bytes())
    (home / "afr.jsonl.gz").write_bytes(Path(AFR[3]).read_bytes())
    paths = ("-z", "~/zones.geojson", "-s", "~/afr.jsonl.gz", "--store", "~/events.sqlite")
    run = run_skyfence(
        "watch", *paths, "-o", "~/events.jsonl", "--speed", "0", cwd=work, env={"HOME": str(home)}
    )
    assert run.returncode == 0, run.stderr
    assert len((home / "events.jsonl").read_text().splitlines()) == 6
    assert (home / "events.sqlite").is_file() and list(work.iterdir()) == []
    config = home / "etc" / "skyfence.toml"  # `~` in the file is not the file's folder
    config.parent.mkdir()
    config.write_text(
        'zones = ["~/zones.geojson"]\nsource = ["~/afr.jsonl.gz"]\nstore = "~/second.sqlite"\n'
        'out = "~/second.csv"\nspeed = 0\n'
    )
    home_env = {"HOME": str(home)}  # --config is read before the other options: `~` there too
    run = run_skyfence("watch", "--config", "~/etc/skyfence.toml", cwd=work, env=home_env)
    assert run.returncode == 0, run.stderr
    assert (home / "second.sqlite").is_file() and (home / "second.csv").is_file()
    assert list(work.iterdir()) == [] and list(config.parent.iterdir()) == [config]
