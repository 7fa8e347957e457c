"""Which line of a TOML file holds a key. `tomllib` gives values without positions, and an error
in a file of a hundred lines that does not name its line sends the user hunting; so the text is
scanned once for table headers and `key =` lines, which is all a config file is made of.

A key inside an inline table (`receiver = {lat = 1, lon = 2}`) has its parent's line, or the
first line after it where `key =` appears: inline tables sit on one line in TOML 1.0.
"""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]  # ("source", 0, "receiver", "lat"): tables, array indices, keys

_PART = r"""[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'"""
_DOTTED = rf"(?:{_PART})(?:\s*\.\s*(?:{_PART}))*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=")


def _parts(dotted: str) -> list[str]:
    return [p[1:-1] if p[0] in "\"'" else p for p in re.findall(_PART, dotted)]


class KeyLines:
    """Line numbers (from 1) of the keys and table headers of one TOML text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._text = text.splitlines()
        tables: dict[KeyPath, int] = {}  # array of tables -> how many seen so far
        current: KeyPath = ()
        in_string: str | None = None  # the quote of a multi-line string being skipped
        for number, line in enumerate(self._text, start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = _HEADER.match(line)
            if header:
                array = header.group(1) == "[["
                current = self._table(_parts(header.group(2)), array, tables)
                self._lines.setdefault(current, number)
                if array:  # the array's own line: its first table's
                    self._lines.setdefault(current[:-1], number)
                continue
            key = _KEY.match(line)
            if key:  # `a.b.c = 1` defines a and a.b on this line too
                parts = _parts(key.group(1))
                for n in range(1, len(parts) + 1):
                    self._lines.setdefault((*current, *parts[:n]), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_string = quote

    @staticmethod
    def _table(names: list[str], array: bool, tables: dict[KeyPath, int]) -> KeyPath:
        """The path of a `[table]` or `[[array]]` header, with the index of every array of
        tables it goes through (`[source.receiver]` after two `[[source]]`: source, 1, ...)."""
        path: KeyPath = ()
        for i, name in enumerate(names):
            path = (*path, name)
            if array and i == len(names) - 1:
                tables[path] = tables.get(path, 0) + 1
            if path in tables:
                path = (*path, tables[path] - 1)
        return path

    def line(self, path: KeyPath) -> int | None:
        """The line of `path`, or of the nearest key above it; None when nothing matches."""
        for n in range(len(path), 0, -1):
            found = self._lines.get(path[:n])
            if found is None:
                continue
            for name in path[n:]:  # inside an inline table: look for `name =` from there on
                if isinstance(name, int):
                    continue
                pattern = re.compile(rf"(^|[{{,\s]){re.escape(name)}\s*=")
                for number in range(found, len(self._text) + 1):
                    if pattern.search(self._text[number - 1]):
                        found = number
                        break
            return found
        return None
