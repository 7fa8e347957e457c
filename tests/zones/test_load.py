"""The registry of zone formats: detection from content, direct use, one `active` everywhere."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from skyfence.engine.zoneset import ZoneSet
from skyfence.settings import EngineSettings
from skyfence.web.app import _with_activity
from skyfence.zones.geojson import zone_display_feature
from skyfence.zones.load import FORMATS, detect, import_text, load_zone_source
from skyfence.zones.model import ZoneError

DATA = Path(__file__).parent / "data"
FILES = {
    "notams_published.txt": "notam",
    "notams_edge_cases.txt": "notam",
    "che_ed269_cis_sample.json": "ed269",
    "che_ed269_geoawareness_1.json": "ed269",
    "che_ed318_cis_sample.json": "ed318",
    "tfr_constructed.xml": "tfr",
    "donlon_aixm51_airspaces.xml": "aixm",
    "ksgu_openair.txt": "openair",
    "../../data/paris_zones.geojson": "geojson",
}


@pytest.mark.parametrize(("name", "fmt"), FILES.items())
def test_every_sample_is_recognised_by_its_content_alone(name: str, fmt: str) -> None:
    text = (DATA / name).read_text(encoding="utf-8")
    assert detect(text[:65536], name) == fmt
    assert load_zone_source(str(DATA / name))  # what --zones does with the file as it is


def test_every_format_module_has_the_registry_interface() -> None:
    for name, module_name in FORMATS.items():
        module = importlib.import_module(module_name)
        assert name == module.NAME and callable(module.sniff) and callable(module.convert)


def test_bundled_names_and_missing_files_keep_their_messages() -> None:
    assert {z.id for z in load_zone_source("ukraine")} >= {"UKLV"}
    with pytest.raises(ZoneError, match=r"cannot read zone file.*bundled zone set"):
        load_zone_source("nowhere.geojson")


def test_unknown_content_is_refused_with_the_known_formats() -> None:
    with pytest.raises(
        ZoneError, match=r"format not recognised from its content \(known: aixm, tfr"
    ):
        import_text("just some words\n", "notes.txt")


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_engine_and_map_agree_on_active_across_schedule_boundaries() -> None:
    """The engine's `active_at` and the map's `active_now` read the same periods: checked on
    each side of every boundary of a schedule crossing midnight and of a weekday schedule."""
    zones = load_zone_source(str(DATA / "notams_edge_cases.txt"))
    compiled = ZoneSet.compile(zones, EngineSettings())
    features = [zone_display_feature(z) for z in zones]
    moments = []
    for zone in zones:
        for start, end in zone.active[:20]:
            moments += [start - 1, start, start + 1, end - 1, end, end + 1]
    for moment in (m for m in moments if np.isfinite(m)):
        engine = compiled.active_at(
            np.arange(len(zones), dtype=np.int32), np.full(len(zones), moment)
        )
        shown = [f["properties"]["active_now"] for f in _with_activity(features, moment)]
        assert engine.tolist() == shown, datetime.fromtimestamp(moment, UTC)
    night = next(i for i, z in enumerate(zones) if z.id == "X0001/26")
    at = np.array(
        [
            t("2026-03-05T21:59:59"),
            t("2026-03-05T22:00"),
            t("2026-03-06T03:59:59"),
            t("2026-03-06T04:00"),
        ]
    )
    assert compiled.active_at(np.full(4, night, np.int32), at).tolist() == [
        False,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "Feature"}', "x.json: a zone file is a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection",\n "features": [\n}', "x.json: line 3: not valid JSON"),
        ('{"type": "FeatureCollection", "features": []}', "x.json: no zones in this geojson file"),
    ],
)
def test_json_that_no_format_claims_gets_the_geojson_reader_s_message(
    text: str, message: str
) -> None:
    with pytest.raises(ZoneError) as raised:
        import_text(text, "x.json")
    assert str(raised.value).startswith(message)


def test_traffic_s_own_airspace_json_is_named_with_how_to_convert_it(samples: Path) -> None:
    firs = samples.parent / "eurocontrol" / "eurofirs.json"
    with pytest.raises(ZoneError) as caught:
        load_zone_source(str(firs))
    message = str(caught.value)
    assert message.startswith(f"{firs}: airspace GeoJSON as the traffic library ships it")
    assert "Eurocontrol FIRs" in message and "IDENT 'EBBU'" in message
    assert "floor and ceiling" in message and "property 'id' is required" not in message


def test_a_traffic_airspace_file_is_named_with_how_to_convert_it(samples: Path) -> None:
    airspace = samples / "airspaces" / "LFBOTMA.json"
    with pytest.raises(ZoneError) as caught:
        load_zone_source(str(airspace))
    message = str(caught.value)
    assert message.startswith(f"{airspace}: an airspace as the traffic library saves it")
    assert "'SIV TOULOUSE'" in message and "one Feature per shape" in message


@pytest.mark.parametrize(
    "name",
    ["che_ed269_cis_sample.json", "che_ed318_cis_sample.json", "../../data/paris_zones.geojson"],
)
def test_json_nested_past_the_recursion_limit_is_refused_naming_the_file(
    tmp_path: Path, name: str
) -> None:
    """A real zone file with one hostile property nested 100,000 deep: a ZoneError naming the
    file, as for a syntax error, not a RecursionError traceback."""
    text = (DATA / name).read_text(encoding="utf-8").rstrip()
    assert text.endswith("}")
    hostile = tmp_path / Path(name).name
    hostile.write_text(text[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert detect(hostile.read_text(encoding="utf-8"), name) == FILES[name]
    with pytest.raises(ZoneError, match=f"{hostile.name}: not a zone file: JSON nested too deeply"):
        load_zone_source(str(hostile))
