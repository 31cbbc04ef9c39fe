"""SLA alert timers of complaints: planned when filed, re-timed when the deadline moves, cancelled on resolution."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.domain import Rules
from services.notifier.tables import complaint_timers, sla_alerts

CLOSED = ("resolved", "closed")


async def cancel(session: AsyncSession, complaint_id: str) -> None:
    await session.execute(
        sa.update(sla_alerts)
        .where(sla_alerts.c.complaint_id == complaint_id, sla_alerts.c.state == "scheduled")
        .values(state="cancelled")
    )


async def plan(session: AsyncSession, *, rules: Rules, complaint_id: str, received_at: datetime, due_at: datetime) -> None:
    """Warning and breach for the current deadline; what was scheduled for an older deadline is cancelled."""
    await cancel(session, complaint_id)
    warn_at = rules.sla_warning_at(received_at=received_at, due_at=due_at)
    await session.execute(
        sa.insert(sla_alerts).values(
            [
                {"complaint_id": complaint_id, "stage": "warning", "seq": 0, "fire_at": warn_at},
                {"complaint_id": complaint_id, "stage": "breach", "seq": 0, "fire_at": due_at},
            ]
        )
    )


async def complaint_filed(
    session: AsyncSession, *, rules: Rules, complaint_id: str, customer_id: str, tier: str, handler_id: str,
    received_at: datetime, due_at: datetime,
) -> None:
    """Filed, or filed again with a new deadline (re-timed); the same deadline again changes nothing."""
    before = (
        await session.execute(
            sa.select(complaint_timers.c.due_at, complaint_timers.c.status)
            .where(complaint_timers.c.complaint_id == complaint_id)
            .with_for_update()
        )
    ).first()
    values = dict(customer_id=customer_id, tier=tier, handler_id=handler_id, received_at=received_at, due_at=due_at)
    stmt = pg.insert(complaint_timers).values(complaint_id=complaint_id, status="received", updated_at=received_at, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=[complaint_timers.c.complaint_id], set_=values))
    if before is not None and (before.due_at == due_at or before.status in CLOSED):
        return
    await plan(session, rules=rules, complaint_id=complaint_id, received_at=received_at, due_at=due_at)


async def status_changed(session: AsyncSession, *, rules: Rules, complaint_id: str, customer_id: str, status: str, at: datetime) -> None:
    stmt = pg.insert(complaint_timers).values(complaint_id=complaint_id, customer_id=customer_id, status=status, updated_at=at)
    applied = await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[complaint_timers.c.complaint_id],
            set_={"status": stmt.excluded.status, "updated_at": stmt.excluded.updated_at},
            where=complaint_timers.c.updated_at <= stmt.excluded.updated_at,
        ).returning(complaint_timers.c.received_at, complaint_timers.c.due_at)
    )
    row = applied.first()
    if row is None:  # an older status than the one we hold
        return
    if status in CLOSED:
        await cancel(session, complaint_id)
    elif status == "reopened" and row.due_at is not None:
        await rearm(session, rules=rules, complaint_id=complaint_id, due_at=row.due_at, at=at, received_at=row.received_at)


async def rearm(session: AsyncSession, *, rules: Rules, complaint_id: str, due_at: datetime, at: datetime, received_at: datetime | None) -> None:
    """Reopened: alerts resume where they stopped (warning/breach not yet fired, else escalation)."""
    fired = set(
        (
            await session.execute(
                sa.select(sla_alerts.c.stage).where(sla_alerts.c.complaint_id == complaint_id, sla_alerts.c.state == "fired")
            )
        ).scalars()
    )
    await cancel(session, complaint_id)
    rows = []
    if "warning" not in fired and received_at is not None:
        rows.append({"complaint_id": complaint_id, "stage": "warning", "seq": 0, "fire_at": rules.sla_warning_at(received_at=received_at, due_at=due_at)})
    if "breach" not in fired:
        rows.append({"complaint_id": complaint_id, "stage": "breach", "seq": 0, "fire_at": due_at})
    else:
        rows.append({"complaint_id": complaint_id, "stage": "escalation", "seq": 1, "fire_at": rules.next_escalation(after=at, now=at)})
    await session.execute(sa.insert(sla_alerts).values(rows))
