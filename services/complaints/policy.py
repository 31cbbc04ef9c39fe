"""The [complaints] section of the policy file: SLA targets per tier, the clock, pauses, tier changes.

    [complaints]
    clock = "business"            # or "calendar"
    default_tier = "C"            # a customer never graded
    at_risk_after = 0.75          # share of the allowed time after which a complaint is "at risk"
    waiting_on_customer = ["communicated"]   # the clock pauses in these statuses
    on_tier_change = "keep_filing_tier"      # or "follow_current_tier"
    [complaints.resolution]
    A = "P3D"
    B = "P4D"
    C = "P5D"
    [complaints.first_response]
    A = "PT4H"
    B = "PT8H"
    C = "P1D"

Business clock: whole days of a duration count as working days (work_end - work_start each,
9 h by default), the rest as working hours; so P3D is three working days, PT4H four working hours.

Tier change of an open complaint: `keep_filing_tier` (default) keeps the deadline announced in
ComplaintFiled (downstream SLA timers and the customer were told it); `follow_current_tier`
recomputes the deadlines of the customer's open complaints from the new tier, without an event
(the contract has none for a moved deadline), so notifier timers keep the filing deadline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from shared.business_calendar import CalendarPolicy
from shared.events import ComplaintStatus, Tier
from shared.policy import Duration, PolicyModel, load_section

# Statuses after which a complaint no longer counts against its SLA (the clock stops; reopening restarts it).
CLOCK_STOPPED = ("resolved", "closed")


class TierTargets(PolicyModel):
    A: Duration
    B: Duration
    C: Duration

    @field_validator("A", "B", "C")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

    def of(self, tier: str) -> timedelta:
        return getattr(self, tier)


class ComplaintsPolicy(PolicyModel):
    clock: Literal["business", "calendar"] = "business"
    default_tier: Tier = "C"
    at_risk_after: float = Field(default=0.75, gt=0, lt=1)
    waiting_on_customer: list[ComplaintStatus] = ["communicated"]
    on_tier_change: Literal["keep_filing_tier", "follow_current_tier"] = "keep_filing_tier"
    resolution: TierTargets = TierTargets(A=timedelta(days=3), B=timedelta(days=4), C=timedelta(days=5))
    first_response: TierTargets = TierTargets(A=timedelta(hours=4), B=timedelta(hours=8), C=timedelta(days=1))

    def clock_paused_in(self, status: str) -> bool:
        return status in self.waiting_on_customer or status in CLOCK_STOPPED


def load() -> tuple[ComplaintsPolicy, CalendarPolicy]:
    """Both sections this service needs; a bad value raises PolicyError naming the key (start-up fails)."""
    return load_section("complaints", ComplaintsPolicy), load_section("calendar", CalendarPolicy)
