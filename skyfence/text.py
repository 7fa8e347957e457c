"""Text that came from the air is not trusted text.

A transmitter chooses its callsign: control characters (an ESC sequence clears a terminal, a
NUL makes an XML file invalid), bidirectional overrides, or a leading `=` that a spreadsheet
runs as a formula. The sources escape such characters once, where strings enter skyfence
(`StateVectors.build`), as Python escapes (`\\x1b`): visible, harmless in every output, and the
original bytes recoverable as evidence (`codecs.decode(text, "unicode_escape")`). Each output
escapes again for its own format, so text stored before, or from elsewhere, is safe too.
"""

from __future__ import annotations

import html
import re
from typing import Any

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ud800-\udfff\ufff9-\uffff]"
)  # C0 and C1 controls, invisible and bidirectional formatting, surrogates, non-characters
_NOT_PLAIN = re.compile(r"[^ -\[\]-~]")  # anything but printable ASCII without the backslash
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP's CSV injection list


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape", "backslashreplace").decode("ascii")


def escape_controls(text: str) -> str:
    """`text` with every control, formatting or invalid character as its Python escape."""
    return _UNSAFE.sub(_escaped, text)


def plain_ascii(text: str) -> str:
    """An identifier from the air (a callsign, a squawk) as printable ASCII: any other
    character, and the backslash, as its Python escape, so the escaping can be undone."""
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")


def is_plain_ascii(text: str) -> bool:
    return _NOT_PLAIN.search(text) is None


def csv_cell(value: Any) -> Any:
    """A CSV cell no spreadsheet runs: controls escaped, and a text starting with a formula
    character prefixed with `'` (OWASP, CSV injection)."""
    if not isinstance(value, str):
        return value
    value = escape_controls(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def html_text(text: str) -> str:
    """Text for an HTML page: markup escaped, controls made visible."""
    return html.escape(escape_controls(text))
