"""Business time: working hours, weekends, public holidays and make-up working days (调休).

Defaults: China's official calendar (the `holidays` package) in Asia/Shanghai,
09:00-18:00. Ops add what the package lags behind on (the State Council
publishes next year's days in November) in the policy file:

    [calendar]
    timezone = "Asia/Shanghai"
    work_start = "09:00"
    work_end = "18:00"
    extra_holidays = ["2027-01-01"]
    extra_workdays = ["2027-02-20"]   # make-up working Saturdays
    official_years = [2027]           # years the overrides above fully describe

A year that neither the package nor the policy describes (no make-up days
known) is computed with weekends only and *flagged*, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_data

from shared.policy import PolicyModel


@lru_cache(maxsize=64)
def _official(country: str, year: int) -> holiday_data.HolidayBase:
    # Building a year's table costs ~1 ms; every deadline asks many times, so keep it per process.
    return holiday_data.country_holidays(country, years=year)


class CalendarPolicy(PolicyModel):
    country: str = "CN"
    timezone: str = "Asia/Shanghai"
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    extra_holidays: list[date] = []
    extra_workdays: list[date] = []
    official_years: list[int] = []


@dataclass
class BusinessCalendar:
    policy: CalendarPolicy = field(default_factory=CalendarPolicy)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.policy.timezone)

    def _data(self, year: int) -> holiday_data.HolidayBase:
        return _official(self.policy.country, year)

    def has_official_data(self, year: int) -> bool:
        """True when the make-up working days of `year` are known (package or policy)."""
        if year in self.policy.official_years:
            return True
        return any(d.year == year for d in getattr(self._data(year), "weekend_workdays", ()))

    def is_working_day(self, day: date) -> bool:
        if day in self.policy.extra_workdays:
            return True
        if day in self.policy.extra_holidays:
            return False
        if not self.has_official_data(day.year):
            return day.weekday() < 5  # weekends-only fallback (flagged by `flags`)
        data = self._data(day.year)
        if day in getattr(data, "weekend_workdays", ()):
            return True
        return day.weekday() < 5 and day not in data

    def flags(self, start: datetime, end: datetime) -> list[str]:
        """Warnings about a computed span: years computed without official data."""
        years = range(start.astimezone(self.zone).year, end.astimezone(self.zone).year + 1)
        return [f"no official calendar for {y}: weekends only" for y in years if not self.has_official_data(y)]

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (an aware datetime)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        remaining = duration
        cursor = start.astimezone(self.zone)
        while True:
            day = cursor.date()
            open_at = datetime.combine(day, self.policy.work_start, self.zone)
            close_at = datetime.combine(day, self.policy.work_end, self.zone)
            if self.is_working_day(day) and cursor < close_at:
                cursor = max(cursor, open_at)
                available = close_at - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(start.tzinfo)
                remaining -= available
            cursor = datetime.combine(day + timedelta(days=1), time(0), self.zone)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed from `start` to `end` (zero if end <= start)."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        cursor = start.astimezone(self.zone)
        end = end.astimezone(self.zone)
        while cursor < end:
            day = cursor.date()
            if self.is_working_day(day):
                lo = max(cursor, datetime.combine(day, self.policy.work_start, self.zone))
                hi = min(end, datetime.combine(day, self.policy.work_end, self.zone))
                if hi > lo:
                    total += hi - lo
            cursor = datetime.combine(day + timedelta(days=1), time(0), self.zone)
        return total

    def next_working_moment(self, moment: datetime) -> datetime:
        """`moment` itself if inside working hours, else the next opening (for human-facing follow-ups)."""
        return self.add(moment, timedelta(0))
