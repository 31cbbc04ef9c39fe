"""The [notifier] section of the policy file: cadences, visit rules, contact caps, SLA alert points, delivery retries.

Every duration is ISO 8601. A malformed or non-positive value raises PolicyError naming
the key (e.g. `notifier.cadence.A`), so the service fails at start-up (see app.build).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator


from shared.business_calendar import BusinessCalendar, CalendarPolicy
from shared.policy import Duration, PolicyModel, load_section, read_document

FOLLOW_UP_KINDS = ("cadence", "thank_you", "decision_call", "commitment", "resume")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration")
    return value


class Cadence(PolicyModel):
    """Follow-up cadence by tier (domain.md §3): A weekly, B every two weeks, C monthly."""

    A: Duration = timedelta(days=7)
    B: Duration = timedelta(days=14)
    C: Duration = timedelta(days=30)

    check_positive = field_validator("A", "B", "C")(_positive)


class ContactCap(PolicyModel):
    """No harassment: at most `per_day` proactive contacts in any `day`, `per_week` in any `week` (rolling)."""

    per_day: int = Field(default=1, ge=1)
    per_week: int = Field(default=3, ge=1)
    day: Duration = timedelta(days=1)
    week: Duration = timedelta(days=7)
    # Kinds that count as proactive contacts; commitment reminders keep promises and are not capped.
    kinds: list[Literal["cadence", "thank_you", "decision_call", "commitment", "resume"]] = [
        "cadence",
        "thank_you",
        "decision_call",
        "resume",
    ]

    check_positive = field_validator("day", "week")(_positive)


class Sla(PolicyModel):
    """Complaint SLA alerts: warning at a share of the allowed time, breach at the deadline, then escalation."""

    warning_share: float = Field(default=0.75, gt=0, lt=1)
    clock: Literal["calendar", "business"] = "calendar"  # how the allowed time is measured
    escalate_every: Duration = timedelta(hours=4)
    # handler -> manager, used when the recipients table names no manager for the handler
    managers: dict[str, str] = {}

    check_positive = field_validator("escalate_every")(_positive)


class Delivery(PolicyModel):
    """E-mail and webhook delivery: retried with exponential backoff, then marked failed."""

    retry_initial: Duration = timedelta(seconds=5)
    retry_max: Duration = timedelta(minutes=10)
    max_attempts: int = Field(default=8, ge=1)
    timeout: Duration = timedelta(seconds=5)

    check_positive = field_validator("retry_initial", "retry_max", "timeout")(_positive)


class NotifierPolicy(PolicyModel):
    cadence: Cadence = Cadence()
    default_tier: Literal["A", "B", "C"] = "C"  # for customers not graded yet
    thank_you_within: Duration = timedelta(hours=24)
    decision_call_after: Duration = timedelta(days=3)
    not_now_pause: Duration = timedelta(days=45)
    commitment_reminder_before: Duration = timedelta(days=1)
    # Human-facing follow-ups fall on working days within working hours ([calendar] section).
    working_hours_only: bool = True
    contact_cap: ContactCap = ContactCap()
    sla: Sla = Sla()
    delivery: Delivery = Delivery()

    check_positive = field_validator("thank_you_within", "decision_call_after", "not_now_pause", "commitment_reminder_before")(
        _positive
    )


# The shared calendar caches each year's holiday table itself.
NotifierCalendar = BusinessCalendar


def load(path: Path | None = None) -> tuple[NotifierPolicy, NotifierCalendar]:
    """Both sections the notifier needs; raises PolicyError naming the key."""
    document = read_document(path)
    policy = load_section("notifier", NotifierPolicy, path=path, document=document)
    calendar = NotifierCalendar(load_section("calendar", CalendarPolicy, path=path, document=document))
    return policy, calendar
