"""`skyfence zones show`, run as a user runs it."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def test_a_cap_round_a_pole_shows_its_area(tmp_path: Path) -> None:
    """A cap north of 80°N (its ring along the parallel, closed along the pole, as RFC 7946
    writers give it) showed 0 km²: its parallel edges were measured as geodesics over the pole.
    A box across the antimeridian keeps the area it had."""
    cap = [[-180, 80], [0, 80], [180, 80], [180, 90], [-180, 90], [-180, 80]]
    box = [[179, 10], [-179, 10], [-179, 11], [179, 11], [179, 10]]
    features = [
        {"type": "Feature", "properties": {"id": name}, "geometry": {"type": "Polygon",
         "coordinates": [ring]}}
        for name, ring in (("CAP", cap), ("BOX", box))
    ]  # fmt: skip
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    run = subprocess.run(
        [sys.executable, "-m", "skyfence", "zones", "show", str(path)],
        capture_output=True, text=True, timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    areas = {
        row[0]: float(row[1].replace(",", ""))
        for row in re.findall(r"│ (CAP|BOX) .*?│ ([\d,]+)\s+│ \d+\s+│", run.stdout)
    }
    r_km = 6371.0
    cap_km2 = 2 * math.pi * r_km**2 * (1 - math.sin(math.radians(80)))  # a sphere's cap
    box_km2 = (r_km * math.radians(1)) ** 2 * 2 * math.cos(math.radians(10.5))
    assert areas["CAP"] == pytest.approx(cap_km2, rel=0.02)
    assert areas["BOX"] == pytest.approx(box_km2, rel=0.02)


def test_zone_files_starting_with_a_tilde_are_in_the_home_folder(tmp_path: Path) -> None:
    """`zones show '~/zones.geojson'` and `zones check` (quoted, or from a script that runs no
    shell) were refused for a missing file `~/zones.geojson` in the working folder, though
    `-z '~/zones.geojson'` of watch and audit is in the home folder."""
    from fakes import run_skyfence

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "zones.geojson").write_bytes((ROOT / "tests/data/paris_zones.geojson").read_bytes())
    env = {"HOME": str(home)}
    shown = run_skyfence("zones", "show", "~/zones.geojson", cwd=work, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "PARIS-20KM" in shown.stdout and "HIGH-WEST" in shown.stdout
    checked = run_skyfence("zones", "check", "~/zones.geojson", cwd=work, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "OK: 5 zones in 1 file" in " ".join(checked.stdout.split())
    assert list(work.iterdir()) == []
