"""Working time in Asia/Shanghai: working hours on working days, where China's statutory
holidays and make-up workdays (調休) come from the maintained chinese-calendar package."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)
_warned_years: set[int] = set()


def is_workday(day: date) -> bool:
    """The State Council's calendar; for a year it has not published yet, Monday to Friday."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "no holiday calendar for %s yet: counting Monday–Friday as working days; "
                "upgrade chinese-calendar when the year's schedule is published",
                day.year,
            )
        return day.weekday() < 5


class WorkingCalendar:
    """Adds and measures durations of working time. A working "day" is one day's working hours,
    so P1D is one working day and PT1H one working hour."""

    def __init__(self, timezone: str, hours: list[tuple[time, time]], workday=is_workday):
        self.zone = ZoneInfo(timezone)
        self.hours = sorted(hours)
        self._workday = workday
        self.day_length = sum((_secs(end) - _secs(start) for start, end in self.hours), 0.0)

    def working_seconds(self, duration: timedelta) -> float:
        return duration.days * self.day_length + duration.seconds + duration.microseconds / 1e6

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of working time after `start`."""
        remaining = self.working_seconds(duration)
        for opens, closes in self._intervals_from(start):
            span = (closes - opens).total_seconds()
            if remaining <= span:
                return opens + timedelta(seconds=remaining)
            remaining -= span
        raise ValueError("no working time within ten years")

    def between(self, start: datetime, end: datetime) -> float:
        """Working seconds from `start` to `end` (0 if end is not later)."""
        total = 0.0
        for opens, closes in self._intervals_from(start):
            if opens >= end:
                break
            total += (min(closes, end) - opens).total_seconds()
        return total

    def _intervals_from(self, start: datetime):
        """Working intervals (aware, local), the first clipped to begin at `start`."""
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(3660):
            if self._workday(day):
                for begin, finish in self.hours:
                    opens = datetime.combine(day, begin, self.zone)
                    closes = datetime.combine(day, finish, self.zone)
                    if closes <= local:
                        continue
                    yield max(opens, local), closes
            day += timedelta(days=1)


def _secs(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second
