"""ICAO 24-bit address -> State of registry, checked on real addresses from real recordings.

The packaged table is checked three ways: against what airlines and registrations in a real
recording say about their State; against rs1090, a separate implementation (its table descends from
the same dump1090 transcription, so agreement confirms the transcription, while the known
differences are checked one by one); and for consistency with the ICAO block scheme (sizes and
alignment), which catches typos.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skyfence.zones import countries
from skyfence.zones.countries import (
    Allocation,
    country_name,
    country_of,
    country_of_hex,
    default_table,
    load_allocations,
)

CSV_PATH = Path(countries.__file__).parent / "data" / "icao24_allocations.csv"

# Aircraft (ICAO) block sizes the Annex scheme uses; each block is aligned on its own size.
ICAO_BLOCK_SIZES = {1024, 4096, 32768, 262144, 1048576}


def _hex_array(hexes: list[str] | np.ndarray) -> np.ndarray:
    return np.array([int(h, 16) for h in hexes], dtype=np.uint32)


def _reference(rows: tuple[Allocation, ...], address: int) -> str:
    """The obvious first-match scan the flattened table has to reproduce."""
    for row in rows:
        if row.start <= address <= row.end:
            return row.iso2
    return ""


@pytest.fixture(scope="module")
def quickstart() -> pd.DataFrame:
    traffic_samples = pytest.importorskip("traffic.data.samples")
    path = Path(traffic_samples.__file__).parent / "collections" / "quickstart.json.gz"
    # dtype=str keeps addresses such as "400804" from being read as integers.
    df = pd.read_json(path, dtype={"icao24": str, "callsign": str})
    return df[["icao24", "callsign"]].drop_duplicates().reset_index(drop=True)


# --- the table itself ----------------------------------------------------------------------------


def test_table_covers_every_icao_member_state() -> None:
    table = default_table()
    states = [r for r in table.rows if r.iso2]
    codes = {r.iso2 for r in states}
    assert len(codes) == len(states)  # no State listed twice in this table
    assert len(codes) >= 190
    # A few States whose blocks the brief names explicitly, with their exact bounds.
    expected = {
        "UA": (0x508000, 0x50FFFF),
        "RU": (0x100000, 0x1FFFFF),
        "TR": (0x4B8000, 0x4BFFFF),
        "DE": (0x3C0000, 0x3FFFFF),
        "FR": (0x380000, 0x3BFFFF),
        "US": (0xA00000, 0xAFFFFF),
        "CH": (0x4B0000, 0x4B7FFF),
    }
    by_code = {r.iso2: (r.start, r.end) for r in states}
    for code, bounds in expected.items():
        assert by_code[code] == bounds, code


def test_state_blocks_follow_the_icao_block_scheme() -> None:
    """Every State block is a power-of-two ICAO block aligned on its size: catches typos."""
    for row in default_table().rows:
        if not row.iso2:
            continue
        size = row.end - row.start + 1
        assert size in ICAO_BLOCK_SIZES, row
        assert row.start % size == 0, row


def test_state_blocks_do_not_overlap() -> None:
    states = sorted((r for r in default_table().rows if r.iso2), key=lambda r: r.start)
    for before, after in itertools.pairwise(states):
        assert before.end < after.start, (before, after)


def test_csv_has_a_source_header_and_lowercase_hex() -> None:
    lines = CSV_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#")
    assert any("Annex 10" in line for line in lines if line.startswith("#"))
    data = [line for line in lines if line and not line.startswith("#")]
    assert data[0] == "start,end,country,iso2"
    for line in data[1:]:
        start, end = line.split(",")[:2]
        assert start == start.lower() and len(start) == 6
        assert end == end.lower() and len(end) == 6


# --- known real addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "iso2"),
    [
        ("4baac6", "TR"),  # THY9BP, Turkish Airlines, TC-JVF
        ("4bb285", "TR"),  # THY2EB in the traffic quickstart sample
        ("392ae2", "FR"),  # AFR76SV, F-GKXC
        ("3c6647", "DE"),  # AHO743C, D-AIRG
        ("4b1805", "CH"),  # SWR63M
        ("a06310", "US"),  # FDX5046, N124FE
        ("c01753", "CA"),  # ACA871, C-FIVQ
        ("86e430", "JP"),  # JAL45, JA863J
        ("7810bc", "CN"),  # CCA574
        ("4d21ec", "MT"),  # RYR1515, a Malta Air aircraft (9H-)
        ("4241bb", "GB"),  # VPCAL: Cayman Islands marks, a UK territory in the UK block
        ("899000", "TW"),  # ICAO special-use block used for Taiwan
        ("508000", "UA"),
        ("50ffff", "UA"),
        ("100000", "RU"),
        ("1fffff", "RU"),
        ("000000", ""),  # not an address
        ("ffffff", ""),  # reserved
        ("f00001", ""),  # ICAO temporary block: no State
        ("517000", ""),  # EUR/NAT reserve, not allocated to any State
    ],
)
def test_known_addresses(address: str, iso2: str) -> None:
    assert country_of_hex(address) == iso2
    assert country_of(_hex_array([address]))[0] == iso2


def test_block_edges_are_inclusive() -> None:
    for code, start, end in [("UA", 0x508000, 0x50FFFF), ("CH", 0x4B0000, 0x4B7FFF)]:
        got = country_of(np.array([start - 1, start, end, end + 1], dtype=np.uint32))
        assert got[1] == got[2] == code
        assert got[0] != code and got[3] != code
    # Switzerland and Turkey are adjacent: the boundary must fall exactly between them.
    assert list(country_of(np.array([0x4B7FFF, 0x4B8000], dtype=np.uint32))) == ["CH", "TR"]


def test_country_names() -> None:
    assert country_name("UA") == "Ukraine"
    assert country_name("fr") == "France"
    assert country_name("TW") == "Taiwan"
    assert country_name("") == ""
    assert country_name(country_of_hex("4baac6")) == "Türkiye"
    with pytest.raises(KeyError, match="XX"):
        country_name("XX")


def test_country_of_hex_rejects_bad_text() -> None:
    assert country_of_hex(" 0x4BAAC6 ") == "TR"
    for bad in ["", "xyz", "1000000", "4baac6x", "-1"]:
        with pytest.raises(ValueError, match="24-bit"):
            country_of_hex(bad)


# --- a real recording ----------------------------------------------------------------------------

# Operators whose fleet is registered in their home State (checked on the sample below).
OPERATOR_STATE = {
    "AFR": "FR",  # Air France
    "TVF": "FR",  # Transavia France
    "DLH": "DE",  # Lufthansa (absent from this sample, kept for other recordings)
    "KLM": "NL",
    "AUA": "AT",
    "EJU": "AT",  # easyJet Europe
    "SWR": "CH",
    "THY": "TR",
    "PGT": "TR",  # Pegasus
    "VLG": "ES",  # Vueling
    "IBE": "ES",
    "AEA": "ES",  # Air Europa
    "TAP": "PT",
    "EIN": "IE",
    "BAW": "GB",
    "EZY": "GB",
    "CSA": "CZ",
    "QTR": "QA",
    "UAE": "AE",
    "ETD": "AE",
    "SVA": "SA",
    "ELY": "IL",
    "MSR": "EG",
    "DAH": "DZ",
    "TAR": "TN",
    "JAL": "JP",
    "CCA": "CN",
    "ACA": "CA",
    "DAL": "US",
    "FDX": "US",
}


def test_airline_callsigns_map_to_the_airline_state(quickstart: pd.DataFrame) -> None:
    df = quickstart.assign(
        prefix=quickstart.callsign.str[:3],
        iso2=country_of(_hex_array(quickstart.icao24.tolist())),
    )
    seen = df[df.prefix.isin(list(OPERATOR_STATE))]
    expected = seen.prefix.map(OPERATOR_STATE)
    wrong = seen[seen.iso2 != expected]
    assert wrong.empty, wrong
    # The property is statistical: it must rest on many aircraft, Air France above all.
    assert seen.icao24.nunique() >= 120
    assert seen[seen.prefix == "AFR"].icao24.nunique() >= 50
    assert seen.prefix.nunique() >= 20


def test_registration_callsigns_match_nationality_marks(quickstart: pd.DataFrame) -> None:
    """Aircraft flying under their registration: the nationality mark names the State."""
    marks = {
        "FHHCB": "FR",  # F-HHCB
        "FHMAC": "FR",
        "DCARO": "DE",  # D-CARO
        "DFORH": "DE",
        "DITRA": "DE",
        "OHJRJ": "FI",  # OH-JRJ
        "OHDEN": "FI",
        "IWALK": "IT",  # I-WALK
        "N10XG": "US",
        "N518JA": "US",
        "N600FR": "US",
        "T7DSD": "SM",  # San Marino, a 1024-address block
        "S5CES": "SI",  # Slovenia, a 1024-address block
        "VPCAL": "GB",  # VP-CAL, Cayman Islands: a UK territory, so the UK block
    }
    rows = quickstart[quickstart.callsign.isin(list(marks))]
    assert set(rows.callsign) == set(marks)
    got = country_of(_hex_array(rows.icao24.tolist()))
    assert list(got) == [marks[c] for c in rows.callsign]


def test_every_address_in_the_recording_is_allocated(quickstart: pd.DataFrame) -> None:
    addresses = _hex_array(sorted(quickstart.icao24.unique()))
    assert len(addresses) > 200
    assert (country_of(addresses) != "").all()


def _rs1090_iso2(address: str) -> str:
    """rs1090 returns a flag emoji; its two regional-indicator letters are the ISO code."""
    rs1090 = pytest.importorskip("rs1090")
    flag = rs1090.aircraft_information(address).get("flag") or ""
    if len(flag) != 2 or not all(0x1F1E6 <= ord(c) <= 0x1F1FF for c in flag):
        return ""  # white flag: unknown, unassigned or ICAO block
    return "".join(chr(ord(c) - 0x1F1E6 + ord("A")) for c in flag)


def test_agrees_with_rs1090_on_the_recording(quickstart: pd.DataFrame) -> None:
    addresses = sorted(quickstart.icao24.unique())
    ours = country_of(_hex_array(addresses))
    theirs = [_rs1090_iso2(a) for a in addresses]
    disagreements = [(a, o, t) for a, o, t in zip(addresses, ours, theirs, strict=True) if o != t]
    for address, o, t in disagreements:
        print(f"{address}: skyfence {o or '-'} rs1090 {t or '-'}")
    assert len(disagreements) <= 0.05 * len(addresses)


def test_disagreements_with_rs1090_are_the_known_ones() -> None:
    """Probe both sides of every block edge and explain each difference with rs1090.

    rs1090 (like tar1090) widens each 1024-address State block to the 2048-aligned pair that
    contains it, and lacks the six States allocated after amendment 88-A. The Annex scheme has no
    2048-address blocks, so in both cases this table is the one following ICAO.
    """
    table = default_table()
    states = {r.iso2: r for r in table.rows if r.iso2}
    probes = sorted(
        {
            a
            for r in table.rows
            for a in (r.start - 1, r.start, r.end, r.end + 1)
            if 0 <= a <= 0xFFFFFF
        }
    )
    ours = country_of(np.array(probes, dtype=np.uint32))
    unexplained = []
    later_states = {"AD", "DM", "KN", "SS", "TL", "TV"}
    for address, o in zip(probes, ours, strict=True):
        t = _rs1090_iso2(f"{address:06x}")
        if o == t:
            continue
        if o == "" and t in states:
            row = states[t]
            widened = row.end - row.start + 1 == 1024 and address // 2048 == row.start // 2048
            if widened:
                continue
        if t == "" and o in later_states:
            continue
        unexplained.append((f"{address:06x}", o, t))
    assert not unexplained


# --- nesting and the flattened lookup ------------------------------------------------------------


def test_nested_block_from_the_real_table_wins() -> None:
    """Ukraine's block sits inside the EUR/NAT reserve; the Ukraine row comes first and wins."""
    rows = default_table().rows
    ukraine = next(i for i, r in enumerate(rows) if r.iso2 == "UA")
    reserve = next(i for i, r in enumerate(rows) if r.country == "Reserved (EUR and NAT regions)")
    assert rows[reserve].start <= rows[ukraine].start <= rows[ukraine].end <= rows[reserve].end
    assert ukraine < reserve
    got = country_of(np.array([0x508000, 0x50ABCD, 0x517000, 0x5FFFFF], dtype=np.uint32))
    assert list(got) == ["UA", "UA", "", ""]


def test_first_match_wins_with_two_states(tmp_path: Path) -> None:
    """A sub-block (Hong Kong inside China, as tar1090 lists it) listed first takes precedence."""
    text = CSV_PATH.read_text(encoding="utf-8")
    china = "780000,7bffff,China,CN\n"
    assert china in text
    path = tmp_path / "nested.csv"
    path.write_text(text.replace(china, "789000,789fff,Hong Kong,HK\n" + china), encoding="utf-8")
    table = load_allocations(path)
    got = table.country_of(np.array([0x788FFF, 0x789000, 0x789ABC, 0x789FFF, 0x78A000]))
    assert list(got) == ["CN", "HK", "HK", "HK", "CN"]


def test_enclosing_block_listed_first_is_an_error(tmp_path: Path) -> None:
    """Reversing the order would make the nested row unreachable; the loader names that row."""
    text = CSV_PATH.read_text(encoding="utf-8")
    reserve = "500000,5fffff,Reserved (EUR and NAT regions),\n"
    text = text.replace(reserve, "")
    text = text.replace("start,end,country,iso2\n", "start,end,country,iso2\n" + reserve)
    path = tmp_path / "reversed.csv"
    path.write_text(text, encoding="utf-8")
    albania_line = text.splitlines().index("501000,5013ff,Albania,AL") + 1
    with pytest.raises(ValueError, match=rf"reversed\.csv, line {albania_line}: .*hidden"):
        load_allocations(path)


def test_vectorised_matches_scalar_loop() -> None:
    table = default_table()
    edges = {a for r in table.rows for a in (r.start - 1, r.start, r.end, r.end + 1)}
    rng = np.random.default_rng(20211007)
    random = rng.integers(0, 1 << 24, size=3000)
    addresses = np.array(sorted(a for a in edges | set(random.tolist()) if 0 <= a < 1 << 24))
    vectorised = country_of(addresses.astype(np.uint32))
    assert vectorised.dtype == object
    assert list(vectorised) == [_reference(table.rows, int(a)) for a in addresses]
    assert list(vectorised) == [country_of_hex(f"{a:06x}") for a in addresses]


def test_shape_dtypes_and_out_of_range() -> None:
    grid = np.array([[0x4BAAC6, 0x392AE2], [0x000000, 0x508000]], dtype=np.uint32)
    got = country_of(grid)
    assert got.shape == (2, 2)
    assert got.tolist() == [["TR", "FR"], ["", "UA"]]
    assert list(country_of(np.array([0x4BAAC6, -1, 1 << 24, 1 << 32], dtype=np.int64))) == [
        "TR",
        "",
        "",
        "",
    ]
    assert country_of(np.array([], dtype=np.uint32)).shape == (0,)
    with pytest.raises(TypeError, match="integer"):
        country_of(np.array([1.5]))


# --- malformed files -----------------------------------------------------------------------------

HEADER = "# comment\nstart,end,country,iso2\n"


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("4B8000,4bffff,Turkey,TR\n", 3, "6 lowercase hex"),
        ("4b8000,4bfff,Turkey,TR\n", 3, "6 lowercase hex"),
        ("4bffff,4b8000,Turkey,TR\n", 3, "after end"),
        ("4b8000,4bffff,Turkey\n", 3, "4 fields"),
        ("4b8000,4bffff,Turkey,tur\n", 3, "iso2"),
        ("4b8000,4bffff,,TR\n", 3, "country name is empty"),
        ("# ok\n4b8000,4bffff,Turkey,TR\n901000,9013ff,Cook Islands,TR\n", 5, "iso2 TR"),
        ("4b0000,4bffff,Both,\n4b8000,4bffff,Turkey,TR\n", 4, "hidden"),
    ],
)
def test_malformed_csv_names_file_and_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad\.csv, line {line}: .*{message}"):
        load_allocations(path)


def test_missing_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("4b8000,4bffff,Turkey,TR\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"noheader\.csv, line 1: expected header"):
        load_allocations(path)
    path.write_text("# only comments\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no header"):
        load_allocations(path)
