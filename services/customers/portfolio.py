"""HTTP: a rep's portfolio (tier, 12-month value) and a manager's per-rep portfolio balance (domain.md §1, 003)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.customers.access import Actor
from services.customers.api import Policy
from services.customers.domain import portfolio_balance
from shared.auth import require_role
from shared.errors import Forbidden
from shared.service import runtime_of

router = APIRouter(tags=["portfolio"])

PORTFOLIO_SQL = """
    WITH c AS (
        SELECT c.customer_id, c.number, c.name, c.owner_rep_id, c.team_id, c.lifecycle, t.tier
        FROM customers c LEFT JOIN customer_tiers t ON t.customer_id = c.customer_id
        WHERE {where}
    ), v AS (
        SELECT o.customer_id, sum(o.amount) AS value
        FROM customer_orders o JOIN c ON c.customer_id = o.customer_id
        WHERE o.placed_at >= :since GROUP BY o.customer_id
    )
"""


class PortfolioCustomer(BaseModel):
    customer_id: str
    number: str
    name: str
    team_id: str
    lifecycle: str
    tier: str | None
    purchases_12m: str


class Portfolio(BaseModel):
    rep_id: str
    customers: list[PortfolioCustomer]
    balance: dict[str, Any]


def _since(policy) -> datetime:
    return datetime.now(timezone.utc) - policy.purchases_window


@router.get("/reps/{rep_id}/portfolio", response_model=Portfolio, summary="A rep's customers with tier and 12-month value")
async def rep_portfolio(rep_id: str, actor: Actor, request: Request, policy: Policy) -> Portfolio:
    where, params = "c.owner_rep_id = :rep", {"rep": rep_id, "since": _since(policy)}
    if actor.role == "rep":
        if rep_id != actor.user_id:
            raise Forbidden("a rep sees only their own portfolio", field="rep_id")
        where += " AND c.team_id = :team"
        params["team"] = actor.team_id
    elif actor.role == "manager":
        where += " AND c.team_id = :team"
        params["team"] = actor.team_id
    sql = PORTFOLIO_SQL.format(where=where) + """
        SELECT c.customer_id, c.number, c.name, c.team_id, c.lifecycle, c.tier, coalesce(v.value, 0) AS value
        FROM c LEFT JOIN v ON v.customer_id = c.customer_id
        ORDER BY coalesce(c.tier, 'Z'), coalesce(v.value, 0) DESC, c.name, c.customer_id
    """
    async with runtime_of(request).sessions() as session:
        rows = (await session.execute(sa.text(sql), params)).all()
    customers = [PortfolioCustomer(**{**r._mapping, "purchases_12m": f"{r.value:.2f}"}) for r in rows]
    balance = portfolio_balance([(rep_id, r.tier, 1, r.value) for r in rows])
    return Portfolio(rep_id=rep_id, customers=customers, balance=balance["reps"][0] if balance["reps"] else {})


@router.get("/teams/{team_id}/portfolio-balance", summary="Per rep: count and 12-month value of A/B/C customers")
async def team_balance(team_id: str, actor: Actor, request: Request, policy: Policy) -> dict[str, Any]:
    require_role(actor, "manager", "admin")
    if actor.role == "manager" and team_id != actor.team_id:
        raise Forbidden("a manager sees only their own team", field="team_id")
    sql = PORTFOLIO_SQL.format(where="c.team_id = :team") + """
        SELECT c.owner_rep_id, c.tier, count(*) AS n, coalesce(sum(v.value), 0) AS value
        FROM c LEFT JOIN v ON v.customer_id = c.customer_id
        GROUP BY c.owner_rep_id, c.tier
    """
    async with runtime_of(request).sessions() as session:
        rows = (await session.execute(sa.text(sql), {"team": team_id, "since": _since(policy)})).all()
    return {"team_id": team_id, **portfolio_balance([(r.owner_rep_id, r.tier, r.n, r.value) for r in rows])}
