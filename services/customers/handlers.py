"""Consumers: orders and payments from any producer (us or an ERP) into trading status; tiers from grading."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.models import customer_tiers, orders, payments
from shared.consumer import batched
from shared.events import CloudEvent, OrderPlaced, PaymentReceived, TierChanged


def order_row(order: OrderPlaced, *, source: str, at: datetime) -> dict:
    return {**order.model_dump(include={"order_id", "customer_id", "amount", "currency", "cost", "placed_at", "payment_due"}), "source": source, "received_at": at}


def payment_row(payment: PaymentReceived, *, source: str, at: datetime) -> dict:
    return {**payment.model_dump(include={"payment_id", "order_id", "customer_id", "amount", "paid_at"}), "source": source, "received_at": at}


@batched
async def orders_placed(session: AsyncSession, batch: list[tuple[CloudEvent, OrderPlaced]]) -> None:
    """The first event naming an order_id wins; our own OrderPlaced comes back here and changes nothing."""
    now = datetime.now(timezone.utc)
    rows = {}
    for envelope, order in batch:
        rows.setdefault(order.order_id, order_row(order, source=envelope.source, at=now))
    await session.execute(pg.insert(orders).values(list(rows.values())).on_conflict_do_nothing(index_elements=[orders.c.order_id]))


@batched
async def payments_received(session: AsyncSession, batch: list[tuple[CloudEvent, PaymentReceived]]) -> None:
    now = datetime.now(timezone.utc)
    rows = {}
    for envelope, payment in batch:
        rows.setdefault(payment.payment_id, payment_row(payment, source=envelope.source, at=now))
    await session.execute(pg.insert(payments).values(list(rows.values())).on_conflict_do_nothing(index_elements=[payments.c.payment_id]))


async def tier_changed(session: AsyncSession, _: CloudEvent, change: TierChanged) -> None:
    stmt = pg.insert(customer_tiers).values(customer_id=change.customer_id, tier=change.new_tier, effective_at=change.effective_at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[customer_tiers.c.customer_id],
            set_={"tier": stmt.excluded.tier, "effective_at": stmt.excluded.effective_at},
            where=customer_tiers.c.effective_at <= stmt.excluded.effective_at,  # an older change never overwrites a newer one
        )
    )
