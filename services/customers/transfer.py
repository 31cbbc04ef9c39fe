"""HTTP: bulk import and export of customer cards (CSV with BOM, or JSON).

Import validates every row and reports errors per row with the field; by default the file is
all-or-nothing (`on_error=reject_file`); `on_error=skip_rows` imports the valid rows and reports the rest.
Each imported card is created like a single one: revision 1, a history entry, a CustomerUpdated event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.exc import IntegrityError

from services.customers import bulk, cards, domain
from services.customers.access import Actor, visible
from services.customers.api import Policy
from services.customers.models import customer_history, customers
from shared import events, topics
from shared.db import outbox, unit_of_work
from shared.errors import Conflict, DomainError
from shared.service import runtime_of

router = APIRouter(tags=["import / export"])
CHUNK = 2000
MAX_REPORTED = 1000


def _format(fmt: str | None, request: Request) -> bulk.Format:
    chosen = fmt or bulk.guess_format(request.headers.get("content-type"))
    if chosen not in ("csv", "json"):
        raise DomainError("say format=csv or format=json (or send Content-Type text/csv or application/json)", field="format", code="invalid_input", status=422)
    return chosen  # type: ignore[return-value]


def _prepared(card: domain.CustomerIn, actor, now: datetime) -> tuple[dict, dict, dict]:
    customer_id = str(uuid.uuid4())
    document = domain.card_document(card)
    unverified = domain.next_unverified([], supplied=domain.supplied_fields(card), source=card.source)
    row = {"customer_id": customer_id, **cards.columns(document), "card": document, "unverified": unverified, "revision": 1, "created_at": now, "updated_at": now}
    changes = {path: {"old": None, "new": value} for path, value in domain.flatten(document).items() if value is not None}
    history = cards.history_row(customer_id=customer_id, revision=1, action="imported", actor=actor, at=now, changes=changes)
    event = cards.snapshot_event(customer_id, document, 1, unverified)
    staged = {"event_id": event.id, "topic": topics.CUSTOMERS, "key": customer_id, "event_type": event.type, "payload": events.encode(event)}
    return row, history, staged


@router.post("/customers/import", summary="Import cards from CSV (UTF-8, BOM optional) or JSON; per-row errors")
async def import_customers(
    request: Request,
    actor: Actor,
    policy: Policy,
    format: Annotated[Literal["csv", "json"] | None, Query(description="default: from Content-Type")] = None,
    on_error: Literal["reject_file", "skip_rows"] = "reject_file",
) -> JSONResponse:
    fmt = _format(format, request)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > policy.import_max_bytes:
            raise DomainError(f"the file exceeds {policy.import_max_bytes} bytes", field="file", code="too_large", status=413)
    try:
        rows = list(bulk.read_rows(bytes(data), fmt))
    except bulk.FileError as exc:
        raise DomainError(str(exc), field=exc.field, code="invalid_file", status=422) from exc
    if len(rows) > policy.import_max_rows:
        raise DomainError(f"at most {policy.import_max_rows} cards per file", field="file", code="too_many_rows", status=413)
    valid, errors = bulk.validate_rows(rows)
    in_scope = []
    for number, card in valid:
        if domain.can_see(actor, owner_rep_id=card.owner_rep_id, team_id=card.team_id):
            in_scope.append((number, card))
        else:
            errors.append({"row": number, "field": "owner_rep_id", "message": "outside your scope (own customers / own team)"})
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        taken: set[str] = set()
        numbers = [card.number for _, card in in_scope]
        for start in range(0, len(numbers), 10_000):
            taken |= set((await session.execute(sa.select(customers.c.number).where(customers.c.number.in_(numbers[start:start + 10_000])))).scalars())
    accepted = []
    for number, card in in_scope:
        if card.number in taken:
            errors.append({"row": number, "field": "number", "message": f"customer number {card.number!r} already exists"})
        else:
            accepted.append(card)
    errors.sort(key=lambda e: e["row"])
    if errors and on_error == "reject_file":
        return JSONResponse(
            {"code": "invalid_rows", "message": f"{len(errors)} error(s); nothing imported", "field": errors[0]["field"], "rows": len(rows), "error_count": len(errors), "errors": errors[:MAX_REPORTED]},
            status_code=422,
        )
    now = datetime.now(timezone.utc)
    try:
        async with unit_of_work(runtime.sessions) as session:
            for start in range(0, len(accepted), CHUNK):
                prepared = [_prepared(card, actor, now) for card in accepted[start:start + CHUNK]]
                await session.execute(sa.insert(customers), [p[0] for p in prepared])
                await session.execute(sa.insert(customer_history), [p[1] for p in prepared])
                await session.execute(sa.insert(outbox), [p[2] for p in prepared])
    except IntegrityError as exc:  # a number taken concurrently since the check
        raise Conflict("a customer number in the file was created meanwhile; retry", field="number", code="duplicate_number") from exc
    runtime.relay.wake()
    return JSONResponse({"rows": len(rows), "imported": len(accepted), "rejected": len(rows) - len(accepted), "error_count": len(errors), "errors": errors[:MAX_REPORTED]})


@router.get("/customers/export", summary="Export the cards you may see as CSV (UTF-8 with BOM) or JSON")
async def export_customers(
    request: Request,
    actor: Actor,
    format: Literal["csv", "json"] = "csv",
    owner_rep_id: Annotated[str | None, Query(max_length=64)] = None,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    query = sa.select(customers.c.card).where(visible(actor)).order_by(customers.c.number).execution_options(yield_per=2000)
    if owner_rep_id:
        query = query.where(customers.c.owner_rep_id == owner_rep_id)
    if team_id:
        query = query.where(customers.c.team_id == team_id)
    sessions = runtime_of(request).sessions

    async def body() -> AsyncIterator[bytes]:
        async with sessions() as session:
            result = await session.stream(query)
            first = True
            yield (bulk.csv_header() if format == "csv" else "[").encode()
            async for partition in result.partitions():
                if format == "csv":
                    yield "".join(bulk.csv_row(r.card) for r in partition).encode()
                else:
                    text = ",\n".join(json.dumps(r.card, ensure_ascii=False) for r in partition)
                    yield (("" if first else ",\n") + text).encode()
                    first = False
            if format == "json":
                yield b"]\n"

    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return StreamingResponse(body(), media_type=media, headers={"Content-Disposition": f'attachment; filename="customers.{format}"'})
