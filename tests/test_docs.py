"""The documentation site builds with warnings as errors: a broken link, a reference to an API
name that does not exist, or a page left out of the navigation fails the suite."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_the_site_builds_strictly_and_documents_the_api_and_the_cli(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr

    import skyfence

    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    for name in skyfence.__all__:
        if name != "__version__":
            assert f'id="skyfence.{name}"' in api, name
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    from skyfence.cli import app

    for command in app.registered_commands:
        assert f"skyfence {command.name or command.callback.__name__}" in cli  # type: ignore[union-attr]
    for page in ("reliability", "fuzzing", "benchmarks", "examples/thy9bp"):
        assert (site / page / "index.html").is_file(), page
    benchmarks = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "Benchmark results" in benchmarks  # bench/RESULTS.md, included


def test_the_notebook_example_runs_on_the_real_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cells = runpy.run_path(str(ROOT / "docs" / "examples" / "thy9bp.py"))

    events = cells["events"]
    assert events.kind.tolist() == ["suspect_position"]
    suspect = cells["suspect"]
    assert suspect.zone_id == "UKLV" and suspect.callsign == "THY9BP"
    assert json.loads(suspect.details)["claimed_zones"] == ["UKLV"]
    assert cells["claimed"].sum() > 0  # positions a credulous monitor would have believed
    figure = tmp_path / "thy9bp.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cells["figure"].axes[0].get_legend() is not None
