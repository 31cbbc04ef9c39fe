"""Read side: one complaint as the API shows it, the priority queue, the delay report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.complaints import sla, workflow
from services.complaints.records import ComplaintOut, QueueEntry
from services.complaints.service import Complaints
from services.complaints.tables import complaint_history, complaints as c

OPEN = c.c.status.in_(workflow.OPEN_STATUSES)


def judged_at(now: datetime) -> sa.ColumnElement:
    """The moment an open complaint's SLA is judged at: now, or when its clock was paused."""
    return sa.func.coalesce(c.c.paused_since, sa.literal(now, sa.DateTime(timezone=True)))


def sla_condition(status: str, now: datetime) -> sa.ColumnElement[bool]:
    """SQL twin of sla.status for open complaints."""
    moment = judged_at(now)
    return {
        "breached": moment >= c.c.due_at,
        "at_risk": sa.and_(moment >= c.c.at_risk_at, moment < c.c.due_at),
        "on_track": moment < c.c.at_risk_at,
        "met": sa.false(),
    }[status]


def to_out(ctx: Complaints, row: Any, history: list[Any], now: datetime) -> ComplaintOut:
    resolved = row.resolved_at is not None
    remaining = None if resolved else sla.time_remaining(clock=ctx.clock, now=now, due_at=row.due_at, paused_since=row.paused_since)
    return ComplaintOut(
        complaint_id=row.complaint_id, customer_id=row.customer_id, team_id=row.team_id, handler_id=row.handler_id,
        filed_by=row.filed_by, status=row.status, allowed_next=list(workflow.allowed_next(row.status)), tier=row.tier,
        received_at=row.received_at, complainant={"name": row.complainant_name, "role": row.complainant_role},
        contact=row.contact, channel=row.channel, content=row.content, summary=row.summary, order_id=row.order_id,
        requested_remedy=row.requested_remedy,
        cause={"category": row.cause_category, "analysis": row.cause_analysis} if row.cause_category else None,
        plan={"actions": row.plan_actions, "compensation": f"{row.compensation:.2f}", "compensation_kind": row.compensation_kind},
        feedback=(
            {"accepted": row.feedback_accepted, "satisfaction": row.satisfaction, "comment": row.feedback_comment}
            if row.feedback_accepted is not None else None
        ),
        improvement_measures=row.improvement_measures,
        escalation=(
            {"department": row.escalated_to, "escalated_by": row.escalated_by,
             "accepted_by": row.escalation_accepted_by, "accepted_at": row.escalation_accepted_at}
            if row.escalated_to else None
        ),
        resolved_at=row.resolved_at, within_sla=row.within_sla, closed_at=row.closed_at,
        sla={
            "clock": row.clock, "tier": row.sla_tier,
            "status": sla.status(now=now, at_risk_at=row.at_risk_at, due_at=row.due_at,
                                 paused_since=row.paused_since, resolved_at=row.resolved_at),
            "due_at": row.due_at, "filed_due_at": row.filed_due_at, "at_risk_at": row.at_risk_at,
            "time_remaining_seconds": None if remaining is None else remaining.total_seconds(),
            "paused": row.paused_since is not None and not resolved,
            "first_response": {
                "due_at": row.first_response_due_at, "responded_at": row.first_responded_at,
                "status": sla.first_response_status(now=now, due_at=row.first_response_due_at, responded_at=row.first_responded_at),
            },
            "calendar_flags": row.calendar_flags,
        },
        history=[h._asdict() for h in history],
    )


async def complaint(session: AsyncSession, complaint_id: str) -> tuple[Any, list[Any]] | None:
    row = (await session.execute(sa.select(c).where(c.c.complaint_id == complaint_id))).first()
    if row is None:
        return None
    history = (await session.execute(
        sa.select(complaint_history.c.action, complaint_history.c.from_status, complaint_history.c.to_status,
                  complaint_history.c.actor_id, complaint_history.c.at, complaint_history.c.note, complaint_history.c.details)
        .where(complaint_history.c.complaint_id == complaint_id).order_by(complaint_history.c.id)
    )).all()
    return row, history


def open_filter(*, scope: sa.ColumnElement[bool], now: datetime, team: str | None = None, handler: str | None = None,
                status: str | None = None, sla_status: str | None = None) -> list[sa.ColumnElement[bool]]:
    where = [OPEN, scope]
    if team:
        where.append(c.c.team_id == team)
    if handler:
        where.append(c.c.handler_id == handler)
    if status:
        where.append(c.c.status == status)
    if sla_status:
        where.append(sla_condition(sla_status, now))
    return where


async def queue(session: AsyncSession, *, ctx: Complaints, where: list, now: datetime, limit: int, offset: int) -> tuple[int, list[QueueEntry]]:
    """Open complaints, higher tier first, then least time remaining (frozen for paused clocks)."""
    remaining = sa.case((c.c.paused_since.is_(None), c.c.due_at - sa.literal(now, sa.DateTime(timezone=True))),
                        else_=c.c.due_at - c.c.paused_since)
    cols = [c.c.complaint_id, c.c.customer_id, c.c.sla_tier, c.c.status, c.c.team_id, c.c.handler_id, c.c.summary,
            c.c.received_at, c.c.due_at, c.c.at_risk_at, c.c.paused_since]
    rows = (await session.execute(
        sa.select(*cols).where(*where).order_by(c.c.sla_tier, remaining, c.c.received_at, c.c.complaint_id).limit(limit).offset(offset)
    )).all()
    total = await session.scalar(sa.select(sa.func.count()).select_from(c).where(*where))
    items = [
        QueueEntry(
            complaint_id=r.complaint_id, customer_id=r.customer_id, tier=r.sla_tier, status=r.status, team_id=r.team_id,
            handler_id=r.handler_id, summary=r.summary, received_at=r.received_at, due_at=r.due_at,
            sla_status=sla.status(now=now, at_risk_at=r.at_risk_at, due_at=r.due_at, paused_since=r.paused_since),
            time_remaining_seconds=sla.time_remaining(clock=ctx.clock, now=now, due_at=r.due_at, paused_since=r.paused_since).total_seconds(),
            paused=r.paused_since is not None,
        )
        for r in rows
    ]
    return int(total or 0), items
