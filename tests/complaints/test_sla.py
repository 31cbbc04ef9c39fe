"""SLA deadlines on the business calendar, tier-driven targets, pauses and the SLA status."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.complaints import sla
from services.complaints.policy import ComplaintsPolicy
from shared.business_calendar import BusinessCalendar
from shared.policy import PolicyError, load_section

SH = ZoneInfo("Asia/Shanghai")
BUSINESS = sla.SlaClock("business", BusinessCalendar())
CALENDAR = sla.SlaClock("calendar", BusinessCalendar())
POLICY = ComplaintsPolicy()


def at(*args):
    return datetime(*args, tzinfo=SH)


def test_in_business_time_a_day_is_a_working_day():
    assert BUSINESS.length(timedelta(days=3)) == timedelta(hours=27)
    assert BUSINESS.length(timedelta(days=1, hours=2)) == timedelta(hours=11)
    assert CALENDAR.length(timedelta(days=3)) == timedelta(days=3)


def test_filed_the_day_before_national_day_the_deadline_skips_the_holiday_week():
    # Wed 30 Sep 10:00, tier A = 3 working days (27 h): 8 h on the 30th, Oct 1-7 off, 9 h on Thu 8th,
    # 9 h on Fri 9th, and the last hour on Saturday 10th, an official make-up working day.
    d = sla.deadlines(clock=BUSINESS, policy=POLICY, tier="A", received_at=at(2026, 9, 30, 10, 0))
    assert d.due_at == at(2026, 10, 10, 10, 0)
    assert d.first_response_due_at == at(2026, 9, 30, 14, 0)  # PT4H working
    assert d.at_risk_at == at(2026, 10, 9, 12, 15)  # 75 % of 27 h = 20.25 h
    assert d.flags == []


def test_filed_on_a_make_up_saturday_the_clock_runs_that_day():
    # Sat 10 Oct 10:00 (make-up working day), tier C = 5 working days (45 h): 8 h that Saturday,
    # Sunday off, Mon-Thu 36 h, the last hour on Friday the 16th.
    d = sla.deadlines(clock=BUSINESS, policy=POLICY, tier="C", received_at=at(2026, 10, 10, 10, 0))
    assert d.due_at == at(2026, 10, 16, 10, 0)
    assert d.first_response_due_at == at(2026, 10, 12, 10, 0)  # P1D = 9 working hours, across the Sunday


def test_filed_on_an_ordinary_saturday_the_clock_starts_on_monday():
    d = sla.deadlines(clock=BUSINESS, policy=POLICY, tier="A", received_at=at(2026, 11, 21, 10, 0))
    assert d.due_at == at(2026, 11, 25, 18, 0)  # Mon, Tue, Wed: 27 working hours


@pytest.mark.parametrize("tier,days", [("A", 3), ("B", 4), ("C", 5)])
def test_the_resolution_target_comes_from_the_tier(tier, days):
    received = at(2026, 11, 23, 9, 30)
    assert sla.deadlines(clock=CALENDAR, policy=POLICY, tier=tier, received_at=received).due_at == received + timedelta(days=days)


def test_a_higher_tier_gets_an_earlier_deadline_on_business_time_too():
    received = at(2026, 11, 23, 11, 0)
    due = {t: sla.deadlines(clock=BUSINESS, policy=POLICY, tier=t, received_at=received).due_at for t in "ABC"}
    assert due["A"] < due["B"] < due["C"]
    assert due["A"] == at(2026, 11, 26, 11, 0)


def test_the_targets_are_policy():
    policy = load_section("complaints", ComplaintsPolicy, document={"complaints": {
        "clock": "calendar", "resolution": {"A": "PT6S", "B": "PT8S", "C": "PT10S"},
        "first_response": {"A": "PT2S", "B": "PT2S", "C": "PT2S"}, "at_risk_after": 0.5}})
    received = at(2026, 11, 23, 9, 0)
    d = sla.deadlines(clock=CALENDAR, policy=policy, tier="A", received_at=received)
    assert (d.due_at - received, d.at_risk_at - received) == (timedelta(seconds=6), timedelta(seconds=3))


def test_a_bad_policy_value_names_its_key():
    with pytest.raises(PolicyError, match=r"complaints\.resolution\.B"):
        load_section("complaints", ComplaintsPolicy, document={"complaints": {"resolution": {"A": "P3D", "B": "3 days", "C": "P5D"}}})
    with pytest.raises(PolicyError, match=r"complaints\.at_risk_after"):
        load_section("complaints", ComplaintsPolicy, document={"complaints": {"at_risk_after": 1.5}})


def test_the_defaults_are_the_handbooks():
    assert (POLICY.resolution.A, POLICY.resolution.B, POLICY.resolution.C) == (timedelta(days=3), timedelta(days=4), timedelta(days=5))
    assert POLICY.default_tier == "C" and POLICY.on_tier_change == "keep_filing_tier"
    assert POLICY.clock_paused_in("communicated") and POLICY.clock_paused_in("resolved")
    assert not POLICY.clock_paused_in("executing")


def test_a_pause_pushes_the_deadline_back_by_the_paused_clock_time():
    received = at(2026, 11, 23, 10, 0)
    plain = sla.deadlines(clock=BUSINESS, policy=POLICY, tier="A", received_at=received)
    paused = sla.deadlines(clock=BUSINESS, policy=POLICY, tier="A", received_at=received, paused_for=timedelta(hours=9))
    assert BUSINESS.between(plain.due_at, paused.due_at) == timedelta(hours=9)


def test_a_deadline_in_a_year_without_official_data_is_computed_and_flagged():
    d = sla.deadlines(clock=BUSINESS, policy=POLICY, tier="C", received_at=at(2029, 12, 28, 10, 0))
    assert d.due_at > at(2030, 1, 1)
    assert "no official calendar for 2030: weekends only" in d.flags


class TestStatus:
    risk, due = at(2026, 11, 25, 12, 0), at(2026, 11, 26, 12, 0)

    def status(self, now, **kw):
        return sla.status(now=now, at_risk_at=self.risk, due_at=self.due, **kw)

    def test_on_track_at_risk_breached(self):
        assert self.status(at(2026, 11, 25, 11, 59)) == "on_track"
        assert self.status(self.risk) == "at_risk"
        assert self.status(self.due) == "breached"

    def test_met_or_breached_once_resolved(self):
        assert self.status(at(2026, 12, 1), resolved_at=self.due) == "met"
        assert self.status(at(2026, 12, 1), resolved_at=self.due + timedelta(seconds=1)) == "breached"

    def test_a_paused_clock_freezes_the_status(self):
        assert self.status(at(2026, 12, 1), paused_since=at(2026, 11, 24)) == "on_track"

    def test_time_remaining_in_business_time_and_overdue(self):
        now = at(2026, 11, 25, 17, 0)
        assert sla.time_remaining(clock=BUSINESS, now=now, due_at=self.due) == timedelta(hours=4)
        assert sla.time_remaining(clock=BUSINESS, now=at(2026, 11, 26, 13, 0), due_at=self.due) == -timedelta(hours=1)

    def test_first_response(self):
        assert sla.first_response_status(now=self.due, due_at=self.risk, responded_at=None) == "breached"
        assert sla.first_response_status(now=self.due, due_at=self.risk, responded_at=self.risk) == "met"
