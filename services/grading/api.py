"""HTTP entry points of the grading service (contract.md: GET /tiers/{id}, GET /report, PUT /overrides/{id}, POST /recompute)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.grading import jobs, reports, tiers
from services.grading.policy import GradingPolicy, Policy, Tier
from shared.auth import CurrentPrincipal, require_role
from shared.db import unit_of_work
from shared.errors import DomainError
from shared.events import Timestamp
from shared.service import runtime_of

router = APIRouter(tags=["grading"])


def _future(value: datetime) -> datetime:
    if value <= datetime.now(timezone.utc):
        raise ValueError("must be in the future")
    return value


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: Tier
    reason: str = Field(min_length=3, max_length=1000)
    expires_at: Annotated[Timestamp, AfterValidator(_future)]


class SubjectiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: Tier
    reason: str = Field(min_length=3, max_length=1000)


class WhatIfIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: Policy
    team_id: str | None = None
    business_unit: str | None = None
    limit: int = Field(default=100, ge=0, le=10_000)


def policy_of(request: Request) -> GradingPolicy:
    return request.app.state.grading_policy


@router.get("/tiers/{customer_id}", summary="Current tier, the metrics behind it, and its full history")
async def get_tier(customer_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    async with runtime_of(request).sessions() as session:
        return await tiers.tier_card(session, principal=principal, customer_id=customer_id)


@router.put("/overrides/{customer_id}", summary="Override the computed tier until an expiry (manager of the team, or admin)")
async def put_override(customer_id: str, body: OverrideIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    require_role(principal, "manager", "admin")
    runtime = runtime_of(request)
    async with unit_of_work(runtime.sessions) as session:
        outcome = await tiers.set_override(
            session, policy=policy_of(request), principal=principal, customer_id=customer_id,
            tier=body.tier, reason=body.reason, expires_at=body.expires_at,
        )
    runtime.relay.wake()
    return {"customer_id": customer_id, "tier": body.tier, "expires_at": body.expires_at, "tier_changed": outcome.moved > 0}


@router.delete("/overrides/{customer_id}", summary="End an override early; the computed tier returns")
async def delete_override(customer_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    require_role(principal, "manager", "admin")
    runtime = runtime_of(request)
    async with unit_of_work(runtime.sessions) as session:
        outcome = await tiers.remove_override(session, policy=policy_of(request), principal=principal, customer_id=customer_id)
    runtime.relay.wake()
    return {"customer_id": customer_id, "tier_changed": outcome.moved > 0}


@router.put("/subjective/{customer_id}", summary="Subjective grade for a new customer without history (rep, manager, admin)")
async def put_subjective(customer_id: str, body: SubjectiveIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    runtime = runtime_of(request)
    async with unit_of_work(runtime.sessions) as session:
        outcome = await tiers.set_subjective(
            session, policy=policy_of(request), principal=principal, customer_id=customer_id, tier=body.tier, reason=body.reason
        )
    runtime.relay.wake()
    return {"customer_id": customer_id, "subjective_tier": body.tier, "tier_changed": outcome.moved > 0}


@router.post("/recompute", summary="Re-rank and re-grade every customer now (admin)")
async def post_recompute(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    require_role(principal, "admin")
    result = await jobs.recompute(runtime_of(request), policy_of(request))
    if result["status"] == "busy":
        raise DomainError(result["message"], code="recompute_running", status=409)
    return result


@router.get("/report", summary="Tier distribution with revenue and profit shares, and per-customer metrics")
async def get_report(
    request: Request,
    principal: CurrentPrincipal,
    tier: Tier | None = None,
    team_id: str | None = None,
    business_unit: str | None = None,
    policy: str | None = None,
    min_purchases_12m: Annotated[Decimal | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    filters = reports.Filters(tier, team_id, business_unit, policy, min_purchases_12m)
    async with runtime_of(request).sessions() as session:
        return await reports.tier_report(session, principal=principal, filters=filters, limit=limit, offset=offset)


@router.get("/report/migration", summary="Tier migration matrix between the ends of two days")
async def get_migration(
    request: Request, principal: CurrentPrincipal, from_date: Annotated[date, Query(alias="from")], to_date: Annotated[date, Query(alias="to")]
) -> dict[str, Any]:
    if to_date < from_date:
        raise DomainError("`to` must not be before `from`", code="invalid_input", status=422, field="to")
    async with runtime_of(request).sessions() as session:
        return await reports.migration_matrix(session, principal=principal, policy=policy_of(request), since=from_date, until=to_date)


@router.post("/report/what-if", summary="Who would move under a candidate policy (nothing is applied)")
async def post_what_if(request: Request, principal: CurrentPrincipal, body: Annotated[WhatIfIn, Body()]) -> dict[str, Any]:
    require_role(principal, "manager", "admin")
    filters = reports.Filters(team_id=body.team_id, business_unit=body.business_unit)
    async with runtime_of(request).sessions() as session:
        return await reports.what_if(
            session, principal=principal, policy=policy_of(request), candidate=body.policy, filters=filters, limit=body.limit
        )
