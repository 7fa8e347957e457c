"""What every command shares: the consoles, errors that end the command, the options that
mean the same everywhere, and where the event store is."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from platformdirs import user_data_dir
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from skyfence.settings import EngineSettings
    from skyfence.sources.receiver import Receiver
    from skyfence.store.events import EventStore
    from skyfence.zones.model import Zone

# long lines stay whole (they are grepped and copied), and tables are not cut at 80 columns
# when the output goes to a file or a pipe
WIDTH = None if sys.stdout.isatty() else 200
console = Console(soft_wrap=True, width=WIDTH)
errors = Console(stderr=True, soft_wrap=True, width=WIDTH)

ZonesOption = Annotated[
    list[str],
    typer.Option(
        "--zones",
        "-z",
        metavar="FILE|SET",
        help="Zone file (GeoJSON, OpenAir, NOTAM, FAA TFR, ED-269, ED-318, AIXM) or bundled "
        "set name, e.g. ukraine.",
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def non_negative_or_fail(
    flag: str, value: float | None, at_most: float = math.inf, *, positive: bool = False
) -> None:
    """A flag's number of seconds (or speed) refused unless finite and >= 0 (> 0 if
    `positive`): `--lookahead nan` made audit hang, and `--speed nan` passed a `< 0` test."""
    from skyfence.errors import InputError
    from skyfence.settings import check_non_negative

    if value is not None:
        try:
            check_non_negative(flag, value, at_most, positive=positive)
        except InputError as exc:
            raise fail(str(exc)) from None


def settings_or_fail(lookahead: float | None, lost_contact: float) -> EngineSettings:
    """The detection settings of `audit` and `watch`, or an error naming the flag."""
    from skyfence.settings import MAX_LOOKAHEAD_S, EngineSettings

    non_negative_or_fail("--lookahead", lookahead, MAX_LOOKAHEAD_S)
    non_negative_or_fail("--lost-contact", lost_contact, positive=True)
    return EngineSettings(lookahead_s=lookahead, lost_contact_s=lost_contact)


def load_or_fail(sources: list[str]) -> list[Zone]:
    from skyfence.zones.load import load_zone_sources
    from skyfence.zones.model import ZoneError

    skipped: list[str] = []
    try:
        zones = load_zone_sources(sources, skipped)
    except ZoneError as exc:
        raise fail(str(exc)) from None
    if skipped:  # other NOTAMs, FIRs...: not zones, and not errors either
        errors.print(f"{len(skipped)} item(s) skipped as not zones:", highlight=False)
        for line in skipped:
            errors.print(f"  {escape(line)}", highlight=False)
    return zones


def receiver_or_fail(text: str) -> Receiver:
    from skyfence.sources.receiver import parse_receiver

    try:
        return parse_receiver(text)
    except ValueError as exc:
        raise fail(f"--{exc}") from None


def time_or_fail(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    from skyfence.zones.geojson import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise fail(f"{name}: {exc}") from None


def outputs_or_fail(inputs: list[str] | list[Path], outputs: list[Path]) -> None:
    """An output file that is also an input is refused before anything is opened: `audit
    rec.jsonl -o rec.jsonl` emptied the recording before reading it, and `watch -o` on its
    own recording replaced it with events."""
    read = {(s.st_dev, s.st_ino): p for p in inputs if (s := _stat(Path(p))) is not None}
    for out in outputs:
        stat = _stat(out)
        if stat is not None and (stat.st_dev, stat.st_ino) in read:
            same = read[stat.st_dev, stat.st_ino]
            raise fail(f"-o {out}: this is also an input ({same}): it would be emptied unread")


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat() if path.is_file() else None
    except OSError:  # a feed URL, or a name too long for a path
        return None


def window_or_fail(start: float | None, end: float | None, defaulted: str = "") -> None:
    """An empty window refused, as `audit` refuses it: `report` and `export` wrote an empty
    file for `--since` after `--until`, which reads as "nothing happened". `defaulted` says
    where an end the user did not give came from."""
    if start is not None and end is not None and start >= end:
        from skyfence.engine.events import iso_time

        raise fail(
            f"--since must be before --until ({iso_time(start)} is not before "
            f"{iso_time(end)}{defaulted})"
        )


def icao24_or_fail(text: str | None) -> str | None:
    """A 24-bit address as six hex digits, in lower case: `zzzzzz` exported 0 fixes."""
    if text is None:
        return None
    if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise fail(f"--icao24 {text!r}: not an ICAO 24-bit address (six hex digits, e.g. 4baac6)")
    return text.lower()


# a flag takes no value: an empty metavar, not `<bool>`, in the help
NotifyOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="URL",
        help="Notify through Apprise (tgram://, discord://, ntfy://, mailto://, json://, ...;"
        " https:// is a webhook), retried until delivered. Filters and rate in the URL's"
        " query: skyfence-zones=A,B skyfence-kinds=entry,exit skyfence-severity=warning"
        " skyfence-per-minute=10 (then one summary for the rest).",
    ),
]
PublicUrlOption = Annotated[
    str | None,
    typer.Option(metavar="URL", help="The map's public address: notifications link to it."),
]
WebOption = Annotated[
    bool, typer.Option("--web/--no-web", metavar="", help="Serve the live map and API.")
]
HostOption = Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")]
PortOption = Annotated[
    int, typer.Option(metavar="PORT", min=0, max=65535, help="Port of the web server.")
]
AllowedHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        metavar="HOST",
        help="Also answer requests for this host name (besides localhost and the bound address);"
        " others are refused (DNS rebinding).",
    ),
]


def default_store() -> Path:
    """Where `watch` writes and `serve`, `report` and `export` read when not told otherwise."""
    return Path(user_data_dir("skyfence")) / "events.sqlite"


def demo_store() -> Path:
    """The demo's own store, so that trying the demo never mixes with a real watch's events."""
    return Path(user_data_dir("skyfence")) / "demo.sqlite"


def store_to_write(store: Path | None, default: Path) -> Path:
    """The store `watch` or `demo` writes: `default`, whose folder is made on first use, or
    `--store`, whose folder must exist: a typo in a service file would otherwise create a folder
    and write the events where nobody looks."""
    if store is None or store == default:
        return default
    if not store.parent.is_dir():
        raise fail(
            f"--store {store}: no folder {store.parent} (create it first, or correct the path)"
        )
    return store


StoreOption = Annotated[
    Path | None, typer.Option(help="Event store (SQLite); default in the user data folder.")
]


def existing_store(store: Path | None) -> Path:
    """The store to read, or an error that says which file was looked for and where the demo's
    events are (the demo writes demo.sqlite, not the default events.sqlite)."""
    path = store or default_store()
    if path.exists():
        return path
    message = f"no event store at {path}"
    if store is None:
        message += " (the default; watch writes there)"
    demo = demo_store()
    if demo.exists() and path != demo:
        message += f"; the demo's events are in {demo}: give --store {demo}"
    else:
        message += "; run `skyfence demo` or `skyfence watch` first"
    raise fail(message)


def open_store(store: Path | None) -> EventStore:
    from skyfence.store.events import EventStore

    path = existing_store(store)
    try:
        return EventStore(path)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
