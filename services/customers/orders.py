"""HTTP: orders and payments intake. Idempotent on order_id / payment_id: a repeat returns the existing
record and stages no second event. Orders from outside producers arrive through handlers.py."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.dialects import postgresql as pg

from services.customers.access import Actor, load_card
from services.customers.domain import Amount
from services.customers.handlers import order_row, payment_row
from services.customers.models import customers, orders, payments
from shared import events, outbox, topics
from shared.auth import require_role
from shared.db import unit_of_work
from shared.errors import Conflict, DomainError
from shared.events import Timestamp
from shared.service import runtime_of

router = APIRouter(tags=["orders"])
SOURCE = "crm/customers"
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CustomerKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PositiveAmount = Annotated[Amount, Field(gt=0)]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: Key
    customer_id: CustomerKey
    amount: PositiveAmount
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    cost: Amount | None = None
    placed_at: Timestamp
    payment_due: date | None = None


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_id: Key
    order_id: Key
    customer_id: CustomerKey
    amount: PositiveAmount
    paid_at: Timestamp


class OrderOut(OrderIn):
    model_config = ConfigDict(extra="ignore")
    source: str


class PaymentOut(PaymentIn):
    model_config = ConfigDict(extra="ignore")
    source: str


def same(existing: dict[str, Any], incoming: dict[str, Any]) -> bool:
    return all(existing.get(k) == v for k, v in incoming.items() if k not in ("source", "received_at"))


async def intake(request: Request, response: Response, *, table: sa.Table, key: str, row: dict[str, Any], event: events.EventData, actor, label: str) -> dict:
    runtime = runtime_of(request)
    async with unit_of_work(runtime.sessions) as session:
        await load_card(session, actor, row["customer_id"], for_update=True)  # scope, and per-customer event order
        if table is payments:
            order_customer = await session.scalar(sa.select(orders.c.customer_id).where(orders.c.order_id == row["order_id"]))
            if order_customer != row["customer_id"]:
                raise DomainError(f"order {row['order_id']} is not an order of this customer", field="order_id", code="unknown_order", status=422)
        inserted = await session.scalar(pg.insert(table).values(**row).on_conflict_do_nothing().returning(table.c[key]))
        if inserted is None:
            existing = dict((await session.execute(sa.select(table).where(table.c[key] == row[key]))).one()._mapping)
            if not same(existing, row):
                raise Conflict(f"{label} {row[key]} already exists with other details", field=key, code=f"{label}_id_reused")
            response.status_code = status.HTTP_200_OK
            return existing
        await outbox.add(session, events.new_event(event, source=SOURCE, subject=row["customer_id"]), key=row["customer_id"], topic=topics.ORDERS)
    runtime.relay.wake()
    response.status_code = status.HTTP_201_CREATED
    return row


@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED, summary="Record an order (OrderPlaced); idempotent on order_id")
async def place_order(body: OrderIn, actor: Actor, request: Request, response: Response) -> dict:
    event = events.OrderPlaced.model_validate(body.model_dump())
    row = order_row(event, source=SOURCE, at=datetime.now(timezone.utc))
    return await intake(request, response, table=orders, key="order_id", row=row, event=event, actor=actor, label="order")


@router.post("/payments", response_model=PaymentOut, status_code=status.HTTP_201_CREATED, summary="Record a payment (PaymentReceived); idempotent on payment_id")
async def receive_payment(body: PaymentIn, actor: Actor, request: Request, response: Response) -> dict:
    event = events.PaymentReceived.model_validate(body.model_dump())
    row = payment_row(event, source=SOURCE, at=datetime.now(timezone.utc))
    return await intake(request, response, table=payments, key="payment_id", row=row, event=event, actor=actor, label="payment")


@router.get("/orders/unmatched", response_model=list[OrderOut], summary="Orders naming a customer this archive does not know (admin)")
async def unmatched_orders(actor: Actor, request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    require_role(actor, "admin")  # an unknown customer has no team, so only an admin may see these
    query = (
        sa.select(orders)
        .where(~sa.exists().where(customers.c.customer_id == orders.c.customer_id))
        .order_by(orders.c.received_at, orders.c.order_id)
        .limit(limit)
    )
    async with runtime_of(request).sessions() as session:
        return [dict(r._mapping) for r in (await session.execute(query)).all()]
