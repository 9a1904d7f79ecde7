"""Quota periods: which day, week or month a moment belongs to, in the operator's time zone.

A period starts at ``reset_hour`` local time on its first day (weeks start on Monday,
months on the 1st) and ends where the next one starts, so a period is 23 or 25 hours
long on a DST change day. Boundaries are computed on the local calendar and converted to
UTC instants; everything returned is an aware UTC datetime, so windows compare and store
without ambiguity.

A local reset time that does not exist (the skipped hour of a spring-forward night) falls
on the instant of the change; one that exists twice (the repeated hour in autumn) is the
first occurrence (``fold=0``, see https://peps.python.org/pep-0495/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open span ``[start, end)`` of time, both ends aware UTC datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if not self.start < self.end:
            raise ValueError("window start must be before its end")

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls inside the window."""
        return self.start <= moment < self.end


def current_window(now: datetime, period: Period, reset_hour: int = 0, tz: str = "UTC") -> Window:
    """The period of kind ``period`` that contains ``now``.

    ``now`` must be timezone-aware; ``tz`` is an IANA zone name (``Asia/Shanghai``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not 0 <= reset_hour <= 23:
        raise ValueError(f"reset_hour must be 0..23, not {reset_hour}")
    if period not in ("day", "week", "month"):
        raise ValueError(f"unknown period {period!r}")
    zone = ZoneInfo(tz)
    instant = now.astimezone(UTC)
    first_day = _period_first_day(now.astimezone(zone).date(), period)
    start = _boundary(first_day, reset_hour, zone)
    if instant < start:  # before today's (this week's, month's) reset: still the last one
        first_day = _shift(first_day, period, -1)
        start = _boundary(first_day, reset_hour, zone)
    end = _boundary(_shift(first_day, period, 1), reset_hour, zone)
    return Window(start=start, end=end)


def _period_first_day(day: date, period: Period) -> date:
    """The first calendar day of the period that ``day`` belongs to."""
    if period == "week":
        return day - timedelta(days=day.weekday())  # Monday is weekday 0
    if period == "month":
        return day.replace(day=1)
    return day


def _shift(first_day: date, period: Period, steps: int) -> date:
    """The first day of the period ``steps`` periods after (or before) ``first_day``."""
    if period == "day":
        return first_day + timedelta(days=steps)
    if period == "week":
        return first_day + timedelta(weeks=steps)
    months = first_day.year * 12 + (first_day.month - 1) + steps
    return date(months // 12, months % 12 + 1, 1)


def _boundary(day: date, reset_hour: int, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local time ``reset_hour:00`` on ``day`` happens."""
    local = datetime.combine(day, time(reset_hour), tzinfo=zone)
    return local.astimezone(UTC)
