from __future__ import annotations

import tomllib

import pytest

from skyfence.config.toml_lines import KeyLines, KeyPath

TEXT = '''# a config
zones = ["demo"]
"quoted key" = 1
web.port = 8080   # a dotted key

notes = """
fake = "not a key: inside a multi-line string"
"""

[[source]]
url = "beast://a"
receiver = { lat = 43.6, lon = 1.4 }

[[source]]
url = "recording.jsonl"

[source.options]
colour = "blue"

[store]
path = "x.sqlite"
'''

CASES: list[tuple[KeyPath, int | None]] = [
    (("zones",), 2),
    (("quoted key",), 3),
    (("web", "port"), 4),
    (("web",), 4),  # the line of its first key
    (("notes",), 6),
    (("fake",), None),  # inside the string: not a key
    (("source",), 10),
    (("source", 0, "url"), 11),
    (("source", 0, "receiver"), 12),
    (("source", 0, "receiver", "lon"), 12),  # inside an inline table: its parent's line
    (("source", 1), 14),
    (("source", 1, "url"), 15),
    (("source", 1, "options"), 17),  # a sub-table of the second [[source]]
    (("source", 1, "options", "colour"), 18),
    (("store", "path"), 21),
    (("store", "size"), 20),  # missing: the nearest table above it
]


@pytest.mark.parametrize(("path", "line"), CASES)
def test_every_key_has_its_line(path: KeyPath, line: int | None) -> None:
    tomllib.loads(TEXT)  # a valid file
    assert KeyLines(TEXT).line(path) == line


def test_a_key_of_an_inline_table_in_a_multiline_array_is_found_below_its_array() -> None:
    text = 'source = [\n  "beast://a",\n  { url = "beast://b",\n    oops = 1 },\n]\n'
    with pytest.raises(tomllib.TOMLDecodeError):  # inline tables are one line in TOML 1.0
        tomllib.loads(text)
    text = 'source = [\n  "beast://a",\n  { url = "beast://b", oops = 1 },\n]\n'
    assert tomllib.loads(text)["source"][1]["oops"] == 1
    assert KeyLines(text).line(("source", 1, "oops")) == 3
