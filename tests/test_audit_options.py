"""One check of an audit's options for every path: what a path would not apply is refused."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from skyfence.audit_options import APPLIED, AuditOptions
from skyfence.errors import InputError
from skyfence.sources.receiver import parse_receiver

THY9BP = Path(str(files("skyfence") / "samples" / "thy9bp_spoofing_2024-09-17.json.gz"))
EVERY = AuditOptions(
    since_s=1.0, until_s=2.0, format="beast", receiver=parse_receiver("48.8,2.3"), start_s=0.0
)


def test_files_apply_every_option_and_the_others_refuse_what_they_ignore() -> None:
    EVERY.check("files")
    for path in ("folder", "spark", "table"):
        with pytest.raises(InputError) as caught:
            EVERY.check(path, "--")  # type: ignore[arg-type]
        ignored = [name for name in EVERY.given() if name not in APPLIED[path]]  # type: ignore[index]
        assert str(caught.value).startswith(", ".join(f"--{n}" for n in ignored) + ": not applied")


def test_emergency_squawks_run_on_every_path() -> None:
    """`--squawks` is on by default: a path that did not run it would drop emergency_squawk
    events without a word."""
    for path in APPLIED:
        AuditOptions(squawks=True).check(path)


def test_an_empty_window_is_refused_and_no_option_is_always_fine() -> None:
    with pytest.raises(InputError, match="--since must be before --until"):
        AuditOptions(since_s=2.0, until_s=2.0).check("files", "--")
    for path in APPLIED:
        AuditOptions().check(path)


def test_every_path_checks_the_options_it_is_given(tmp_path: Path) -> None:
    """A program calling a path's own function, not the CLI nor `skyfence.audit`, gets the
    same refusals: no path relies on its caller to have checked."""
    from skyfence.auditing import TableReading, audit_table, run_audit
    from skyfence.engine.engine import Engine
    from skyfence.scale.dataset import audit_dataset
    from skyfence.scale.spark import run_spark_audit
    from skyfence.zones.geojson import load_zones

    zones = load_zones("ukraine")
    since = AuditOptions(since_s=1.0)
    with pytest.raises(InputError, match=r"^since: not applied on a folder"):
        audit_dataset(tmp_path, zones, since)
    with pytest.raises(InputError, match=r"^since: not applied with --engine spark"):
        run_spark_audit(None, [str(tmp_path)], zones, since, tmp_path / "events")
    table = TableReading("OpenSky table", iter([]))
    with pytest.raises(InputError, match=r"^format, start: not applied to a table"):
        audit_table("table", table, Engine(zones), [], AuditOptions(format="sbs", start_s=0.0))
    with pytest.raises(InputError, match=r"^since must be before until"):
        run_audit([THY9BP], Engine(zones), [], AuditOptions(since_s=2.0, until_s=1.0))
