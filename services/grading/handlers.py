"""Event handlers: keep the money facts per customer (set-based, one statement per batch) and re-grade who moved.

Grading happens in the consumer's transaction, so a TierChanged is staged in
the outbox together with the facts that caused it. Every handler first writes
or locks the metrics rows of the customers it will re-grade (in customer order),
so transactions running side by side (one per consumer group member) never grade a customer
from facts another one is changing.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.grading import evaluation
from services.grading.policy import GradingPolicy
from shared.consumer import BatchHandler, batched
from shared.events import CloudEvent, CustomerUpdated, OrderPlaced, PaymentReceived

Batch = list[tuple[CloudEvent, object]]

# Orders counted once by order_id (an ERP may resend an order under a new event id); counters follow the new rows.
RECORD_ORDERS = sa.text(
    """
    WITH incoming AS (
        SELECT DISTINCT ON (order_id) *
        FROM unnest(CAST(:order_id AS text[]), CAST(:customer_id AS text[]), CAST(:amount AS numeric[]),
                    CAST(:cost AS numeric[]), CAST(:placed_at AS timestamptz[]), CAST(:payment_due AS date[]))
             AS t(order_id, customer_id, amount, cost, placed_at, payment_due)
        ORDER BY order_id
    ),
    recorded AS (
        INSERT INTO grading_orders (order_id, customer_id, amount, cost, placed_at, payment_due)
        SELECT * FROM incoming
        ON CONFLICT (order_id) DO NOTHING
        RETURNING order_id, customer_id, amount, placed_at
    )
    INSERT INTO grading_customer_metrics AS m (customer_id, order_count, purchases_total, last_order_at)
    SELECT customer_id, count(*), sum(amount), max(placed_at) FROM recorded GROUP BY customer_id ORDER BY customer_id
    ON CONFLICT (customer_id) DO UPDATE SET
        order_count = m.order_count + excluded.order_count,
        purchases_total = m.purchases_total + excluded.purchases_total,
        last_order_at = greatest(m.last_order_at, excluded.last_order_at)
    RETURNING customer_id
    """
)

RECORD_PAYMENTS = sa.text(
    """
    INSERT INTO grading_payments (payment_id, order_id, customer_id, amount, paid_at)
    SELECT DISTINCT ON (payment_id) *
    FROM unnest(CAST(:payment_id AS text[]), CAST(:order_id AS text[]), CAST(:customer_id AS text[]),
                CAST(:amount AS numeric[]), CAST(:paid_at AS timestamptz[])) AS t(payment_id, order_id, customer_id, amount, paid_at)
    ORDER BY payment_id
    ON CONFLICT (payment_id) DO NOTHING
    RETURNING order_id
    """
)

# Paid amount and the moment payments first covered the order, from all payments of these orders.
SETTLE_ORDERS = sa.text(
    """
    WITH running AS (
        SELECT p.order_id, p.paid_at,
               sum(p.amount) OVER (PARTITION BY p.order_id ORDER BY p.paid_at, p.payment_id) AS paid
        FROM grading_payments p WHERE p.order_id = ANY(CAST(:order_ids AS text[]))
    ),
    totals AS (
        SELECT r.order_id, max(r.paid) AS paid, min(r.paid_at) FILTER (WHERE r.paid >= o.amount) AS settled_at
        FROM running r JOIN grading_orders o ON o.order_id = r.order_id
        GROUP BY r.order_id
    )
    UPDATE grading_orders o SET paid_amount = t.paid, settled_at = t.settled_at
    FROM totals t WHERE o.order_id = t.order_id
    """
)


# Snapshots carry a revision: an older one never overwrites a newer one.
RECORD_CUSTOMERS = sa.text(
    """
    INSERT INTO grading_customer_metrics AS m
        (customer_id, team_id, owner_rep_id, strategic_partner, high_potential, customer_revision)
    SELECT DISTINCT ON (customer_id) *
    FROM unnest(CAST(:customer_id AS text[]), CAST(:team_id AS text[]), CAST(:owner_rep_id AS text[]),
                CAST(:strategic_partner AS boolean[]), CAST(:high_potential AS boolean[]), CAST(:revision AS int[]))
         AS t(customer_id, team_id, owner_rep_id, strategic_partner, high_potential, revision)
    ORDER BY customer_id, revision DESC
    ON CONFLICT (customer_id) DO UPDATE SET
        team_id = excluded.team_id, owner_rep_id = excluded.owner_rep_id,
        strategic_partner = excluded.strategic_partner, high_potential = excluded.high_potential,
        customer_revision = excluded.customer_revision
    WHERE m.customer_revision < excluded.customer_revision
    RETURNING customer_id
    """
)


def columns(items: list, *fields: str) -> dict[str, list]:
    """Row objects -> one array per field, the parameters of an `unnest` statement."""
    return {f: [getattr(item, f) for item in items] for f in fields}


def build_handlers(policy: Callable[[], GradingPolicy]) -> dict[str, BatchHandler]:
    """The batched handlers, bound to the grading policy loaded at start-up."""

    @batched
    async def order_placed(session: AsyncSession, batch: Batch) -> None:
        orders: list[OrderPlaced] = [data for _, data in batch]  # type: ignore[misc]
        touched = (
            await session.execute(
                RECORD_ORDERS,
                columns(orders, "order_id", "customer_id", "amount", "cost", "placed_at", "payment_due"),
            )
        ).scalars().all()
        if not touched:
            return
        # a payment may have arrived before its order
        await session.execute(SETTLE_ORDERS, {"order_ids": [o.order_id for o in orders]})
        await evaluation.evaluate(session, policy=policy(), customer_ids=list(touched))

    @batched
    async def payment_received(session: AsyncSession, batch: Batch) -> None:
        paid: list[PaymentReceived] = [data for _, data in batch]  # type: ignore[misc]
        recorded = (
            await session.execute(
                RECORD_PAYMENTS,
                columns(paid, "payment_id", "order_id", "customer_id", "amount", "paid_at"),
            )
        ).scalars().all()
        if not recorded:
            return
        await session.execute(SETTLE_ORDERS, {"order_ids": sorted(set(recorded))})
        customers = sorted({p.customer_id for p in paid})
        await session.execute(evaluation.LOCK_CUSTOMERS, {"customer_id": customers})
        await evaluation.evaluate(session, policy=policy(), customer_ids=customers)

    @batched
    async def customer_updated(session: AsyncSession, batch: Batch) -> None:
        cards: list[CustomerUpdated] = [data for _, data in batch]  # type: ignore[misc]
        changed = (
            await session.execute(
                RECORD_CUSTOMERS,
                {
                    "customer_id": [c.customer_id for c in cards],
                    "team_id": [c.team_id for c in cards],
                    "owner_rep_id": [c.owner_rep_id for c in cards],
                    "strategic_partner": [c.strategic_partner for c in cards],
                    "high_potential": [c.high_potential for c in cards],
                    "revision": [c.revision for c in cards],
                },
            )
        ).scalars().all()
        await evaluation.evaluate(session, policy=policy(), customer_ids=list(changed))

    return {"OrderPlaced": order_placed, "PaymentReceived": payment_received, "CustomerUpdated": customer_updated}
