"""HTTP: a leaving rep hands every customer to a successor in one transaction and loses access (domain.md §1).

Each moved card gets a new revision and a CustomerUpdated snapshot; downstream services reassign open
follow-ups and complaints from those events.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects import postgresql as pg

from services.customers import cards
from services.customers.access import Actor
from services.customers.domain import Identifier, text
from services.customers.models import customer_history, customers, revoked_reps
from shared import faults
from shared.auth import require_role
from shared.db import unit_of_work
from shared.errors import Conflict, DomainError, Forbidden
from shared.service import runtime_of

router = APIRouter(tags=["handover"])


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    successor_rep_id: Identifier
    reason: text(500) | None = None


class HandoverOut(BaseModel):
    rep_id: str
    successor_rep_id: str
    moved: int
    customer_ids: list[str] = Field(default_factory=list)


@router.post("/reps/{rep_id}/handover", response_model=HandoverOut, summary="Move all of a leaving rep's customers to a successor; revoke the leaver")
async def handover(rep_id: str, body: HandoverIn, actor: Actor, request: Request) -> HandoverOut:
    require_role(actor, "manager", "admin")
    if body.successor_rep_id == rep_id:
        raise DomainError("the successor must be another rep", field="successor_rep_id", code="invalid_input", status=422)
    runtime = runtime_of(request)
    now = datetime.now(timezone.utc)
    async with unit_of_work(runtime.sessions) as session:
        if await session.scalar(sa.select(revoked_reps.c.rep_id).where(revoked_reps.c.rep_id == body.successor_rep_id)):
            raise Conflict(f"{body.successor_rep_id} has left and cannot take over customers", field="successor_rep_id", code="successor_revoked")
        cards_of_leaver = (
            await session.execute(
                sa.select(customers).where(customers.c.owner_rep_id == rep_id).order_by(customers.c.customer_id).with_for_update()
            )
        ).all()
        if actor.role == "manager" and any(row.team_id != actor.team_id for row in cards_of_leaver):
            raise Forbidden("only the manager of every team holding this rep's customers (or an admin) may hand them over", field="rep_id")
        history, staged = [], []
        for row in cards_of_leaver:
            document = {**row.card, "owner_rep_id": body.successor_rep_id}
            revision = row.revision + 1
            history.append(cards.history_row(
                customer_id=row.customer_id, revision=revision, action="handover", actor=actor, at=now,
                changes={"owner_rep_id": {"old": rep_id, "new": body.successor_rep_id}} | ({"reason": {"old": None, "new": body.reason}} if body.reason else {}),
            ))
            staged.append((row.customer_id, document, revision, list(row.unverified)))
        if cards_of_leaver:
            await session.execute(
                sa.update(customers)
                .where(customers.c.owner_rep_id == rep_id)
                .values(
                    owner_rep_id=body.successor_rep_id,
                    card=customers.c.card.op("||")(sa.func.jsonb_build_object("owner_rep_id", body.successor_rep_id)),
                    revision=customers.c.revision + 1,
                    updated_at=now,
                )
            )
            await session.execute(sa.insert(customer_history), history)
            faults.reach(runtime.settings.fault_point, "handover.before_commit")  # chaos tests: die mid-transaction
            for customer_id, document, revision, unverified in staged:
                await cards.publish(session, cards.snapshot_event(customer_id, document, revision, unverified), customer_id)
        stmt = pg.insert(revoked_reps).values(rep_id=rep_id, successor_rep_id=body.successor_rep_id, revoked_by=actor.user_id, revoked_at=now)
        await session.execute(stmt.on_conflict_do_update(index_elements=[revoked_reps.c.rep_id], set_={"successor_rep_id": body.successor_rep_id, "revoked_by": actor.user_id, "revoked_at": now}))
    runtime.relay.wake()
    return HandoverOut(rep_id=rep_id, successor_rep_id=body.successor_rep_id, moved=len(cards_of_leaver), customer_ids=[r.customer_id for r in cards_of_leaver])


@router.delete("/reps/{rep_id}/revocation", status_code=204, summary="Give a returning rep access again (admin)")
async def reinstate(rep_id: str, actor: Actor, request: Request) -> None:
    require_role(actor, "admin")
    async with unit_of_work(runtime_of(request).sessions) as session:
        await session.execute(sa.delete(revoked_reps).where(revoked_reps.c.rep_id == rep_id))
