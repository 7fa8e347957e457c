"""Schedules as UTC periods: NOTAM item D) ("DAILY 0800-1600", "MON-FRI 2200-0400", "MAR 10-12
H24") and the weekly timesheets of ED-269, ED-318 and AIXM.

A schedule narrows B)..C) to the hours the restriction is in force; an incursion outside them is
no incursion, one inside them is. So the schedule becomes explicit periods that the engine checks
like any other, and every word that is not understood stops the import instead of being guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

MAX_PERIODS = 5000
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_TOKEN = re.compile(
    r"(?P<time>\d{4}-\d{4})|(?P<h24>H24)|(?P<wdrange>(?:MON|TUE|WED|THU|FRI|SAT|SUN)-"
    r"(?:MON|TUE|WED|THU|FRI|SAT|SUN))|(?P<wd>MON|TUE|WED|THU|FRI|SAT|SUN)|"
    r"(?P<daily>DAILY|DLY)|(?P<exc>EXC)|(?P<mrange>(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|"
    r"NOV|DEC) ?\d{1,2}-(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC) ?\d{1,2})|"
    r"(?P<month>JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)|(?P<drange>\d{1,2}-\d{1,2})|"
    r"(?P<day>\d{1,2})|(?P<sep>[,.;]|AND)|(?P<word>\S+)"
)


class _Days:
    """The days a group of D) words selects: weekdays, dates, or every day."""

    def __init__(self) -> None:
        self.weekdays: set[int] = set()
        self.excluded: set[int] = set()
        self.dates: set[date] = set()
        self.any_day = False

    @property
    def empty(self) -> bool:
        return not (self.weekdays or self.dates or self.any_day)

    def selects(self, day: date) -> bool:
        if day.weekday() in self.excluded:
            return False
        if self.dates:
            return day in self.dates
        return self.any_day or not self.weekdays or day.weekday() in self.weekdays


def _date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"D) {text!r}: {MONTHS[month - 1]} {day} is not a date") from None


def _span(first: date, last: date) -> set[date]:
    if last < first:
        last = date(last.year + 1, last.month, last.day)
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def schedule_periods(text: str, start_s: float, end_s: float) -> list[tuple[float, float]]:
    """UTC periods of a D) schedule, clipped to B)..C); raises ValueError naming the word not
    understood. A period whose end time is not after its start crosses midnight."""
    if end_s == float("inf"):
        raise ValueError(f"D) {text!r} with C) PERM: a schedule needs an end date")
    begin = datetime.fromtimestamp(start_s, UTC)
    year, month = begin.year, begin.month
    rules: list[tuple[_Days, int, int]] = []
    days = _Days()
    exclude = False
    last_was_time = False
    for m in _TOKEN.finditer(text.upper()):
        kind, word = m.lastgroup, m.group()
        if kind in ("time", "h24"):
            a, b = (0, 1440) if kind == "h24" else _minutes(word, text)
            rules.append((days, a, b))
            last_was_time, exclude = True, False
            continue
        if kind == "sep":
            continue
        if last_was_time:  # words after a time start the next group
            days, last_was_time = _Days(), False
        if kind == "daily":
            days.any_day = True
        elif kind == "exc":
            exclude = True
        elif kind in ("wd", "wdrange"):
            names = word.split("-")
            i, j = WEEKDAYS.index(names[0]), WEEKDAYS.index(names[-1])
            chosen = {(i + k) % 7 for k in range((j - i) % 7 + 1)}
            (days.excluded if exclude else days.weekdays).update(chosen)
        elif kind == "month":
            new_month = MONTHS.index(word) + 1
            year += 1 if new_month < month else 0
            month = new_month
        elif kind == "mrange":
            (m1, d1), (m2, d2) = ((p[:3], int(p[3:])) for p in word.replace(" ", "").split("-"))
            y1 = year + (1 if MONTHS.index(m1) + 1 < month else 0)
            first = _date(y1, MONTHS.index(m1) + 1, d1, text)
            last = _date(y1, MONTHS.index(m2) + 1, d2, text)
            days.dates |= _span(first, last)
            year, month = last.year, last.month
        elif kind == "drange":
            d1, d2 = (int(p) for p in word.split("-"))
            days.dates |= _span(_date(year, month, d1, text), _date(year, month, d2, text))
        elif kind == "day":
            days.dates.add(_date(year, month, int(word), text))
        else:
            raise ValueError(f"D) {text!r}: {word!r} not understood (e.g. DAILY 0800-1600)")
    if not rules:
        raise ValueError(f"D) {text!r}: no hours (e.g. 0800-1600 or H24)")
    if not last_was_time:
        raise ValueError(f"D) {text!r}: days without hours at the end")
    return _expand(rules, start_s, end_s)


def weekly_periods(
    rules: list[tuple[frozenset[int], int, int]], start_s: float, end_s: float
) -> list[tuple[float, float]]:
    """Periods of weekly rules (weekdays 0=Monday, empty = every day; start and end minutes of
    the UTC day, an end not after the start crossing midnight) between two times."""
    if end_s == float("inf"):
        raise ValueError("a weekly schedule needs an end date")
    compiled = []
    for weekdays, a, b in rules:
        days = _Days()
        days.weekdays = set(weekdays)
        compiled.append((days, a, b))
    return _expand(compiled, start_s, end_s)


def _minutes(word: str, text: str) -> tuple[int, int]:
    a, b = word.split("-")
    out = []
    for hhmm in (a, b):
        h, m = int(hhmm[:2]), int(hhmm[2:])
        if h > 24 or m > 59 or (h == 24 and m):
            raise ValueError(f"D) {text!r}: {hhmm} is not a time of day")
        out.append(h * 60 + m)
    return out[0], out[1]


def _expand(
    rules: list[tuple[_Days, int, int]], start_s: float, end_s: float
) -> list[tuple[float, float]]:
    first = datetime.fromtimestamp(start_s, UTC).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_s, UTC).date()
    periods: list[tuple[float, float]] = []
    day = first
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        for days, a, b in rules:
            if not days.selects(day):
                continue
            span_end = b if b > a else b + 1440  # 2200-0400: into the next day
            lo, hi = max(start_s, midnight + a * 60), min(end_s, midnight + span_end * 60)
            if hi > lo:
                periods.append((lo, hi))
        if len(periods) > MAX_PERIODS:
            raise ValueError(f"schedule gives more than {MAX_PERIODS} periods")
        day += timedelta(days=1)
    periods.sort()
    merged: list[tuple[float, float]] = []
    for lo, hi in periods:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
