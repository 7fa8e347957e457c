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
    """No event with this id in the store (a `LookupError`, as a missing key is). `reason`
    names the event alone: the web API answers with it, and must not show the store's path."""

    def __init__(self, event_id: str, path: str | Path | None = None) -> None:
        self.event_id = event_id
        self.path = None if path is None else Path(path)
        self.reason = f"no event {event_id!r}"
        super().__init__(self.reason if path is None else f"{self.reason} in {path}")

    def __reduce__(self) -> tuple[type[EventNotFoundError], tuple[str, Path | None]]:
        return EventNotFoundError, (self.event_id, self.path)
