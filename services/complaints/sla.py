"""SLA arithmetic (pure, no I/O): deadlines from the tier, the clock, pauses and the SLA status.

A complaint's clock counts `clock` time (calendar or business) from `received_at`. Time spent in
statuses that wait on the customer (and between resolution and a reopening) is recorded as
`paused_for` and pushes the deadlines back by as much clock time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from services.complaints.policy import ComplaintsPolicy
from shared.business_calendar import BusinessCalendar

SlaStatus = Literal["on_track", "at_risk", "breached", "met"]
SLA_STATUSES: tuple[str, ...] = ("on_track", "at_risk", "breached", "met")


@dataclass(frozen=True)
class SlaClock:
    """Calendar time, or working time on the business calendar."""

    mode: Literal["business", "calendar"]
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    @property
    def working_day(self) -> timedelta:
        p = self.calendar.policy
        return datetime.combine(datetime.min, p.work_end) - datetime.combine(datetime.min, p.work_start)

    def length(self, target: timedelta) -> timedelta:
        """A policy duration in this clock's time: in business time a day is a working day."""
        if self.mode == "calendar":
            return target
        return target.days * self.working_day + (target - timedelta(days=target.days))

    def add(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount if self.mode == "calendar" else self.calendar.add(start, amount)

    def between(self, start: datetime, end: datetime) -> timedelta:
        if self.mode == "calendar":
            return max(end - start, timedelta(0))
        return self.calendar.working_time_between(start, end)

    def flags(self, start: datetime, end: datetime) -> list[str]:
        return [] if self.mode == "calendar" else self.calendar.flags(start, end)


@dataclass(frozen=True)
class Deadlines:
    first_response_due_at: datetime
    at_risk_at: datetime
    due_at: datetime
    flags: list[str]


def deadlines(
    *, clock: SlaClock, policy: ComplaintsPolicy, tier: str, received_at: datetime, paused_for: timedelta = timedelta(0)
) -> Deadlines:
    """The deadlines of a complaint of `tier` received at `received_at`, after `paused_for` of pauses."""
    allowed = clock.length(policy.resolution.of(tier))
    due_at = clock.add(received_at, allowed + paused_for)
    return Deadlines(
        first_response_due_at=clock.add(received_at, clock.length(policy.first_response.of(tier))),
        at_risk_at=clock.add(received_at, allowed * policy.at_risk_after + paused_for),
        due_at=due_at,
        flags=clock.flags(received_at, due_at),
    )


def status(
    *, now: datetime, at_risk_at: datetime, due_at: datetime, paused_since: datetime | None = None, resolved_at: datetime | None = None
) -> SlaStatus:
    """On track / at risk / breached while open (frozen while paused); met or breached once resolved."""
    if resolved_at is not None:
        return "met" if resolved_at <= due_at else "breached"
    moment = paused_since or now
    if moment >= due_at:
        return "breached"
    return "at_risk" if moment >= at_risk_at else "on_track"


def time_remaining(*, clock: SlaClock, now: datetime, due_at: datetime, paused_since: datetime | None = None) -> timedelta:
    """Clock time left until the deadline (negative when overdue); frozen while paused."""
    moment = paused_since or now
    if moment <= due_at:
        return clock.between(moment, due_at)
    return -clock.between(due_at, moment)


def first_response_status(*, now: datetime, due_at: datetime, responded_at: datetime | None) -> SlaStatus:
    if responded_at is not None:
        return "met" if responded_at <= due_at else "breached"
    return "breached" if now >= due_at else "on_track"
