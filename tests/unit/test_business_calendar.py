"""Business time on China's official calendar, with make-up working days and the stale-data fallback."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.business_calendar import BusinessCalendar, CalendarPolicy

SH = ZoneInfo("Asia/Shanghai")
cal = BusinessCalendar()


def at(*args):
    return datetime(*args, tzinfo=SH)


def test_national_day_week_is_not_worked():
    assert not cal.is_working_day(date(2026, 10, 1))
    assert not cal.is_working_day(date(2026, 10, 7))


def test_make_up_saturday_is_worked():
    assert date(2026, 10, 10).weekday() == 5
    assert cal.is_working_day(date(2026, 10, 10))


def test_one_working_day_before_national_day_lands_after_the_holiday():
    # Wed 2026-09-30 17:00 + 9 working hours: 1 h on the 30th, then the holiday week (Oct 1-7) is skipped,
    # Oct 8 (Thu) gives the remaining 8 h.
    assert cal.add(at(2026, 9, 30, 17, 0), timedelta(hours=9)) == at(2026, 10, 8, 17, 0)


def test_filed_on_a_make_up_saturday_the_clock_runs_that_day():
    assert cal.add(at(2026, 10, 10, 10, 0), timedelta(hours=2)) == at(2026, 10, 10, 12, 0)


def test_outside_hours_the_clock_starts_at_the_next_opening():
    assert cal.next_working_moment(at(2026, 11, 20, 20, 0)) == at(2026, 11, 23, 9, 0)  # Friday evening -> Monday


def test_working_time_between_is_the_inverse_of_add():
    start = at(2026, 9, 29, 15, 30)
    end = cal.add(start, timedelta(hours=20))
    assert cal.working_time_between(start, end) == timedelta(hours=20)


def test_a_year_without_official_data_falls_back_to_weekends_and_is_flagged():
    cal2030 = BusinessCalendar()
    assert not cal2030.has_official_data(2030)
    assert cal2030.is_working_day(date(2030, 10, 1)) == (date(2030, 10, 1).weekday() < 5)
    assert cal2030.flags(at(2030, 1, 2, 9), at(2030, 1, 3, 9)) == ["no official calendar for 2030: weekends only"]
    assert cal2030.add(at(2030, 1, 4, 17, 0), timedelta(hours=2)) == at(2030, 1, 7, 10, 0)


def test_ops_can_add_next_years_days_in_the_policy():
    policy = CalendarPolicy(extra_holidays=[date(2030, 10, 1)], extra_workdays=[date(2030, 9, 28)], official_years=[2030])
    c = BusinessCalendar(policy)
    assert not c.is_working_day(date(2030, 10, 1))
    assert c.is_working_day(date(2030, 9, 28))  # a Saturday made a working day
    assert c.flags(at(2030, 1, 2, 9), at(2030, 1, 3, 9)) == []
