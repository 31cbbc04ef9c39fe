"""HTTP: a rep's agenda, a manager's team view, overdue follow-ups; marking done; SLA alerts; channels.

Scope (shared/auth.py): a rep sees own follow-ups and alerts, a manager the team's, an admin all.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from fastapi import APIRouter, Query, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from services.notifier import followups as cases
from services.notifier.clock import Clock
from services.notifier.domain import Rules
from services.notifier.tables import complaint_timers, deliveries, followups, parked_events, recipients, sla_alerts
from shared.auth import CurrentPrincipal, Principal, require_role
from shared.db import unit_of_work
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.events import Timestamp
from shared.read_models import known_customers
from shared.service import runtime_of

router = APIRouter(tags=["notifier"])
OPEN = ("scheduled", "fired")
CONTACT_OUTCOMES = ("interested", "undecided", "not_now", "won", "lost")


def _rules(request: Request) -> Rules:
    return request.app.state.rules


def _clock(request: Request) -> Clock:
    return request.app.state.clock


def _scope(principal: Principal, rep_id: str | None, team_id: str | None) -> list[sa.ColumnElement[bool]]:
    if principal.role == "rep":
        if rep_id not in (None, principal.user_id):
            raise Forbidden("a rep sees only their own follow-ups", field="rep_id")
        return [followups.c.rep_id == principal.user_id]
    where = []
    if principal.role == "manager":
        if team_id not in (None, principal.team_id):
            raise Forbidden("a manager sees only their team", field="team_id")
        where.append(followups.c.team_id == principal.team_id)
    elif team_id:
        where.append(followups.c.team_id == team_id)
    if rep_id:
        where.append(followups.c.rep_id == rep_id)
    return where


def _view(row: sa.Row) -> dict:
    return {
        "followup_id": row.followup_id, "customer_id": row.customer_id, "customer_name": row.name,
        "rep_id": row.rep_id, "team_id": row.team_id, "kind": row.kind, "content": row.content,
        "due_at": row.due_at, "state": row.state, "fired_at": row.fired_at,
    }


@router.get("/followups", summary="Agenda by day (rep), team view (manager), and overdue follow-ups")
async def agenda(
    request: Request,
    principal: CurrentPrincipal,
    from_: Annotated[date | None, Query(alias="from", description="first day (default today)")] = None,
    to: Annotated[date | None, Query(description="last day, inclusive (default from + 6 days)")] = None,
    rep_id: Annotated[str | None, Query(max_length=64)] = None,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict:
    rules, now = _rules(request), _clock(request).now()
    zone = rules.calendar.zone
    first = from_ or now.astimezone(zone).date()
    last = to or first + timedelta(days=6)
    if last < first or (last - first).days > 92:
        raise DomainError("`to` must be on or after `from`, at most 92 days later", field="to", status=422, code="invalid_input")
    where = [followups.c.state.in_(OPEN), *_scope(principal, rep_id, team_id)]
    start, end = datetime.combine(first, time(0), zone), datetime.combine(last + timedelta(days=1), time(0), zone)
    query = sa.select(followups, known_customers.c.name).outerjoin(
        known_customers, known_customers.c.customer_id == followups.c.customer_id
    )
    async with unit_of_work(runtime_of(request).sessions) as session:
        window = (await session.execute(query.where(*where, followups.c.due_at >= start, followups.c.due_at < end).order_by(followups.c.due_at))).all()
        overdue = (await session.execute(query.where(*where, followups.c.due_at < now).order_by(followups.c.due_at).limit(500))).all()
    days: dict[date, list[dict]] = {}
    for row in window:
        days.setdefault(row.due_at.astimezone(zone).date(), []).append(_view(row))
    return {
        "from": first, "to": last, "now": now,
        "agenda": [{"day": d, "followups": items} for d, items in sorted(days.items())],
        "overdue": [_view(r) for r in overdue],
    }


class Done(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["interested", "undecided", "not_now", "won", "lost", "kept", "broken", "no_contact"]
    note: str | None = Field(default=None, max_length=2000)
    contacted_at: Timestamp | None = None


@router.post("/followups/{followup_id}/done", summary="Mark a follow-up done with its outcome")
async def done(request: Request, followup_id: str, body: Done, principal: CurrentPrincipal) -> dict:
    rules, now = _rules(request), _clock(request).now()
    async with unit_of_work(runtime_of(request).sessions) as session:
        customer_id = await session.scalar(sa.select(followups.c.customer_id).where(followups.c.followup_id == followup_id))
        if customer_id is None:
            raise NotFound(f"no follow-up {followup_id}", field="followup_id")
        await cases.lock_customer(session, customer_id)  # lock order: customer, then its follow-ups
        f = (await session.execute(sa.select(followups).where(followups.c.followup_id == followup_id).with_for_update())).one()
        if not principal.can_see(owner_rep_id=f.rep_id, team_id=f.team_id):
            raise NotFound(f"no follow-up {followup_id}", field="followup_id")  # do not reveal others' work
        if f.state not in OPEN:
            raise Conflict(f"the follow-up is {f.state}", field="followup_id")
        await session.execute(
            sa.update(followups).where(followups.c.followup_id == followup_id).values(state="done", done_at=now, outcome=body.outcome, note=body.note)
        )
        customer = await cases.known_customer(session, customer_id)
        if body.outcome in CONTACT_OUTCOMES and customer is not None:
            plan = rules.after_contact(ref=f"followup:{followup_id}", rep_id=f.rep_id, at=body.contacted_at or now, outcome=body.outcome)
            await cases.apply_contact(session, rules=rules, customer=customer, plan=plan)
    return {"followup_id": followup_id, "state": "done", "outcome": body.outcome, "done_at": now}


@router.get("/alerts", summary="SLA warnings, breaches and escalations")
async def list_alerts(
    request: Request,
    principal: CurrentPrincipal,
    state: Annotated[Literal["fired", "scheduled", "cancelled"], Query()] = "fired",
    complaint_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict:
    query = (
        sa.select(sla_alerts, complaint_timers.c.customer_id, complaint_timers.c.tier, complaint_timers.c.handler_id,
                  complaint_timers.c.due_at, complaint_timers.c.status, known_customers.c.team_id)
        .join(complaint_timers, complaint_timers.c.complaint_id == sla_alerts.c.complaint_id)
        .outerjoin(known_customers, known_customers.c.customer_id == complaint_timers.c.customer_id)
        .where(sla_alerts.c.state == state)
    )
    if complaint_id:
        query = query.where(sla_alerts.c.complaint_id == complaint_id)
    me = principal.user_id
    if principal.role == "rep":
        query = query.where(sa.or_(complaint_timers.c.handler_id == me, sla_alerts.c.recipients.any(me)))
    elif principal.role == "manager":
        query = query.where(sa.or_(known_customers.c.team_id == principal.team_id, sla_alerts.c.recipients.any(me)))
    async with unit_of_work(runtime_of(request).sessions) as session:
        rows = (await session.execute(query.order_by(sla_alerts.c.fire_at.desc()).limit(limit))).all()
    return {
        "alerts": [
            {
                "alert_id": r.alert_id, "complaint_id": r.complaint_id, "customer_id": r.customer_id, "stage": r.stage,
                "escalation": r.seq, "tier": r.tier, "handler_id": r.handler_id, "due_at": r.due_at, "fire_at": r.fire_at,
                "fired_at": r.fired_at, "state": r.state, "recipients": r.recipients or [], "complaint_status": r.status,
            }
            for r in rows
        ]
    }


class Channels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=200)
    manager_id: str | None = Field(default=None, max_length=64)


@router.put("/recipients/{recipient_id}", summary="Set a recipient's channels (e-mail, signed webhook) and manager")
async def put_recipient(request: Request, recipient_id: str, body: Channels, principal: CurrentPrincipal) -> dict:
    require_role(principal, "admin")
    if body.webhook_url and not body.webhook_secret:
        raise DomainError("a webhook needs a secret to sign its calls", field="webhook_secret", status=422, code="invalid_input")
    values = {
        "email": body.email, "webhook_url": str(body.webhook_url) if body.webhook_url else None,
        "webhook_secret": body.webhook_secret, "manager_id": body.manager_id, "updated_at": sa.func.now(),
    }
    stmt = pg.insert(recipients).values(recipient_id=recipient_id, **values)
    async with unit_of_work(runtime_of(request).sessions) as session:
        await session.execute(stmt.on_conflict_do_update(index_elements=[recipients.c.recipient_id], set_=values))
    return {"recipient_id": recipient_id, **body.model_dump(mode="json", exclude={"webhook_secret"})}


@router.get("/deliveries", summary="Delivery log (admin)")
async def delivery_log(
    request: Request, principal: CurrentPrincipal,
    status: Annotated[Literal["pending", "sent", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict:
    require_role(principal, "admin")
    query = sa.select(deliveries).order_by(deliveries.c.delivery_id.desc()).limit(limit)
    if status:
        query = query.where(deliveries.c.status == status)
    async with unit_of_work(runtime_of(request).sessions) as session:
        rows = (await session.execute(query)).all()
    keys = ("delivery_id", "recipient_id", "channel", "target", "event_id", "event_type", "subject", "status", "attempts", "last_error", "next_attempt_at", "sent_at")
    return {"deliveries": [{k: getattr(r, k) for k in keys} for r in rows]}


@router.get("/parked-events", summary="Events kept until their customer appears (admin)")
async def parked(request: Request, principal: CurrentPrincipal) -> dict:
    require_role(principal, "admin")
    async with unit_of_work(runtime_of(request).sessions) as session:
        rows = (await session.execute(sa.select(parked_events).order_by(parked_events.c.parked_at).limit(1000))).all()
    return {"parked": [{"event_id": r.event_id, "customer_id": r.customer_id, "event_type": r.event_type, "parked_at": r.parked_at} for r in rows]}
