"""Incident reports and summaries on the store the demo writes (real flights)."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from shapely import affinity
from shapely.geometry import mapping, shape

from skyfence.reporting.figures import QUARANTINED_COLOUR, TRUSTED_COLOUR, track_map
from skyfence.reporting.incident import MAX_ROWS, html_to_pdf, incident_report, thin
from skyfence.store.events import EventStore
from skyfence.store.rows import EventFilter
from skyfence.zones.frame import split_antimeridian


def images(page: str) -> list[np.ndarray]:
    return [imread(io.BytesIO(base64.b64decode(m))) for m in re.findall(r"base64,([^\"]+)", page)]


def pixels_of(image: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[..., :3] - rgb).max(axis=-1) < 0.02).sum())


@pytest.fixture(scope="module")
def store(demo_store_path: Path) -> EventStore:
    return EventStore(demo_store_path)


def test_an_entry_report_tells_the_whole_story(store: EventStore) -> None:
    events = store.query(EventFilter(icao24="393322", zone_id="DEMO-TRA-CENTRE"))
    warning, entry, exit_ = (next(e for e in events if e.kind == k) for k in
                             ("predicted_entry", "entry", "exit"))  # fmt: skip
    page = incident_report(store, entry.id)
    assert "AFR34ZG" in page and "393322" in page and "France (FR)" in page
    assert "Illustrative temporary reserved area over central France" in page
    assert entry.time_iso in page and exit_.time_iso in page
    inside = exit_.t_s - entry.t_s
    lead = entry.t_s - warning.t_s
    assert f"{inside:,.1f} s" in page and f"{lead:,.1f} s (first warned {warning.time_iso})" in page
    assert "never guides an interception" in page
    track_map, profile = images(page)
    assert track_map.shape[0] <= 700 and track_map.shape[1] <= 900  # cropped to the drawing
    assert profile.shape[:2] == (350, 900)
    assert pixels_of(track_map, TRUSTED_COLOUR) > 500  # the track is drawn
    assert pixels_of(profile, TRUSTED_COLOUR) > 500
    assert pixels_of(track_map, QUARANTINED_COLOUR) == 0  # a clean flight


def test_a_suspect_report_shows_the_quarantined_evidence(store: EventStore) -> None:
    (suspect,) = store.query(EventFilter(kind="suspect_position"))
    page = incident_report(store, suspect.id)
    t = suspect.t_s
    hour = store.positions("4baac6", t - 3600, t + 3600)  # the trusted path it departs from too
    trusted = sum(p["trusted"] for p in hour)
    assert trusted > 0 and len(hour) - trusted == 741  # every quarantined fix, as README counts
    assert f"{trusted} trusted, 741 quarantined fixes within 60 min of the event" in page
    assert "outside_flight_envelope" in page and "Lviv" in page
    assert page.count("<tr class=bad>") == 741  # every quarantined fix listed, trusted thinned
    track_map, _ = images(page)
    assert pixels_of(track_map, QUARANTINED_COLOUR) > 50
    assert pixels_of(track_map, TRUSTED_COLOUR) > 200  # really over Poland


def test_reports_read_as_prose_and_fold_the_evidence(store: EventStore) -> None:
    """No Python reprs in any report of the demo's events; the fixes folded under a summary."""
    for event in store.query(limit=100):
        page = incident_report(store, event.id)
        for repr_mark in ("[{", "None", "['", "{'"):
            assert repr_mark not in page, (event.kind, repr_mark)
        assert page.count("<details>") == 1 and "<table class=verdicts>" in page
    (suspect,) = store.query(EventFilter(kind="suspect_position"))
    page = incident_report(store, suspect.id)
    assert "<th>claimed_zones</th><td>UKLV</td>" in page
    assert "<th>nic</th><td>not reported</td>" in page
    t = suspect.t_s
    hour = store.positions("4baac6", t - 3600, t + 3600)
    spoofed = [p for p in hour if p["reason"] == "outside_flight_envelope"]
    summary = page.split("<table class=verdicts>")[1].split("</table>")[0]
    row = f"<td>{len(spoofed):,}</td><td>{spoofed[0]['time']}</td><td>{spoofed[-1]['time']}</td>"
    assert "quarantined: outside_flight_envelope" in summary and row in summary
    assert f"<td class=ok>trusted</td><td>{sum(p['trusted'] for p in hour):,}</td>" in summary
    entry = store.query(EventFilter(kind="entry"), limit=1)[0]
    a = entry.details["segment"][0]
    assert f"time {a['time']}, lat {a['lat']}" in incident_report(store, entry.id)


def test_unknown_events_are_named(store: EventStore) -> None:
    with pytest.raises(LookupError, match="no event '0123'"):
        incident_report(store, "0123")


@pytest.mark.parametrize("zone_id", ["DEMO-TRA-CENTRE", "DEMO-R-APPROACH"])
@pytest.mark.parametrize("kind", ["predicted_entry", "entry", "exit"])
def test_every_event_of_a_visit_tells_the_same_story(
    store: EventStore, zone_id: str, kind: str
) -> None:
    events = {e.kind: e for e in store.query(EventFilter(icao24="393322", zone_id=zone_id))}
    warning, entry, exit_ = events["predicted_entry"], events["entry"], events["exit"]
    page = incident_report(store, events[kind].id)
    assert f"<th>entry</th><td>{entry.time_iso} (" in page
    assert f"<th>exit</th><td>{exit_.time_iso}</td>" in page
    inside = exit_.t_s - entry.t_s
    assert f"<th>time inside</th><td>{inside:,.1f} s</td>" in page
    lead = entry.t_s - warning.t_s
    assert f"<th>warning lead time</th><td>{lead:,.1f} s (" in page


def test_a_long_track_is_thinned_but_keeps_its_evidence(store: EventStore) -> None:
    (suspect,) = store.query(EventFilter(kind="suspect_position"))
    t = suspect.t_s
    track = store.positions("4baac6", 0, 2e9)  # the whole recording: 1,677 fixes
    rows = thin(track, [t])
    assert len(rows) < len(track)
    assert [p for p in rows if not p["trusted"]] == [p for p in track if not p["trusted"]]
    assert sum(p["trusted"] for p in rows) >= MAX_ROWS // 4  # the flown path stays readable
    assert min(track, key=lambda p: abs(p["time_s"] - t)) in rows
    assert thin(track[:MAX_ROWS], [t]) == track[:MAX_ROWS]


def test_a_window_of_quarantined_fixes_is_listed_whole(store: EventStore) -> None:
    (suspect,) = store.query(EventFilter(kind="suspect_position"))
    t = suspect.t_s
    spoofed = store.positions("4baac6", t - 900, t + 900)  # the stretch of spoofed fixes alone
    assert len(spoofed) > MAX_ROWS and not any(p["trusted"] for p in spoofed)
    assert thin(spoofed, [t]) == spoofed


def test_a_store_without_tracks_still_explains_the_event(
    demo_store_path: Path, tmp_path: Path
) -> None:
    """As an audit writes it: events, no track log. And acknowledged by someone."""
    copy = tmp_path / "audit.sqlite"
    with sqlite3.connect(demo_store_path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
        target.execute("DELETE FROM positions")
    with EventStore(copy) as audit:
        entry = audit.query(EventFilter(kind="entry"))[0]
        audit.acknowledge(entry.id, "duty officer", "seen, ATC informed")
        page = incident_report(audit, entry.id)
    assert "No logged fixes for this aircraft around the event" in page
    assert "base64," not in page
    assert "by duty officer at " in page and "seen, ATC informed" in page
    assert entry.time_iso in page and "AFR34ZG" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_a_report_prints_to_pdf(store: EventStore, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(incident_report(store, store.query(EventFilter(kind="exit"))[0].id))
    html_to_pdf(page, tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_a_scene_across_the_antimeridian_is_drawn_in_one_piece(store: EventStore) -> None:
    """A real entry, its track and its zone moved so the event lies on ±180: the map shows the
    same track at the same scale (as many track pixels), not a line across the whole world."""
    entry = store.query(EventFilter(kind="entry"), limit=1)[0]
    t = entry.t_s
    track = store.positions(entry.icao24, t - 900, t + 900)
    zone = store.event_zone(entry.id)
    assert zone is not None and len(track) > 20
    dlon = 179.99 - entry.lon

    def moved(lon: float) -> float:
        return (lon + dlon + 180) % 360 - 180

    geometry = split_antimeridian(affinity.translate(shape(zone["geometry"]), dlon))
    assert geometry.geom_type == "MultiPolygon"  # the zone itself straddles the line
    moved_zone = {**zone, "geometry": mapping(geometry)}
    moved_track = [{**p, "lon": moved(p["lon"])} for p in track]
    moved_entry = dataclasses.replace(entry, lon=moved(entry.lon))
    assert max(p["lon"] for p in moved_track) - min(p["lon"] for p in moved_track) > 300
    here = imread(io.BytesIO(track_map(track, zone, [entry])))
    there = imread(io.BytesIO(track_map(moved_track, moved_zone, [moved_entry])))
    assert pixels_of(there, TRUSTED_COLOUR) == pytest.approx(
        pixels_of(here, TRUSTED_COLOUR), rel=0.05
    )
