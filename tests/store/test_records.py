"""The typed record the store hands back, on the store the demo writes (two real recordings)."""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import shutil
import sqlite3
from datetime import UTC
from pathlib import Path

import pytest

from skyfence.engine.events import EVENT_COLUMNS
from skyfence.errors import SkyfenceError
from skyfence.store.errors import EventNotFoundError
from skyfence.store.events import EventStore
from skyfence.store.rows import EventFilter


@pytest.fixture()
def store_path(demo_store_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"  # a copy: acknowledgements stay in this test
    shutil.copy(demo_store_path, path)
    return path


def test_each_record_carries_its_time_once_as_a_utc_datetime_and_unix_seconds(
    store_path: Path,
) -> None:
    with contextlib.closing(sqlite3.connect(store_path)) as conn:
        written = dict(conn.execute("SELECT id, time FROM events").fetchall())
    with EventStore(store_path) as store:
        stored = store.query(limit=100)
    assert len(stored) == len(written) == 7
    for record in stored:
        assert record.time.tzinfo == UTC
        assert record.time.timestamp() == pytest.approx(record.t_s, abs=5e-4)
        assert record.time_iso == written[record.id]  # the text the writer stored, as it is
        shown = record.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert shown == record.time_iso  # the datetime is the same moment, to the ms
        assert list(record.to_json()) == list(EVENT_COLUMNS)
        assert record.to_json()["time"] == written[record.id]
        assert isinstance(record.details, dict)
        assert record.zone_version == 1 and record.acknowledgement is None
    suspect = next(r for r in stored if r.kind == "suspect_position")
    assert suspect.details["reason"] == "outside_flight_envelope"


def test_the_live_stream_and_the_queries_read_the_same_records(store_path: Path) -> None:
    with EventStore(store_path) as store:
        after, last = store.events_after(0)
        by_time = store.query(limit=100)
        assert last == store.last_rowid() == max(r.rowid or 0 for r in after)
        assert [r.rowid for r in after] == sorted(r.rowid or 0 for r in after)
        assert sorted(after, key=lambda r: r.id) == sorted(by_time, key=lambda r: r.id)
        assert store.events_after(last) == ([], last)


def test_an_acknowledgement_rides_with_the_record_and_only_the_api_shows_it(
    store_path: Path,
) -> None:
    with EventStore(store_path) as store:
        (suspect,) = store.query(EventFilter(kind="suspect_position"))
        acked = store.acknowledge(suspect.id, "duty analyst", "really over Poland")
        assert acked.acknowledgement is not None
        assert acked.acknowledgement.at.tzinfo == UTC
        assert dataclasses.replace(acked, acknowledgement=None) == suspect
        assert acked.to_json() == suspect.to_json()  # a webhook's body does not change
        assert acked.to_json(acknowledged=True)["acknowledged"] == {
            "at": acked.acknowledgement.at_iso,
            "by": "duty analyst",
            "note": "really over Poland",
        }
        assert suspect.to_json(acknowledged=True)["acknowledged"] is None
        assert store.get(suspect.id) == acked == store.query(EventFilter(kind=suspect.kind))[0]


HOSTILE_BY = "\u202eduty\x1b[2J analyst"  # a right-to-left override, an ESC clearing a screen
HOSTILE_NOTE = "seen\x00, ATC\u2066 informed\x07"


def test_an_acknowledgements_controls_and_overrides_are_escaped_as_text_from_the_air(
    store_path: Path,
) -> None:
    """`by` and `note` come from whoever holds the token: stored and read with every control,
    bidirectional or invisible character as its Python escape (`skyfence.text`), as callsigns."""
    with EventStore(store_path) as store:
        entry, suspect = store.query(EventFilter(kind="entry"))[0], store.query()[-1]
        acked = store.acknowledge(entry.id, HOSTILE_BY, HOSTILE_NOTE)
        assert acked.acknowledgement is not None
        assert acked.to_json(acknowledged=True)["acknowledged"]["by"] == (
            "\\u202eduty\\x1b[2J analyst"
        )
        assert acked.acknowledgement.note == "seen\\x00, ATC\\u2066 informed\\x07"
    with contextlib.closing(sqlite3.connect(store_path)) as conn:
        stored = conn.execute("SELECT by, note FROM acknowledgements").fetchall()
        assert stored == [(acked.acknowledgement.by, acked.acknowledgement.note)]
        # a store written before: the raw text in it is escaped when read
        conn.execute(
            "INSERT INTO acknowledgements VALUES (?, ?, ?, ?)",
            (suspect.id, 1.7e9, HOSTILE_BY, HOSTILE_NOTE),
        )
        conn.commit()
    with EventStore(store_path) as store:
        old = store.get(suspect.id)
        assert old is not None and old.acknowledgement is not None
        assert (old.acknowledgement.by, old.acknowledgement.note) == (
            acked.acknowledgement.by,
            acked.acknowledgement.note,
        )


def test_an_unknown_event_is_a_lookup_error_naming_it(tmp_path: Path) -> None:
    with EventStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(EventNotFoundError) as caught:
            store.acknowledge("nope", "ops")
        assert store.get("nope") is None
    error = caught.value
    assert isinstance(error, SkyfenceError) and isinstance(error, LookupError)
    assert str(error) == f"no event 'nope' in {tmp_path / 's.sqlite'}"
    assert error.reason == "no event 'nope'"  # what the web API answers: no path
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.event_id, again.path) == (str(error), "nope", error.path)
