"""Event handlers of the grading service: keep the per-customer money facts that tiers are computed from."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from services.grading.tables import customer_metrics, orders
from shared.events import CloudEvent, CustomerUpdated, OrderPlaced


async def order_placed(session: AsyncSession, _: CloudEvent, order: OrderPlaced) -> None:
    # An order counts once even if a producer sends it again under a new event id.
    inserted = await session.scalar(
        pg.insert(orders)
        .values(
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount=order.amount,
            cost=order.cost,
            placed_at=order.placed_at,
            payment_due=order.payment_due,
        )
        .on_conflict_do_nothing()
        .returning(orders.c.order_id)
    )
    if inserted is None:
        return
    stmt = pg.insert(customer_metrics).values(
        customer_id=order.customer_id, order_count=1, purchases_total=order.amount, last_order_at=order.placed_at
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[customer_metrics.c.customer_id],
            set_={
                "order_count": customer_metrics.c.order_count + 1,
                "purchases_total": customer_metrics.c.purchases_total + stmt.excluded.purchases_total,
                "last_order_at": sa.func.greatest(customer_metrics.c.last_order_at, stmt.excluded.last_order_at),
            },
        )
    )


async def customer_updated(session: AsyncSession, _: CloudEvent, customer: CustomerUpdated) -> None:
    stmt = pg.insert(customer_metrics).values(
        customer_id=customer.customer_id,
        strategic_partner=customer.strategic_partner,
        high_potential=customer.high_potential,
        customer_revision=customer.revision,
    )
    # An older snapshot never overwrites a newer one.
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[customer_metrics.c.customer_id],
            set_={
                "strategic_partner": stmt.excluded.strategic_partner,
                "high_potential": stmt.excluded.high_potential,
                "customer_revision": stmt.excluded.customer_revision,
            },
            where=customer_metrics.c.customer_revision < stmt.excluded.customer_revision,
        )
    )
