"""HTTP: follow-up records (template 1) and the commitments they carry. A record emits VisitLogged."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from services.customers.access import Actor, load_card
from services.customers.api import Policy
from services.customers.domain import Amount, Identifier, text
from services.customers.models import commitments, visits
from shared import events, outbox, topics
from shared.db import unit_of_work
from shared.errors import Conflict, NotFound
from shared.events import Timestamp
from shared.service import runtime_of

router = APIRouter(tags=["visits"])
SOURCE = "crm/customers"
Channel = Literal["on_site", "phone", "video", "email", "message", "exhibition"]
Outcome = Literal["interested", "undecided", "not_now", "won", "lost"]


class Needs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: text(2000)
    budget: Amount | None = None
    deadline: date | None = None


class CommitmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party: Literal["customer", "us"]
    content: text(1000)
    due_at: Timestamp


class NextStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_rep_id: Identifier
    due_at: Timestamp
    content: text(1000)


class HelpNeeded(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: Literal["technical", "logistics", "finance", "other"]
    request: text(1000)


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = Field(
        default=None, description="client-chosen id: repeating it returns the existing record"
    )
    contact_id: Identifier | None = None
    contact_name: text(100) | None = None
    contact_title: text(100) | None = None
    channel: Channel
    started_at: Timestamp
    ended_at: Timestamp | None = None
    needs: Needs | None = None
    objections: list[text(1000)] = Field(default_factory=list, max_length=50)
    commitments: list[CommitmentIn] = Field(default_factory=list, max_length=50)
    next_step: NextStepIn | None = None
    help_needed: list[HelpNeeded] = Field(default_factory=list, max_length=20)
    outcome: Outcome

    @field_validator("ended_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        started = info.data.get("started_at")
        if value is not None and started is not None and value < started:
            raise ValueError("ends before started_at")
        return value


class CommitmentOut(CommitmentIn):
    model_config = ConfigDict(extra="ignore")

    commitment_id: str
    visit_id: str
    customer_id: str
    status: Literal["open", "kept", "broken"]
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str | None = None


class VisitOut(VisitIn):
    model_config = ConfigDict(extra="ignore")

    visit_id: str
    customer_id: str
    rep_id: str
    first_visit: bool
    recorded_at: datetime
    recorded_late: bool
    commitment_ids: list[str] = Field(default_factory=list)


class CommitmentResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["kept", "broken"]
    note: text(1000) | None = None


def _visit_out(row) -> dict:
    return {**row.record, **{k: getattr(row, k) for k in ("visit_id", "customer_id", "rep_id", "first_visit", "recorded_at", "recorded_late")}}


@router.post("/customers/{customer_id}/visits", response_model=VisitOut, status_code=status.HTTP_201_CREATED, summary="File a follow-up record (VisitLogged)")
async def log_visit(customer_id: str, body: VisitIn, actor: Actor, request: Request, response: Response, policy: Policy) -> dict:
    runtime = runtime_of(request)
    now = datetime.now(timezone.utc)
    visit_id = body.visit_id or str(uuid.uuid4())
    async with unit_of_work(runtime.sessions) as session:
        await load_card(session, actor, customer_id, for_update=True)  # serialises first-visit detection
        existing = (await session.execute(sa.select(visits).where(visits.c.visit_id == visit_id))).first()
        if existing is not None:
            if existing.customer_id != customer_id:
                raise Conflict(f"visit {visit_id} belongs to another customer", field="visit_id", code="visit_id_reused")
            response.status_code = status.HTTP_200_OK
            return _visit_out(existing)
        first = await session.scalar(sa.select(sa.func.count()).select_from(visits).where(visits.c.customer_id == customer_id)) == 0
        record = body.model_dump(mode="json", exclude={"visit_id"})
        commitment_rows = [
            {**c.model_dump(), "commitment_id": str(uuid.uuid4()), "visit_id": visit_id, "customer_id": customer_id, "status": "open"}
            for c in body.commitments
        ]
        record["commitment_ids"] = [c["commitment_id"] for c in commitment_rows]
        row = {
            "visit_id": visit_id, "customer_id": customer_id, "rep_id": actor.user_id, "channel": body.channel,
            "started_at": body.started_at, "ended_at": body.ended_at, "first_visit": first, "outcome": body.outcome,
            "record": record, "recorded_at": now, "recorded_late": now - (body.ended_at or body.started_at) > policy.record_within,
        }
        await session.execute(sa.insert(visits).values(**row))
        if commitment_rows:
            await session.execute(sa.insert(commitments), commitment_rows)
        event = events.VisitLogged(
            visit_id=visit_id, customer_id=customer_id, rep_id=actor.user_id, channel=body.channel, started_at=body.started_at,
            first_visit=first, outcome=body.outcome,
            next_step=body.next_step.model_dump() if body.next_step else None,
            commitments=[c.model_dump() for c in body.commitments],
        )
        await outbox.add(session, events.new_event(event, source=SOURCE, subject=customer_id), key=customer_id, topic=topics.CUSTOMERS)
    runtime.relay.wake()
    return {**record, **{k: row[k] for k in ("visit_id", "customer_id", "rep_id", "first_visit", "recorded_at", "recorded_late")}}


@router.get("/customers/{customer_id}/visits", response_model=list[VisitOut], summary="Follow-up records, newest first")
async def list_visits(customer_id: str, actor: Actor, request: Request) -> list[dict]:
    async with runtime_of(request).sessions() as session:
        await load_card(session, actor, customer_id)
        rows = (await session.execute(sa.select(visits).where(visits.c.customer_id == customer_id).order_by(visits.c.started_at.desc()))).all()
    return [_visit_out(r) for r in rows]


@router.get("/customers/{customer_id}/commitments", response_model=list[CommitmentOut], summary="Commitments of both parties")
async def list_commitments(customer_id: str, actor: Actor, request: Request, status_filter: Literal["open", "kept", "broken"] | None = None) -> list[dict]:
    async with runtime_of(request).sessions() as session:
        await load_card(session, actor, customer_id)
        query = sa.select(commitments).where(commitments.c.customer_id == customer_id).order_by(commitments.c.due_at)
        if status_filter:
            query = query.where(commitments.c.status == status_filter)
        return [dict(r._mapping) for r in (await session.execute(query)).all()]


@router.post("/customers/{customer_id}/commitments/{commitment_id}/resolution", response_model=CommitmentOut, summary="Mark a commitment kept or broken")
async def resolve_commitment(customer_id: str, commitment_id: str, body: CommitmentResolution, actor: Actor, request: Request) -> dict:
    async with unit_of_work(runtime_of(request).sessions) as session:
        await load_card(session, actor, customer_id, for_update=True)
        current = await session.scalar(
            sa.select(commitments.c.status).where(commitments.c.commitment_id == commitment_id, commitments.c.customer_id == customer_id)
        )
        if current is None:
            raise NotFound(f"commitment {commitment_id} not found at this customer", field="commitment_id")
        if current != "open":
            raise Conflict(f"commitment already {current}", field="status", code="already_resolved")
        row = (
            await session.execute(
                sa.update(commitments).where(commitments.c.commitment_id == commitment_id)
                .values(status=body.status, note=body.note, resolved_at=datetime.now(timezone.utc), resolved_by=actor.user_id)
                .returning(commitments)
            )
        ).one()
    return dict(row._mapping)
