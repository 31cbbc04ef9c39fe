"""Use cases of the card: create, change, verify. Every change bumps the revision, keeps the old values
in the history and stages a full CustomerUpdated snapshot in the outbox, all in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers import domain
from services.customers.access import load_card, require_scope
from services.customers.domain import CustomerCard, CustomerIn, CustomerPatch
from services.customers.models import customer_history, customers
from shared import events, outbox, topics
from shared.auth import Principal
from shared.errors import Conflict, DomainError

SOURCE = "crm/customers"


def columns(document: dict[str, Any]) -> dict[str, Any]:
    """The searchable columns mirrored from the card document."""
    return {k: document[k] for k in ("number", "name", "owner_rep_id", "team_id", "strategic_partner", "high_potential", "lifecycle", "region")}


def history_row(*, customer_id: str, revision: int, action: str, actor: Principal, at: datetime, changes: dict) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "revision": revision,
        "action": action,
        "changed_by": actor.user_id,
        "changed_by_role": actor.role,
        "changed_at": at,
        "changes": changes,
    }


def snapshot_event(customer_id: str, document: dict[str, Any], revision: int, unverified: list[str]) -> events.CloudEvent:
    data = domain.snapshot(customer_id, document, revision, unverified=unverified)
    return events.new_event(data, source=SOURCE, subject=customer_id)


async def publish(session: AsyncSession, event: events.CloudEvent, customer_id: str) -> None:
    await outbox.add(session, event, key=customer_id, topic=topics.CUSTOMERS)


async def create(session: AsyncSession, *, card: CustomerIn, actor: Principal) -> dict[str, Any]:
    require_scope(actor, owner_rep_id=card.owner_rep_id, team_id=card.team_id)
    customer_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    document = domain.card_document(card)
    unverified = domain.next_unverified([], supplied=domain.supplied_fields(card), source=card.source)
    await ensure_number_free(session, document["number"])
    row = {
        "customer_id": customer_id, **columns(document), "card": document, "unverified": unverified,
        "revision": 1, "created_at": now, "updated_at": now,
    }
    await session.execute(sa.insert(customers).values(**row))
    changes = {path: {"old": None, "new": value} for path, value in domain.flatten(document).items() if value is not None}
    await session.execute(sa.insert(customer_history).values(**history_row(customer_id=customer_id, revision=1, action="created", actor=actor, at=now, changes=changes)))
    await publish(session, snapshot_event(customer_id, document, 1, unverified), customer_id)
    return row


async def ensure_number_free(session: AsyncSession, number: str, *, except_id: str | None = None) -> None:
    query = sa.select(customers.c.customer_id).where(customers.c.number == number)
    if except_id:
        query = query.where(customers.c.customer_id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"customer number {number!r} already exists", field="number", code="duplicate_number")


def validated(document: dict[str, Any]) -> dict[str, Any]:
    """Validate a merged card document; errors name the field like request validation does."""
    try:
        return domain.card_document(CustomerCard.model_validate(document))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


async def apply_change(
    session: AsyncSession, *, row: sa.Row, document: dict[str, Any], unverified: list[str], actor: Principal, action: str
) -> dict[str, Any]:
    """Write a new revision of a locked card, unless nothing changed."""
    old = {**row.card, "unverified": row.unverified}
    changes = domain.diff(old, {**document, "unverified": unverified})
    if not changes:
        return dict(row._mapping)
    now = datetime.now(timezone.utc)
    revision = row.revision + 1
    values = {**columns(document), "card": document, "unverified": unverified, "revision": revision, "updated_at": now}
    await session.execute(sa.update(customers).where(customers.c.customer_id == row.customer_id).values(**values))
    await session.execute(
        sa.insert(customer_history).values(**history_row(customer_id=row.customer_id, revision=revision, action=action, actor=actor, at=now, changes=changes))
    )
    await publish(session, snapshot_event(row.customer_id, document, revision, unverified), row.customer_id)
    return {**dict(row._mapping), **values}


async def change(
    session: AsyncSession, *, customer_id: str, patch: CustomerPatch, actor: Principal, expected_revision: int | None = None
) -> dict[str, Any]:
    row = await load_card(session, actor, customer_id, for_update=True)
    if expected_revision is not None and expected_revision != row.revision:
        raise DomainError(
            f"the card is at revision {row.revision}, not {expected_revision}", field="if-match", code="stale_revision", status=412
        )
    document = validated(domain.merge_patch(row.card, patch))
    refused = domain.ownership_change_allowed(
        actor, old_owner=row.owner_rep_id, old_team=row.team_id, new_owner=document["owner_rep_id"], new_team=document["team_id"]
    )
    if refused:
        raise DomainError(f"your role may not change {refused}", field=refused, code="forbidden", status=403)
    require_scope(actor, owner_rep_id=document["owner_rep_id"], team_id=document["team_id"])
    if document["number"] != row.number:
        await ensure_number_free(session, document["number"], except_id=customer_id)
    unverified = domain.next_unverified(list(row.unverified), supplied=domain.supplied_fields(patch), source=patch.source)
    return await apply_change(session, row=row, document=document, unverified=unverified, actor=actor, action="updated")


async def verify(session: AsyncSession, *, customer_id: str, fields: list[str], actor: Principal) -> dict[str, Any]:
    row = await load_card(session, actor, customer_id, for_update=True)
    unknown = [f for f in fields if f not in row.unverified]
    if unknown:
        raise DomainError(f"not unverified on this card: {', '.join(unknown)}", field="fields", code="not_unverified", status=422)
    unverified = sorted(set(row.unverified) - set(fields))
    return await apply_change(session, row=row, document=dict(row.card), unverified=unverified, actor=actor, action="verified")
