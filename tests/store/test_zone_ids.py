"""Zone ids named by a user, found among a real store's (the demo's)."""

from __future__ import annotations

from pathlib import Path

from skyfence.store.events import EventStore
from skyfence.store.zone_ids import no_such_zone, zone_named


def test_an_id_in_any_case_is_the_store_s_and_an_unknown_one_lists_the_known(
    demo_store_path: Path,
) -> None:
    with EventStore(demo_store_path) as store:
        known = store.zone_ids()
    assert zone_named(known, "uklv") == zone_named(known, "UKLV") == "UKLV"
    assert zone_named(known, "demo-r-approach") == "DEMO-R-APPROACH"
    assert zone_named(known, "UKXX") is None
    message = no_such_zone(known)
    assert message.startswith("no such zone in this store (known: ") and "UKLV" in message
    assert no_such_zone([]) == "no such zone in this store (known: none)"
    many = [f"Z{i:03d}" for i in range(40)]
    assert no_such_zone(many).endswith("Z029 and 10 more)")
