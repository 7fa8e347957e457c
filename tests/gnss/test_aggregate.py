"""The interference picture on real recordings: THY9BP's jammed and spoofed minutes show up
where they happened, ordinary traffic shows no spoofing."""

from __future__ import annotations

import gzip
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from skyfence.engine.engine import Engine
from skyfence.gnss.aggregate import HOUR_S, CellCounts, InterferencePicture
from skyfence.gnss.cells import cell_centre
from skyfence.schema import StateVectors
from skyfence.sources.recordings import read_recording
from skyfence.zones.geojson import load_zones

THY9BP = Path(str(files("skyfence") / "samples" / "thy9bp_spoofing_2024-09-17.json.gz"))


def picture_of(path: Path, resolution: int = 4) -> InterferencePicture:
    engine = Engine([], keep_judged=True)
    picture = InterferencePicture(resolution)
    for batch in read_recording(path):
        engine.process(batch)
        picture.add(engine.take_judged())
    return picture


def country_at(lat: float, lon: float) -> str:
    data = (files("skyfence") / "data" / "countries.geojson.gz").read_bytes()
    for feature in json.loads(gzip.decompress(data))["features"]:
        if shape(feature["geometry"]).contains(shapely.Point(lon, lat)):
            return str(feature["properties"]["name"])
    return "sea"


@pytest.fixture(scope="module")
def thy9bp() -> CellCounts:
    return picture_of(THY9BP).counts()


def test_spoofed_positions_claim_cells_inside_lviv_fir(thy9bp: CellCounts) -> None:
    uklv = next(z for z in load_zones("ukraine") if z.id == "UKLV").geometry
    claimed = np.flatnonzero(thy9bp.claimed > 0)
    assert len(claimed) >= 1
    for i in claimed:
        lat, lon = cell_centre(int(thy9bp.cell[i]))
        assert uklv.contains(shapely.Point(lon, lat))
        assert thy9bp.aircraft[i] == 0  # nobody's trusted track was there
    # and the recording's positions inside UKLV are exactly the quarantined ones' region
    sv = StateVectors.concat(list(read_recording(THY9BP)))
    assert shapely.contains_xy(uklv, sv.lon_deg, sv.lat_deg).any()


def test_the_spoofed_aircraft_counts_where_its_trusted_track_was(thy9bp: CellCounts) -> None:
    (spoofed,) = np.flatnonzero(thy9bp.spoofed > 0)
    lat, lon = cell_centre(int(thy9bp.cell[spoofed]))
    assert country_at(lat, lon) == "Romania"  # last trusted fix before the jamming froze it
    assert thy9bp.aircraft[spoofed] == 1 and thy9bp.degraded[spoofed] == 1
    assert thy9bp.hour_s[spoofed] == 1726563600  # 09:00 UTC, when the spoofing began (09:24)


def test_the_jammed_minutes_are_degraded_over_romania(thy9bp: CellCounts) -> None:
    degraded = np.flatnonzero(thy9bp.degraded > 0)
    countries = [country_at(*cell_centre(int(thy9bp.cell[i]))) for i in degraded]
    # the position froze over Romania for 20 minutes while the aircraft kept transmitting
    assert countries.count("Romania") >= 3
    assert set(countries) <= {"Romania", "sea"}  # sea: one gap over the Black Sea after take-off
    nowhere_else = thy9bp.take(~np.isin(np.arange(len(thy9bp)), degraded))
    assert (nowhere_else.degraded == 0).all()


def test_each_aircraft_counts_once_per_cell(thy9bp: CellCounts) -> None:
    assert thy9bp.aircraft.max() == 1 and thy9bp.claimed.max() == 1
    merged = picture_of(THY9BP).counts(merge_hours=True)
    assert len(set(merged.hour_s.tolist())) == 1
    assert merged.aircraft.max() == 1
    assert len(merged) <= len(thy9bp)


def test_clean_traffic_shows_no_spoofing_and_no_jamming(samples: Path) -> None:
    counts = picture_of(samples / "collections" / "quickstart.json.gz").counts()
    assert counts.aircraft.sum() > 1000 and counts.aircraft.max() > 50  # busy Paris cells
    assert counts.spoofed.sum() == 0 and counts.claimed.sum() == 0
    assert counts.degraded.sum() == 0


def test_coarser_cells_hold_the_same_aircraft(samples: Path) -> None:
    path = samples / "collections" / "quickstart.json.gz"
    fine = picture_of(path, 5).counts(merge_hours=True)
    coarse = picture_of(path, 3).counts(merge_hours=True)
    assert len(coarse) < len(fine)
    # an aircraft counts in every cell it crossed: more cells, more counts, never fewer
    assert coarse.aircraft.sum() <= fine.aircraft.sum()


def test_closed_hours_are_forgotten_and_ignored() -> None:
    picture = picture_of(THY9BP)
    hours = sorted(set(picture.counts().hour_s.tolist()))
    picture.close_before(hours[-1])
    assert set(picture.counts().hour_s.tolist()) == {hours[-1]}
    assert picture.closed_before_s == hours[-1]
    with pytest.raises(ValueError, match="resolution 11"):
        InterferencePicture(11)
    assert hours[-1] % HOUR_S == 0
