"""The root of every error skyfence raises on purpose, so a program embedding it catches one type.

Each error is also the built-in type it always was (a bad zone or recording is a `ValueError`,
the event store's file an `OSError`, an unknown event a `LookupError`), so code written against
those keeps working. Messages name the file, line or feature, and are the ones the CLI prints.
This module imports nothing: every layer may raise from it.
"""

from __future__ import annotations


class SkyfenceError(Exception):
    """Anything skyfence refuses or cannot do; the message says what and where."""


class InputError(SkyfenceError, ValueError):
    """An argument the library cannot use (a time, a table without the columns it needs...)."""


class ToolError(SkyfenceError, RuntimeError):
    """A program skyfence runs for the user (the PDF printer) is missing or failed."""


class ServerError(SkyfenceError, OSError):
    """The web server could not listen on the address asked for (taken, or not this host's)."""
