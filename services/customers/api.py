"""HTTP entry points of the customers service."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from fastapi import APIRouter, Request, status
from sqlalchemy.exc import IntegrityError

from services.customers.domain import CustomerIn, CustomerOut, snapshot
from services.customers.models import Customer
from shared import events, outbox, topics
from shared.db import unit_of_work
from shared.errors import Conflict, NotFound
from shared.service import runtime_of

router = APIRouter(tags=["customers"])
SOURCE = "crm/customers"


def _out(row: Customer) -> CustomerOut:
    return CustomerOut.model_validate({**row.card, **row.model_dump(exclude={"card"})})


@router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=CustomerOut)
async def create_customer(body: CustomerIn, request: Request) -> CustomerOut:
    runtime = runtime_of(request)
    customer_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    extra = body.model_dump(exclude={"number", "name", "owner_rep_id", "team_id", "strategic_partner", "high_potential", "lifecycle"})
    row = Customer(
        customer_id=customer_id,
        **body.model_dump(include={"number", "name", "owner_rep_id", "team_id", "strategic_partner", "high_potential", "lifecycle"}),
        card=extra,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    try:
        async with unit_of_work(runtime.sessions) as session:
            session.add(row)
            await session.flush()
            event = events.new_event(snapshot(customer_id, body, 1), source=SOURCE, subject=customer_id)
            await outbox.add(session, event, key=customer_id, topic=topics.CUSTOMERS)
    except IntegrityError as exc:
        if "number" in str(exc.orig):
            raise Conflict(f"customer number {body.number!r} already exists", field="number", code="duplicate_number") from exc
        raise
    runtime.relay.wake()
    return _out(row)


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: str, request: Request) -> CustomerOut:
    async with runtime_of(request).sessions() as session:
        row = await session.get(Customer, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    return _out(row)
