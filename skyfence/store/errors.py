"""The one error the event store raises for its file (its own module so that `schema` and
`events` can both raise it without importing each other)."""

from __future__ import annotations

from pathlib import Path

from skyfence.errors import SkyfenceError


class StoreError(SkyfenceError, OSError):
    """The event store cannot be opened, read or written; the message names the file."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)
        self.reason = message

    def __reduce__(self) -> tuple[type[StoreError], tuple[Path, str]]:
        return StoreError, (self.path, self.reason)  # picklable across processes


class EventNotFoundError(SkyfenceError, LookupError):
    """No event with this id in the store (a `LookupError`, as a missing key is)."""
