from __future__ import annotations

from skyfence.wording import counted


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "event") == "1 event"
    assert counted(0, "event") == "0 events"
    assert counted(1204, "fix", "fixes") == "1,204 fixes"
    assert counted(1, "fix", "fixes") == "1 fix"
