"""Event handlers of the notifier: the complaint timers its SLA alerts will fire from."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.tables import complaint_timers
from shared.events import CloudEvent, ComplaintFiled, ComplaintResolved, ComplaintStatusChanged


async def complaint_filed(session: AsyncSession, _: CloudEvent, c: ComplaintFiled) -> None:
    stmt = pg.insert(complaint_timers).values(
        complaint_id=c.complaint_id,
        customer_id=c.customer_id,
        tier=c.tier,
        handler_id=c.handler_id,
        received_at=c.received_at,
        due_at=c.due_at,
        status="received",
        updated_at=c.received_at,
    )
    await session.execute(stmt.on_conflict_do_nothing())


async def complaint_status_changed(session: AsyncSession, _: CloudEvent, c: ComplaintStatusChanged) -> None:
    await _set_status(session, c.complaint_id, c.customer_id, c.to, c.at)


async def complaint_resolved(session: AsyncSession, _: CloudEvent, c: ComplaintResolved) -> None:
    await _set_status(session, c.complaint_id, c.customer_id, "resolved", c.resolved_at)


async def _set_status(session: AsyncSession, complaint_id: str, customer_id: str, status: str, at) -> None:  # type: ignore[no-untyped-def]
    stmt = pg.insert(complaint_timers).values(
        complaint_id=complaint_id, customer_id=customer_id, status=status, updated_at=at
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[complaint_timers.c.complaint_id],
            set_={"status": stmt.excluded.status, "updated_at": stmt.excluded.updated_at},
            where=complaint_timers.c.updated_at <= stmt.excluded.updated_at,
        )
    )
