"""The complaint record of template 3 as HTTP input and output (pydantic)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.complaints.sla import SlaStatus
from shared.events import ComplaintStatus, Money, Tier, Timestamp

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Channel = Literal["phone", "visit", "email", "message", "letter", "web", "video", "exhibition", "other"]
CauseCategory = Literal["our_explanation", "promise_not_kept", "attitude", "customer_mistake", "product_defect", "logistics_supply"]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Complainant(Input):
    name: Name
    role: Name | None = None


class ComplaintIn(Input):
    customer_id: Id
    received_at: Timestamp | None = None  # default: now
    complainant: Complainant
    contact: Annotated[str, StringConstraints(max_length=200)] | None = None
    channel: Channel
    content: Text
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    order_id: Id | None = None
    requested_remedy: Text | None = None
    handler_id: Id | None = None  # default: the filer


class Cause(Input):
    category: CauseCategory
    analysis: Text | None = None


class PlanAction(Input):
    content: Text
    owner_id: Id | None = None
    due_at: Timestamp | None = None


class Plan(Input):
    actions: list[PlanAction] = Field(min_length=1, max_length=50)
    compensation: Money = Decimal("0.00")
    compensation_kind: Name | None = None  # e.g. voucher, refund, replacement


class Feedback(Input):
    accepted: bool
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    comment: Text | None = None


class TransitionIn(Input):
    to: ComplaintStatus
    note: Text | None = None
    department: Id | None = None  # for `escalated`
    cause: Cause | None = None
    plan: Plan | None = None
    feedback: Feedback | None = None
    improvement_measures: Text | None = None


class FirstResponseOut(BaseModel):
    due_at: datetime
    responded_at: datetime | None
    status: SlaStatus


class SlaOut(BaseModel):
    clock: str
    tier: Tier
    status: SlaStatus
    due_at: datetime
    filed_due_at: datetime
    at_risk_at: datetime
    time_remaining_seconds: float | None  # clock time; negative when overdue; None once resolved
    paused: bool
    first_response: FirstResponseOut
    calendar_flags: list[str]


class HistoryOut(BaseModel):
    action: str
    from_status: str | None
    to_status: str | None
    actor_id: str
    at: datetime
    note: str | None
    details: dict


class ComplaintOut(BaseModel):
    complaint_id: str
    customer_id: str
    team_id: str | None
    handler_id: str
    filed_by: str
    status: ComplaintStatus
    allowed_next: list[str]
    tier: Tier
    received_at: datetime
    complainant: Complainant
    contact: str | None
    channel: str
    content: str
    summary: str
    order_id: str | None
    requested_remedy: str | None
    cause: Cause | None
    plan: dict
    feedback: Feedback | None
    improvement_measures: str | None
    escalation: dict | None
    resolved_at: datetime | None
    within_sla: bool | None
    closed_at: datetime | None
    sla: SlaOut
    history: list[HistoryOut] = []


class QueueEntry(BaseModel):
    complaint_id: str
    customer_id: str
    tier: Tier
    status: ComplaintStatus
    team_id: str | None
    handler_id: str
    summary: str
    received_at: datetime
    due_at: datetime
    sla_status: SlaStatus
    time_remaining_seconds: float
    paused: bool


class QueueOut(BaseModel):
    total: int
    items: list[QueueEntry]
