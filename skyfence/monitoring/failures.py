"""Failures of feeds and deliveries as log lines, one per change, not one per attempt.

A piped `watch` (systemd, docker, `2> file`) has no live view: a refused feed or a webhook that
is down must reach its log. But a feed retries every few seconds for as long as its receiver is
down, and a line per attempt would bury everything else. So a line is written when something
starts failing, when its error changes and when it recovers; while it stays down, one line
every `every_s` says it still is, with the attempts made since the last line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

LOG_EVERY_S = 300.0
_ERRNO = re.compile(r"^\[Errno -?\d+\] ")


@dataclass(slots=True)
class _Down:
    error: str
    since: float  # monotonic
    said_at: float
    attempts_said: int  # the attempt count at the last line


class FailureLog:
    """Feed `observe` the state of each thing watched, as often as you like; `say` gets the
    lines worth reading."""

    def __init__(
        self,
        say: Callable[[str], None],
        every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.say = say
        self.every_s = every_s
        self._clock = clock
        self._down: dict[str, _Down] = {}

    def observe(
        self, what: str, error: str | None, attempts: int, retry_s: float | None = None
    ) -> None:
        """`what` (e.g. "feed beast://host:30005") has `error` now (None: it works);
        `attempts` counts its failed attempts so far; `retry_s` is the wait before the next."""
        now = self._clock()
        down = self._down.get(what)
        if error is None:
            if down is not None:
                del self._down[what]
                self.say(f"{what}: working again after {_duration(now - down.since)}")
            return
        error = plain(error, what)
        retry = "" if retry_s is None else f", retrying in {_duration(retry_s)}"
        if down is None or down.error != error:
            since = now if down is None else down.since
            self._down[what] = _Down(error, since, now, attempts)
            self.say(f"{what}: {error}{retry}")
        elif now - down.said_at >= self.every_s:
            tried = attempts - down.attempts_said
            self.say(
                f"{what}: still {error} ({tried} failed attempts in the last "
                f"{_duration(now - down.said_at)}, down for {_duration(now - down.since)}){retry}"
            )
            down.said_at, down.attempts_said = now, attempts


def plain(error: str, what: str) -> str:
    """`beast://h:1: [Errno 111] Connection refused` -> `connection refused`: the name is said
    once, before the colon, and the errno is noise."""
    name = what.split(" ", 1)[-1]
    if error.startswith(name + ": "):
        error = error[len(name) + 2 :]
    error = _ERRNO.sub("", error)
    word = error.split(" ", 1)[0]  # "Connection refused", not "ConnectionRefusedError: ..."
    return error[:1].lower() + error[1:] if word.isalpha() and word[1:].islower() else error


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
