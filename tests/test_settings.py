"""The detection settings refuse numbers that have no meaning, for every caller at once."""

from __future__ import annotations

import math
from importlib.resources import files
from pathlib import Path

import pytest

import skyfence
from skyfence.errors import InputError
from skyfence.settings import MAX_LOOKAHEAD_S, EngineSettings

FRAMES = Path(str(files("skyfence") / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("lookahead_s", math.nan), ("lookahead_s", -1.0), ("lost_contact_s", math.inf),
     ("max_speed_kt", math.nan), ("forget_after_s", -60.0)],
)  # fmt: skip
def test_a_nan_infinite_or_negative_setting_is_refused_by_name(field: str, value: float) -> None:
    bound = "> 0" if field == "lost_contact_s" else ">= 0"  # 0 s is no time to lose contact
    with pytest.raises(InputError, match=f"^{field} must be a finite number {bound}, got {value}$"):
        EngineSettings(**{field: value})


def test_a_nan_lookahead_is_refused_before_the_audit_starts() -> None:
    """`audit(lookahead_s=nan)` on a real recording hung (as `skyfence audit --lookahead nan`
    did); the defaults and an explicit zero still audit it."""
    with pytest.raises(InputError, match="lookahead_s must be a finite number >= 0, got nan"):
        skyfence.audit(FRAMES, "demo", lookahead_s=math.nan)
    assert skyfence.audit(FRAMES, "demo", lookahead_s=0.0).num_rows > 0


def test_a_lost_contact_time_of_zero_is_refused_by_name() -> None:
    """`lost_contact_s=0` declared the AFR flight lost between every two fixes (80 lost
    contacts, with `--lost-contact 0` and `lost-contact = 0` too): a loss needs a time > 0."""
    for value in (0.0, -0.0):
        with pytest.raises(InputError, match=r"^lost_contact_s must be a finite number > 0, got"):
            EngineSettings(lost_contact_s=value)
        with pytest.raises(InputError, match=r"lost_contact_s must be a finite number > 0"):
            skyfence.audit(FRAMES, "demo", lost_contact_s=value)
    assert EngineSettings(lost_contact_s=0.5).lost_contact_s == 0.5


def test_a_lookahead_beyond_an_hour_is_refused() -> None:
    """`audit --lookahead 36000` took 100 s on the AFR frames (1e9 seemed to hang): every fix
    searched zones over the world. An hour is allowed, a second more is not."""
    assert EngineSettings(lookahead_s=MAX_LOOKAHEAD_S).lookahead_s == 3600.0
    with pytest.raises(InputError, match=r"^lookahead_s must be at most 3600, got 3601\.0$"):
        EngineSettings(lookahead_s=3601.0)
