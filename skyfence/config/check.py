"""`skyfence config check FILE`: what `watch --config FILE` would refuse, found without starting
anything (no feed connected, no store opened, no port bound), every problem at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skyfence.config.file import ConfigError, WatchConfig, by_line, parse_watch_config
from skyfence.wording import counted


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    config: WatchConfig
    zones: int  # zones loaded
    summary: str  # one line for the user; names no value, so no secret is printed


def check_watch_config(path: Path, command: Any) -> CheckedConfig:
    """The config read, its zones loaded, its sources, receiver and webhooks parsed; a
    ConfigError listing every problem otherwise."""
    config, problems = parse_watch_config(path, command)
    values = config.defaults

    def problem(name: str, message: str, index: int | None = None) -> None:
        line = config.line(name, index)
        message = config.redact(message)
        problems.append(f"line {line}: {message}" if line else message)

    zones = _zones(values.get("zones", []), lambda m: problem("zones", m))
    for i, text in enumerate(values.get("source", [])):
        message = _source_problem(text)
        if message:
            problem("source", message, i)
    receiver = values.get("receiver")
    if isinstance(receiver, str):
        from skyfence.sources.receiver import parse_receiver

        try:
            parse_receiver(receiver)
        except ValueError as exc:
            problem("receiver", str(exc))
    for i, url in enumerate(values.get("webhook", [])):
        from skyfence.alerts.webhook import check_webhook_url

        try:
            check_webhook_url(url)
        except ValueError as exc:
            problem("webhook", str(exc), i)
    _number_problems(values, config.keys, problem)
    if problems:
        raise ConfigError(path, by_line(problems))
    given = sorted(config.keys[k] for k in values if k not in ("zones", "source"))
    n_zones, n_sources = len(values.get("zones", [])), len(values.get("source", []))
    summary = (
        f"{counted(zones, 'zone')} from "
        f"{counted(n_zones, 'file or set', 'files or sets')}, {counted(n_sources, 'source')}"
        + ("" if n_zones and n_sources else " (give the others with --zones/--source)")
        + (f"; also set: {', '.join(given)}" if given else "")
    )
    return CheckedConfig(config, zones, summary)


def _number_problems(values: dict[str, Any], keys: dict[str, str], problem: Any) -> None:
    """The numbers `watch` refuses when it starts (a negative or NaN speed or duration, a port
    past 65535), found here too: `config check` said OK to `lost-contact = -5`."""
    from skyfence.errors import InputError
    from skyfence.settings import MAX_LOOKAHEAD_S, check_non_negative

    for name in ("speed", "lookahead", "lost_contact", "unhealthy_after"):
        if values.get(name) is not None:
            at_most = MAX_LOOKAHEAD_S if name == "lookahead" else math.inf
            try:
                positive = name == "lost_contact"  # as EngineSettings.lost_contact_s
                check_non_negative(keys[name], values[name], at_most, positive=positive)
            except InputError as exc:
                problem(name, str(exc))
    for name in ("port", "metrics_port"):
        port = values.get(name)
        if port is not None and not 0 <= port <= 65535:
            problem(name, f"{keys[name]} must be a port number 0-65535, got {port}")


def _zones(entries: list[str], problem: Any) -> int:
    from skyfence.zones.load import load_zone_sources
    from skyfence.zones.model import ZoneError

    if not entries:
        return 0
    try:
        return len(load_zone_sources(entries, []))
    except (ZoneError, OSError) as exc:
        problem(str(exc))
        return 0


def _source_problem(text: str) -> str | None:
    """What `watch` would refuse in one source, without opening it."""
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        return None if parts.hostname else f"invalid aircraft.json URL {text!r}: no host"
    if "://" in text:
        from skyfence.sources.live import parse_source_uri

        try:
            parse_source_uri(text)
        except ValueError as exc:
            return str(exc)
        return None
    if not Path(text).is_file():
        return f"{text}: no such recording"
    return None
