"""One check of an audit's options for every path: what a path would not apply is refused."""

from __future__ import annotations

import pytest

from skyfence.audit_options import APPLIED, AuditOptions
from skyfence.errors import InputError
from skyfence.sources.receiver import parse_receiver

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


def test_an_empty_window_is_refused_and_no_option_is_always_fine() -> None:
    with pytest.raises(InputError, match="--since must be before --until"):
        AuditOptions(since_s=2.0, until_s=2.0).check("files", "--")
    for path in APPLIED:
        AuditOptions().check(path)
