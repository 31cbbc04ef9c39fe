"""HTTP: contacts at the customer and their role in the buying decision. Personnel changes never
overwrite: a replaced or departed contact stays, inactive, as history."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from services.customers.access import Actor, load_card
from services.customers.domain import Email, Phone, text
from services.customers.models import contacts
from shared.db import unit_of_work
from shared.errors import DomainError, NotFound
from shared.service import runtime_of

router = APIRouter(tags=["contacts"])
DecisionRole = Literal["decision_maker", "influencer", "purchaser", "user"]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: text(100)
    title: text(100) | None = None
    phone: Phone | None = None
    email: Email | None = None
    birthday: date | None = None
    interests: text(500) | None = None
    decision_role: DecisionRole
    replaces_contact_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class ContactOut(ContactIn):
    model_config = ConfigDict(extra="ignore")

    contact_id: str
    customer_id: str
    active: bool
    created_by: str
    created_at: datetime
    ended_at: datetime | None
    ended_reason: str | None


class Departure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: text(500)


async def _active_contact(session, customer_id: str, contact_id: str, field: str) -> None:
    found = await session.scalar(
        sa.select(contacts.c.active).where(contacts.c.contact_id == contact_id, contacts.c.customer_id == customer_id).with_for_update()
    )
    if found is None:
        raise NotFound(f"contact {contact_id} not found at this customer", field=field)
    if not found:
        raise DomainError(f"contact {contact_id} has already left", field=field, code="contact_inactive", status=409)


@router.post("/customers/{customer_id}/contacts", response_model=ContactOut, status_code=status.HTTP_201_CREATED, summary="Add a contact (optionally replacing one who left)")
async def add_contact(customer_id: str, body: ContactIn, actor: Actor, request: Request) -> dict:
    now = datetime.now(timezone.utc)
    async with unit_of_work(runtime_of(request).sessions) as session:
        await load_card(session, actor, customer_id, for_update=True)
        if body.replaces_contact_id:
            await _active_contact(session, customer_id, body.replaces_contact_id, "replaces_contact_id")
            await session.execute(
                sa.update(contacts)
                .where(contacts.c.contact_id == body.replaces_contact_id)
                .values(active=False, ended_at=now, ended_reason="replaced")
            )
        row = {
            **body.model_dump(), "contact_id": str(uuid.uuid4()), "customer_id": customer_id, "active": True,
            "created_by": actor.user_id, "created_at": now, "ended_at": None, "ended_reason": None,
        }
        await session.execute(sa.insert(contacts).values(**row))
    return row


@router.post("/customers/{customer_id}/contacts/{contact_id}/departure", response_model=ContactOut, summary="A contact left the customer (kept as history)")
async def contact_left(customer_id: str, contact_id: str, body: Departure, actor: Actor, request: Request) -> dict:
    async with unit_of_work(runtime_of(request).sessions) as session:
        await load_card(session, actor, customer_id, for_update=True)
        await _active_contact(session, customer_id, contact_id, "contact_id")
        row = (
            await session.execute(
                sa.update(contacts).where(contacts.c.contact_id == contact_id)
                .values(active=False, ended_at=datetime.now(timezone.utc), ended_reason=body.reason).returning(contacts)
            )
        ).one()
    return dict(row._mapping)


@router.get("/customers/{customer_id}/contacts", response_model=list[ContactOut], summary="Contacts; include_former adds the history")
async def list_contacts(customer_id: str, actor: Actor, request: Request, include_former: bool = False) -> list[dict]:
    async with runtime_of(request).sessions() as session:
        await load_card(session, actor, customer_id)
        query = sa.select(contacts).where(contacts.c.customer_id == customer_id).order_by(contacts.c.created_at)
        if not include_former:
            query = query.where(contacts.c.active)
        return [dict(r._mapping) for r in (await session.execute(query)).all()]
