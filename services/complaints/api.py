"""HTTP entry points of the complaints service (contract.md: port 8003)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from services.complaints import access, queries, report, service
from services.complaints.records import ComplaintIn, ComplaintOut, QueueOut, TransitionIn
from services.complaints.service import Complaints
from services.complaints.sla import SlaStatus
from shared.auth import CurrentPrincipal
from shared.db import unit_of_work
from shared.errors import NotFound
from shared.events import ComplaintStatus
from shared.service import runtime_of

router = APIRouter(tags=["complaints"])


def _ctx(request: Request) -> Complaints:
    return request.app.state.complaints


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _view(request: Request, principal, complaint_id: str) -> ComplaintOut:
    async with runtime_of(request).sessions() as session:
        found = await queries.complaint(session, complaint_id)
    if found is None:
        raise NotFound(f"complaint {complaint_id} not found", field="complaint_id")
    access.require_visible(principal, found[0])
    return queries.to_out(_ctx(request), *found, now=_now())


@router.post("/complaints", status_code=status.HTTP_201_CREATED, response_model=ComplaintOut,
             summary="File a complaint (emits ComplaintFiled with the tier at filing and the SLA deadline)")
async def file_complaint(body: ComplaintIn, request: Request, principal: CurrentPrincipal) -> ComplaintOut:
    runtime = runtime_of(request)
    complaint_id = str(uuid.uuid4())
    async with unit_of_work(runtime.sessions) as session:
        await service.file_complaint(session, ctx=_ctx(request), principal=principal, body=body,
                                     complaint_id=complaint_id, now=_now())
    runtime.relay.wake()
    return await _view(request, principal, complaint_id)


@router.get("/complaints/queue", response_model=QueueOut,
            summary="Open complaints: higher tier first, then least time remaining")
async def complaint_queue(
    request: Request,
    principal: CurrentPrincipal,
    team: Annotated[str | None, Query(max_length=64)] = None,
    handler: Annotated[str | None, Query(max_length=64)] = None,
    status: ComplaintStatus | None = None,
    sla_status: SlaStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> QueueOut:
    now = _now()
    where = queries.open_filter(scope=access.scope(principal), now=now, team=team, handler=handler, status=status, sla_status=sla_status)
    async with runtime_of(request).sessions() as session:
        total, items = await queries.queue(session, ctx=_ctx(request), where=where, now=now, limit=limit, offset=offset)
    return QueueOut(total=total, items=items)


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, summary="One complaint with its SLA and history")
async def get_complaint(complaint_id: str, request: Request, principal: CurrentPrincipal) -> ComplaintOut:
    return await _view(request, principal, complaint_id)


@router.post("/complaints/{complaint_id}/transitions", response_model=ComplaintOut,
             summary="Move a complaint through the workflow (409 naming the allowed next states when out of order)")
async def transition(complaint_id: str, body: TransitionIn, request: Request, principal: CurrentPrincipal) -> ComplaintOut:
    runtime = runtime_of(request)
    async with unit_of_work(runtime.sessions) as session:
        await service.transition(session, ctx=_ctx(request), principal=principal, complaint_id=complaint_id, body=body, now=_now())
    runtime.relay.wake()
    return await _view(request, principal, complaint_id)


@router.post("/complaints/{complaint_id}/escalation/accept", response_model=ComplaintOut,
             summary="The department a complaint was escalated to takes it over")
async def accept_escalation(complaint_id: str, request: Request, principal: CurrentPrincipal) -> ComplaintOut:
    async with unit_of_work(runtime_of(request).sessions) as session:
        await service.accept_escalation(session, principal=principal, complaint_id=complaint_id, now=_now())
    return await _view(request, principal, complaint_id)


@router.get("/reports/delays", summary="Complaint delay report (JSON, or CSV with format=csv)")
async def delay_report(
    request: Request,
    principal: CurrentPrincipal,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> Response:
    now = _now()
    async with runtime_of(request).sessions() as session:
        if format == "csv":
            items = await report.delayed_complaints(session, scope=access.scope(principal), now=now, limit=None)
            return Response(report.as_csv(items), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="complaint-delays.csv"'})
        body = await report.delay_report(session, scope=access.scope(principal), now=now, limit=limit)
    return JSONResponse(jsonable_encoder(body))
