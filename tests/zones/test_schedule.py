"""NOTAM D) schedules and weekly timesheets as UTC periods, across midnight and month ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyfence.zones.schedule import schedule_periods, weekly_periods


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(periods: list[tuple[float, float]]) -> list[tuple[str, str]]:
    def fmt(s: float) -> str:
        return datetime.fromtimestamp(s, UTC).strftime("%m-%d %H:%M")

    return [(fmt(a), fmt(b)) for a, b in periods]


def test_daily_hours_are_clipped_to_b_and_c() -> None:
    periods = schedule_periods("DAILY 0800-1600", t("2026-03-01T10:00"), t("2026-03-03T12:00"))
    assert iso(periods) == [
        ("03-01 10:00", "03-01 16:00"),
        ("03-02 08:00", "03-02 16:00"),
        ("03-03 08:00", "03-03 12:00"),
    ]


def test_hours_crossing_midnight_run_into_the_next_day() -> None:
    periods = schedule_periods("2200-0400", t("2026-03-01T00:00"), t("2026-03-03T00:00"))
    assert iso(periods) == [
        ("03-01 00:00", "03-01 04:00"),  # the night that began before B)
        ("03-01 22:00", "03-02 04:00"),
        ("03-02 22:00", "03-03 00:00"),
    ]


def test_weekdays_exceptions_and_several_groups() -> None:
    # 2026-03-02 is a Monday
    periods = schedule_periods(
        "MON-WED 0700-0900, FRI 1200-1300", t("2026-03-02T00:00"), t("2026-03-09T00:00")
    )
    assert iso(periods) == [
        ("03-02 07:00", "03-02 09:00"),
        ("03-03 07:00", "03-03 09:00"),
        ("03-04 07:00", "03-04 09:00"),
        ("03-06 12:00", "03-06 13:00"),
    ]
    daily_but_sunday = schedule_periods(
        "DAILY EXC SUN 1000-1100", t("2026-03-07T00:00"), t("2026-03-09T00:00")
    )
    assert iso(daily_but_sunday) == [("03-07 10:00", "03-07 11:00")]


def test_dates_and_h24() -> None:
    periods = schedule_periods(
        "MAR 10-11 H24 13 0600-0800", t("2026-03-01T00:00"), t("2026-03-31T00:00")
    )
    assert iso(periods) == [("03-10 00:00", "03-12 00:00"), ("03-13 06:00", "03-13 08:00")]
    across_months = schedule_periods(
        "MAR 31-APR 01 1000-1200", t("2026-03-01T00:00"), t("2026-04-30T00:00")
    )
    assert iso(across_months) == [("03-31 10:00", "03-31 12:00"), ("04-01 10:00", "04-01 12:00")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SR-SS", "not understood"),
        ("DAILY", "no hours"),
        ("DAILY 0800-2500", "not a time of day"),
        ("FEB 30 0800-1000", "not a date"),
        ("0800-1000 MON", "days without hours"),
    ],
)
def test_schedules_not_understood_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        schedule_periods(text, t("2026-01-01T00:00"), t("2026-12-31T00:00"))


def test_a_schedule_needs_an_end() -> None:
    with pytest.raises(ValueError, match="PERM"):
        schedule_periods("DAILY 0800-1000", t("2026-01-01T00:00"), float("inf"))


def test_weekly_rules() -> None:
    periods = weekly_periods(
        [(frozenset({5, 6}), 17 * 60, 1440)], t("2026-03-06T00:00"), t("2026-03-09T00:00")
    )
    assert iso(periods) == [("03-07 17:00", "03-08 00:00"), ("03-08 17:00", "03-09 00:00")]
