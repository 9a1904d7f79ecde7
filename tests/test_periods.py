"""Quota periods: day, week and month windows, reset hours, time zones with DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.periods import Window, current_window

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_day_window_in_utc_starts_at_midnight() -> None:
    window = current_window(utc(2025, 5, 14, 13, 30), "day")
    assert window == Window(utc(2025, 5, 14), utc(2025, 5, 15))


def test_reset_hour_before_it_is_still_yesterday() -> None:
    before = current_window(utc(2025, 5, 14, 5, 59, 59), "day", reset_hour=6)
    at = current_window(utc(2025, 5, 14, 6), "day", reset_hour=6)
    assert before == Window(utc(2025, 5, 13, 6), utc(2025, 5, 14, 6))
    assert at == Window(utc(2025, 5, 14, 6), utc(2025, 5, 15, 6))


def test_windows_are_half_open_and_contiguous() -> None:
    window = current_window(utc(2025, 5, 14, 12), "day")
    assert window.contains(window.start)
    assert not window.contains(window.end)
    assert current_window(window.end, "day").start == window.end


def test_local_zone_moves_the_boundary() -> None:
    # 23:30 UTC on the 14th is already the 15th in Shanghai (UTC+8, no DST).
    window = current_window(utc(2025, 5, 14, 23, 30), "day", tz="Asia/Shanghai")
    assert window == Window(utc(2025, 5, 14, 16), utc(2025, 5, 15, 16))


def test_week_starts_on_monday_at_the_reset_hour() -> None:
    sunday_night = utc(2025, 5, 18, 23)  # a Sunday
    window = current_window(sunday_night, "week", reset_hour=4)
    assert window.start == utc(2025, 5, 12, 4)
    assert window.start.weekday() == 0
    assert window.end - window.start == timedelta(days=7)
    # Monday before the reset hour still belongs to the week before
    assert current_window(utc(2025, 5, 19, 3), "week", reset_hour=4) == window
    assert current_window(utc(2025, 5, 19, 4), "week", reset_hour=4).start == window.end


def test_month_window_at_month_end_and_year_end() -> None:
    feb = current_window(utc(2024, 2, 29, 23, 59), "month")
    assert feb == Window(utc(2024, 2, 1), utc(2024, 3, 1))
    december = current_window(utc(2024, 12, 31, 12), "month")
    assert december == Window(utc(2024, 12, 1), utc(2025, 1, 1))


def test_month_before_reset_hour_on_the_first_is_last_month() -> None:
    window = current_window(utc(2025, 1, 1, 2), "month", reset_hour=3)
    assert window == Window(utc(2024, 12, 1, 3), utc(2025, 1, 1, 3))


def test_spring_forward_day_is_23_hours_long() -> None:
    # Berlin switched from CET (+1) to CEST (+2) at 2025-03-30 02:00 local.
    window = current_window(datetime(2025, 3, 30, 12, tzinfo=BERLIN), "day", tz="Europe/Berlin")
    assert window.start == utc(2025, 3, 29, 23)
    assert window.end == utc(2025, 3, 30, 22)
    assert window.end - window.start == timedelta(hours=23)


def test_fall_back_day_is_25_hours_long() -> None:
    # New York went from EDT (-4) to EST (-5) at 2024-11-03 02:00 local.
    window = current_window(utc(2024, 11, 3, 18), "day", reset_hour=1, tz="America/New_York")
    assert window.start == datetime(2024, 11, 3, 1, tzinfo=NEW_YORK).astimezone(UTC)
    assert window.start == utc(2024, 11, 3, 5)
    assert window.end == utc(2024, 11, 4, 6)
    assert window.end - window.start == timedelta(hours=25)


def test_reset_hour_inside_the_skipped_hour_falls_on_the_change() -> None:
    # 02:00 did not exist in Berlin on 2025-03-30; the period starts when clocks jump.
    window = current_window(utc(2025, 3, 30, 12), "day", reset_hour=2, tz="Europe/Berlin")
    assert window.start == utc(2025, 3, 30, 1)
    assert window.end == utc(2025, 3, 31, 0)  # 02:00 CEST


def test_month_across_dst_change_keeps_local_reset_time() -> None:
    window = current_window(utc(2025, 3, 15), "month", reset_hour=6, tz="Europe/Berlin")
    assert window.start == utc(2025, 3, 1, 5)  # 06:00 CET
    assert window.end == utc(2025, 4, 1, 4)  # 06:00 CEST


def test_results_are_utc_whatever_the_input_zone() -> None:
    window = current_window(datetime(2025, 7, 1, 9, tzinfo=BERLIN), "day")
    assert window.start.utcoffset() == timedelta(0)
    assert window == Window(utc(2025, 7, 1), utc(2025, 7, 2))


@pytest.mark.parametrize(
    ("now", "period", "reset_hour"),
    [
        (datetime(2025, 1, 1), "day", 0),  # naive
        (utc(2025, 1, 1), "day", 24),
        (utc(2025, 1, 1), "year", 0),
    ],
)
def test_bad_arguments_are_refused(now: datetime, period: str, reset_hour: int) -> None:
    with pytest.raises(ValueError):
        current_window(now, period, reset_hour)  # type: ignore[arg-type]


def test_window_rejects_naive_or_empty_spans() -> None:
    with pytest.raises(ValueError):
        Window(datetime(2025, 1, 1), datetime(2025, 1, 2))
    with pytest.raises(ValueError):
        Window(utc(2025, 1, 2), utc(2025, 1, 1))
