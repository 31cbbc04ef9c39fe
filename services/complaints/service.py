"""Use cases: file a complaint, move it through the workflow, accept an escalation, follow a tier change.

Each takes the caller's session (the request owns the transaction) and stages its events in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.complaints import sla, workflow
from services.complaints.access import require_visible
from services.complaints.policy import ComplaintsPolicy
from services.complaints.records import ComplaintIn, TransitionIn
from services.complaints.tables import complaint_history, complaints
from shared import events, outbox, topics
from shared.auth import Principal
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.read_models import known_customers

SOURCE = "crm/complaints"
# A received_at a little ahead of our clock is tolerated (the desk's clocks drift).
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Complaints:
    """The service's configuration: its policy and its SLA clock."""

    policy: ComplaintsPolicy
    clock: sla.SlaClock


async def _lock_customer(session: AsyncSession, customer_id: str) -> Any:
    # Writers of one customer serialise here, so its events leave the outbox in commit order.
    return (
        await session.execute(
            sa.select(known_customers.c.customer_id, known_customers.c.team_id, known_customers.c.tier)
            .where(known_customers.c.customer_id == customer_id)
            .with_for_update()
        )
    ).first()


async def _stage(session: AsyncSession, data: events.EventData, customer_id: str) -> None:
    event = events.new_event(data, source=SOURCE, subject=customer_id)
    await outbox.add(session, event, key=customer_id, topic=topics.COMPLAINTS)


async def _audit(session: AsyncSession, *, complaint_id: str, action: str, actor_id: str, at: datetime,
                 from_status: str | None = None, to_status: str | None = None, note: str | None = None,
                 details: dict | None = None) -> None:
    await session.execute(
        sa.insert(complaint_history).values(
            complaint_id=complaint_id, action=action, from_status=from_status, to_status=to_status,
            actor_id=actor_id, at=at, note=note, details=details or {},
        )
    )


async def file_complaint(session: AsyncSession, *, ctx: Complaints, principal: Principal, body: ComplaintIn,
                         complaint_id: str, now: datetime) -> None:
    customer = await _lock_customer(session, body.customer_id)
    if customer is None:
        raise DomainError(f"customer {body.customer_id} is not known here (no CustomerUpdated or TierChanged seen)",
                          field="customer_id", code="unknown_customer", status=422)
    received_at = body.received_at or now
    if received_at > now + CLOCK_SKEW:
        raise DomainError("received_at lies in the future", field="received_at", code="invalid_input", status=422)
    tier = customer.tier or ctx.policy.default_tier
    team_id = customer.team_id or principal.team_id
    handler_id = body.handler_id or principal.user_id
    due = sla.deadlines(clock=ctx.clock, policy=ctx.policy, tier=tier, received_at=received_at)
    summary = body.summary or body.content[:200]
    await session.execute(
        sa.insert(complaints).values(
            complaint_id=complaint_id, customer_id=body.customer_id, team_id=team_id, handler_id=handler_id,
            filed_by=principal.user_id, status="received", tier=tier, sla_tier=tier, clock=ctx.clock.mode,
            received_at=received_at, complainant_name=body.complainant.name, complainant_role=body.complainant.role,
            contact=body.contact, channel=body.channel, content=body.content, summary=summary,
            order_id=body.order_id, requested_remedy=body.requested_remedy,
            first_response_due_at=due.first_response_due_at, at_risk_at=due.at_risk_at, due_at=due.due_at,
            filed_due_at=due.due_at, calendar_flags=due.flags, created_at=now, updated_at=now,
        )
    )
    await _audit(session, complaint_id=complaint_id, action="filed", actor_id=principal.user_id, at=now,
                 to_status="received", details={"tier": tier, "due_at": due.due_at.isoformat()})
    await _stage(session, events.ComplaintFiled(
        complaint_id=complaint_id, customer_id=body.customer_id, tier=tier, received_at=received_at,
        due_at=due.due_at, handler_id=handler_id, summary=summary, order_id=body.order_id,
    ), body.customer_id)


async def _locked_complaint(session: AsyncSession, complaint_id: str) -> Any:
    customer_id = await session.scalar(sa.select(complaints.c.customer_id).where(complaints.c.complaint_id == complaint_id))
    if customer_id is None:
        raise NotFound(f"complaint {complaint_id} not found", field="complaint_id")
    await _lock_customer(session, customer_id)
    return (await session.execute(sa.select(complaints).where(complaints.c.complaint_id == complaint_id).with_for_update())).first()


def _record_changes(body: TransitionIn) -> dict[str, Any]:
    """The parts of template 3 a transition may fill in (cause, plan, feedback, improvement measures)."""
    changes: dict[str, Any] = {}
    if body.cause:
        changes.update(cause_category=body.cause.category, cause_analysis=body.cause.analysis)
    if body.plan:
        changes.update(
            plan_actions=[{"no": i, **a.model_dump(mode="json")} for i, a in enumerate(body.plan.actions, start=1)],
            compensation=body.plan.compensation, compensation_kind=body.plan.compensation_kind,
        )
    if body.feedback:
        changes.update(feedback_accepted=body.feedback.accepted, satisfaction=body.feedback.satisfaction,
                       feedback_comment=body.feedback.comment)
    if body.improvement_measures:
        changes["improvement_measures"] = body.improvement_measures
    return changes


def _clock_changes(ctx: Complaints, row: Any, target: str, now: datetime) -> dict[str, Any]:
    """Pause the SLA clock on entering a waiting status, resume (pushing the deadlines back) on leaving it."""
    paused_now = ctx.policy.clock_paused_in(target)
    if row.paused_since is None and paused_now:
        return {"paused_since": now}
    if row.paused_since is not None and not paused_now:
        paused_for = row.paused_for + ctx.clock.between(row.paused_since, now)
        due = sla.deadlines(clock=ctx.clock, policy=ctx.policy, tier=row.sla_tier, received_at=row.received_at, paused_for=paused_for)
        return {"paused_since": None, "paused_for": paused_for, "at_risk_at": due.at_risk_at, "due_at": due.due_at,
                "calendar_flags": due.flags}
    return {}


async def transition(session: AsyncSession, *, ctx: Complaints, principal: Principal, complaint_id: str,
                     body: TransitionIn, now: datetime) -> None:
    row = await _locked_complaint(session, complaint_id)
    require_visible(principal, row)
    facts = workflow.Facts(
        has_cause_category=bool(body.cause or row.cause_category),
        has_plan=bool(body.plan or row.plan_actions),
        department=body.department,
        escalation_accepted=row.escalation_accepted_at is not None,
    )
    workflow.check(row.status, body.to, facts)
    changes: dict[str, Any] = {"status": body.to, "updated_at": now, **_record_changes(body)}
    if row.first_responded_at is None:
        changes["first_responded_at"] = now  # leaving `received` is the first response
    if body.to == "escalated":
        changes.update(escalated_to=body.department, escalated_by=principal.user_id,
                       escalation_accepted_by=None, escalation_accepted_at=None)
    within_sla = None
    if body.to == "resolved":
        within_sla = (row.paused_since or now) <= row.due_at
        changes.update(resolved_at=now, within_sla=within_sla)
    elif body.to == "closed":
        changes["closed_at"] = now
    elif body.to == "reopened":
        changes.update(resolved_at=None, within_sla=None)
    changes.update(_clock_changes(ctx, row, body.to, now))
    await session.execute(sa.update(complaints).where(complaints.c.complaint_id == complaint_id).values(**changes))
    await _audit(session, complaint_id=complaint_id, action="transition", actor_id=principal.user_id, at=now,
                 from_status=row.status, to_status=body.to, note=body.note,
                 details=body.model_dump(mode="json", exclude={"to", "note"}, exclude_none=True))
    await _stage(session, events.ComplaintStatusChanged.model_validate({
        "complaint_id": complaint_id, "customer_id": row.customer_id, "from": row.status, "to": body.to,
        "actor_id": principal.user_id, "at": now, "note": body.note,
    }), row.customer_id)
    if body.to == "resolved":
        await _stage(session, events.ComplaintResolved(
            complaint_id=complaint_id, customer_id=row.customer_id, resolved_at=now, due_at=row.due_at,
            within_sla=within_sla, cause_category=changes.get("cause_category") or row.cause_category,
        ), row.customer_id)


async def accept_escalation(session: AsyncSession, *, principal: Principal, complaint_id: str, now: datetime) -> None:
    """The department takes the complaint over: its accepting member becomes the handler."""
    row = await _locked_complaint(session, complaint_id)
    if row.status != "escalated":
        raise Conflict(f"complaint {complaint_id} is {row.status}, not escalated", field="status", code="not_escalated")
    if row.escalation_accepted_at is not None:
        raise Conflict(f"the escalation was already accepted by {row.escalation_accepted_by}", field="status",
                       code="already_accepted")
    if not principal.is_admin and principal.team_id != row.escalated_to:
        raise Forbidden(f"only the department {row.escalated_to} can accept this escalation", field="team")
    await session.execute(
        sa.update(complaints).where(complaints.c.complaint_id == complaint_id).values(
            escalation_accepted_by=principal.user_id, escalation_accepted_at=now, handler_id=principal.user_id,
            updated_at=now,
        )
    )
    await _audit(session, complaint_id=complaint_id, action="escalation_accepted", actor_id=principal.user_id, at=now,
                 from_status="escalated", to_status="escalated",
                 details={"department": row.escalated_to, "previous_handler_id": row.handler_id})


async def follow_tier(session: AsyncSession, *, ctx: Complaints, customer_id: str, now: datetime) -> None:
    """Policy `follow_current_tier`: move the open complaints' deadlines to the customer's current tier."""
    tier = await session.scalar(sa.select(known_customers.c.tier).where(known_customers.c.customer_id == customer_id))
    if tier is None:
        return
    rows = (await session.execute(
        sa.select(complaints).where(complaints.c.customer_id == customer_id, complaints.c.sla_tier != tier,
                                    complaints.c.status.in_(workflow.OPEN_STATUSES)).with_for_update()
    )).all()
    for row in rows:
        due = sla.deadlines(clock=ctx.clock, policy=ctx.policy, tier=tier, received_at=row.received_at, paused_for=row.paused_for)
        await session.execute(sa.update(complaints).where(complaints.c.complaint_id == row.complaint_id).values(
            sla_tier=tier, due_at=due.due_at, at_risk_at=due.at_risk_at, first_response_due_at=due.first_response_due_at,
            calendar_flags=due.flags, updated_at=now,
        ))
        await _audit(session, complaint_id=row.complaint_id, action="tier_followed", actor_id="system", at=now,
                     details={"from_tier": row.sla_tier, "to_tier": tier, "due_at": due.due_at.isoformat()})
