"""The systemd unit docs/deploy.md ships (docs/skyfence.service): systemd accepts it, its
hardening scores as systemd rates it, and its command line runs and stops as the unit expects."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fakes import AFR_CROSSING_ZONE, free_port

UNIT = Path(__file__).parents[1] / "docs" / "skyfence.service"
VENV_COMMAND = "/opt/skyfence/.venv/bin/skyfence"
needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def exec_start() -> list[str]:
    text = UNIT.read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


@needs_systemd
def test_systemd_accepts_the_unit_and_rates_its_exposure_low(tmp_path: Path) -> None:
    unit = tmp_path / "skyfence.service"  # the program need not be installed for the checks
    unit.write_text(UNIT.read_text().replace(VENV_COMMAND, "/bin/true"))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = security.stdout.strip().splitlines()[-1]
    exposure = float(last.split("exposure level for skyfence.service: ")[1].split()[0])
    assert exposure <= 2.0, security.stdout  # systemd calls 0-2.x "OK"


def test_the_unit_s_command_runs_serves_its_health_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    """ExecStart's options, with this machine's paths and ports: it starts, answers /healthz
    and /metrics on --metrics-port, and exits 0 on SIGTERM well within TimeoutStopSec."""
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(AFR_CROSSING_ZONE))
    web, metrics = free_port(), free_port()
    places = {
        "/etc/skyfence/zones.geojson": str(zones),
        "beast://127.0.0.1:30005": f"beast://127.0.0.1:{free_port()}",  # nothing listens
        "/var/lib/skyfence/events.sqlite": str(tmp_path / "events.sqlite"),
        "9108": str(metrics),
    }
    command = exec_start()
    assert command[0] == VENV_COMMAND
    args = [places.get(a, a) for a in command[1:]] + ["--port", str(web)]
    process = subprocess.Popen(
        [sys.executable, "-m", "skyfence", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                health = httpx.get(f"http://127.0.0.1:{metrics}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the metrics port never answered"
                time.sleep(0.2)
        assert health.status_code == 200  # the feed refused for less than --unhealthy-after
        assert (
            "skyfence_feed_connect_failures_total"
            in httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
        )
        assert httpx.get(f"http://127.0.0.1:{web}/healthz", timeout=5).status_code == 200
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)  # TimeoutStopSec
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert process.returncode == 0, err
    assert time.monotonic() - stopped < 10
    assert err.startswith("feed beast://127.0.0.1:") and "connection refused" in err


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 shell is not installed")
def test_an_online_backup_taken_while_the_store_is_written_is_a_whole_store(
    tmp_path: Path, samples: Path, paris_zones_path: Path
) -> None:
    """docs/deploy.md's backup: `sqlite3 FILE ".backup COPY"` while the writer commits."""
    from skyfence.engine.engine import Engine
    from skyfence.schema import StateVectors
    from skyfence.sources.recordings import read_recording
    from skyfence.store.events import EventStore
    from skyfence.zones.geojson import load_zones

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    events = Engine(load_zones(paris_zones_path)).process(sv)
    path, copy = tmp_path / "events.sqlite", tmp_path / "backup.sqlite"
    store = EventStore(path)
    store.write(events[:500])
    store.flush()
    for chunk in range(500, len(events), 100):  # still writing while the copy is taken
        store.write(events[chunk : chunk + 100])
    backup = subprocess.run(
        ["sqlite3", str(path), f".backup {copy}"], capture_output=True, text=True, timeout=60
    )
    store.close()
    assert backup.returncode == 0, backup.stderr
    with EventStore(copy) as restored:
        n = restored.count()
        assert 500 <= n <= len(events)
        assert {r.id for r in restored.query(limit=n)} <= {e.id for e in events}
