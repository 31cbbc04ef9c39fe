"""HTTP: the customer card — create, read, change, search, history, verification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError

from services.customers import cards
from services.customers.access import Actor, load_card, visible
from services.customers.domain import CustomerCard, CustomerIn, CustomerPatch, Lifecycle, Verification
from services.customers.models import customer_history, customer_tiers, customers
from services.customers.policy import CustomersPolicy
from services.customers.queries import decode_cursor, encode_cursor, page_limit, substring, trading_figures
from shared.db import unit_of_work
from shared.errors import Conflict, DomainError
from shared.events import Tier
from shared.service import runtime_of

router = APIRouter(tags=["customers"])


def policy_of(request: Request) -> CustomersPolicy:
    return request.app.state.customers_policy


Policy = Annotated[CustomersPolicy, Depends(policy_of)]


class TradingFigures(BaseModel):
    last_order_at: datetime | None
    orders_12m: int
    purchases_12m: str
    overdue_orders: int
    overdue_amount: str


class CustomerOut(CustomerCard):
    model_config = ConfigDict(extra="ignore")

    customer_id: str
    revision: int
    unverified: list[str]
    tier: Tier | None = None
    created_at: datetime
    updated_at: datetime
    trading_status: TradingFigures | None = None


class CustomerSummary(BaseModel):
    customer_id: str
    number: str
    name: str
    owner_rep_id: str
    team_id: str
    region: str | None
    lifecycle: str
    strategic_partner: bool
    high_potential: bool
    tier: Tier | None
    revision: int


class CustomerPage(BaseModel):
    items: list[CustomerSummary]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    revision: int
    action: str
    changed_by: str
    changed_by_role: str
    changed_at: datetime
    changes: dict[str, dict[str, Any]]


def card_out(row: dict[str, Any], *, tier: str | None = None, trading: dict | None = None) -> CustomerOut:
    return CustomerOut.model_validate(
        {
            **row["card"],
            **{k: row[k] for k in ("customer_id", "revision", "unverified", "created_at", "updated_at")},
            "tier": tier,
            "trading_status": trading,
        }
    )


def duplicate_number(exc: IntegrityError) -> Conflict | None:
    if "number" in str(exc.orig):
        return Conflict("customer number already exists", field="number", code="duplicate_number")
    return None


@router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=CustomerOut, summary="Create a customer card")
async def create_customer(body: CustomerIn, actor: Actor, request: Request) -> CustomerOut:
    runtime = runtime_of(request)
    try:
        async with unit_of_work(runtime.sessions) as session:
            row = await cards.create(session, card=body, actor=actor)
    except IntegrityError as exc:
        raise (duplicate_number(exc) or exc) from exc
    runtime.relay.wake()
    return card_out(row)


@router.get("/customers", response_model=CustomerPage, summary="Search and list customers (keyset pages)")
async def search_customers(
    actor: Actor,
    request: Request,
    policy: Policy,
    q: Annotated[str | None, Query(max_length=100, description="substring of the name or number")] = None,
    tier: Tier | None = None,
    owner_rep_id: Annotated[str | None, Query(max_length=64)] = None,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[str | None, Query(max_length=200)] = None,
    lifecycle: Lifecycle | None = None,
    limit: int | None = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> CustomerPage:
    size = page_limit(limit, policy)
    query = (
        sa.select(*[customers.c[k] for k in CustomerSummary.model_fields if k != "tier"], customer_tiers.c.tier)
        .select_from(customers.outerjoin(customer_tiers, customer_tiers.c.customer_id == customers.c.customer_id))
        .where(visible(actor))
        .order_by(customers.c.name, customers.c.customer_id)
        .limit(size + 1)
    )
    if q and q.strip():
        query = query.where(sa.or_(substring(customers.c.name, q.strip()), substring(customers.c.number, q.strip())))
    for column, value in ((customers.c.owner_rep_id, owner_rep_id), (customers.c.team_id, team_id), (customers.c.region, region), (customers.c.lifecycle, lifecycle), (customer_tiers.c.tier, tier)):
        if value is not None:
            query = query.where(column == value)
    if cursor:
        name, customer_id = decode_cursor(cursor, 2)
        query = query.where(sa.tuple_(customers.c.name, customers.c.customer_id) > sa.tuple_(sa.literal(name), sa.literal(customer_id)))
    async with runtime_of(request).sessions() as session:
        rows = (await session.execute(query)).all()
    items = [CustomerSummary.model_validate(dict(r._mapping)) for r in rows[:size]]
    next_cursor = encode_cursor([items[-1].name, items[-1].customer_id]) if len(rows) > size else None
    return CustomerPage(items=items, next_cursor=next_cursor)


@router.get("/customers/{customer_id}", response_model=CustomerOut, summary="A customer card with tier and trading status")
async def get_customer(customer_id: str, actor: Actor, request: Request, policy: Policy) -> CustomerOut:
    async with runtime_of(request).sessions() as session:
        row = await load_card(session, actor, customer_id)
        tier = await session.scalar(sa.select(customer_tiers.c.tier).where(customer_tiers.c.customer_id == customer_id))
        trading = (await trading_figures(session, [customer_id], policy=policy))[customer_id]
    return card_out(dict(row._mapping), tier=tier, trading=trading)


def if_match_revision(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    try:
        return int(if_match.strip().strip('W/').strip('"'))
    except ValueError as exc:
        raise DomainError("If-Match must be the card's revision, e.g. \"3\"", field="if-match", code="invalid_input", status=422) from exc


@router.patch("/customers/{customer_id}", response_model=CustomerOut, summary="Change a card (new revision, history kept)")
async def patch_customer(
    customer_id: str,
    body: CustomerPatch,
    actor: Actor,
    request: Request,
    if_match: Annotated[str | None, Header(description="expected revision (optimistic concurrency)")] = None,
) -> CustomerOut:
    runtime = runtime_of(request)
    try:
        async with unit_of_work(runtime.sessions) as session:
            row = await cards.change(session, customer_id=customer_id, patch=body, actor=actor, expected_revision=if_match_revision(if_match))
    except IntegrityError as exc:
        raise (duplicate_number(exc) or exc) from exc
    runtime.relay.wake()
    return card_out(row)


@router.post("/customers/{customer_id}/verifications", response_model=CustomerOut, summary="Mark customer-supplied fields as verified")
async def verify_fields(customer_id: str, body: Verification, actor: Actor, request: Request) -> CustomerOut:
    runtime = runtime_of(request)
    async with unit_of_work(runtime.sessions) as session:
        row = await cards.verify(session, customer_id=customer_id, fields=body.fields, actor=actor)
    runtime.relay.wake()
    return card_out(row)


@router.get("/customers/{customer_id}/history", response_model=list[HistoryEntry], summary="Who changed what, when")
async def card_history(customer_id: str, actor: Actor, request: Request) -> list[HistoryEntry]:
    async with runtime_of(request).sessions() as session:
        await load_card(session, actor, customer_id)
        rows = (
            await session.execute(
                sa.select(customer_history).where(customer_history.c.customer_id == customer_id).order_by(customer_history.c.revision)
            )
        ).all()
    return [HistoryEntry.model_validate(dict(r._mapping)) for r in rows]
