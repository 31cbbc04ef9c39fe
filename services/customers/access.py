"""Who may do what (domain.md §1 confidentiality): every request authenticated, leavers refused, scope by role."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.domain import can_see
from services.customers.models import customers, revoked_reps
from shared.auth import CurrentPrincipal, Principal
from shared.errors import Forbidden, NotFound
from shared.service import runtime_of


async def active_principal(principal: CurrentPrincipal, request: Request) -> Principal:
    """The caller, unless they handed over their customers and left (checked on every request)."""
    async with runtime_of(request).sessions() as session:
        revoked = await session.scalar(sa.select(revoked_reps.c.rep_id).where(revoked_reps.c.rep_id == principal.user_id))
    if revoked is not None:
        raise Forbidden("this user handed over their customers; access is revoked", field="authorization", code="access_revoked")
    return principal


Actor = Annotated[Principal, Depends(active_principal)]


def visible(principal: Principal, table: sa.Table = customers) -> sa.ColumnElement[bool]:
    """The scope rule as SQL, for lists and exports."""
    if principal.role == "admin":
        return sa.true()
    if principal.role == "manager":
        return table.c.team_id == principal.team_id
    return sa.and_(table.c.owner_rep_id == principal.user_id, table.c.team_id == principal.team_id)


async def load_card(session: AsyncSession, principal: Principal, customer_id: str, *, for_update: bool = False) -> sa.Row:
    """The customer row if the caller may see it; 404 otherwise (existence does not leak)."""
    query = sa.select(customers).where(customers.c.customer_id == customer_id)
    if for_update:
        query = query.with_for_update()  # per-customer order of outbox rows and revisions
    row = (await session.execute(query)).first()
    if row is None or not can_see(principal, owner_rep_id=row.owner_rep_id, team_id=row.team_id):
        raise NotFound(f"customer {customer_id} not found", field="customer_id")
    return row


def require_scope(principal: Principal, *, owner_rep_id: str, team_id: str) -> None:
    """For writes that name an owner and team: the caller must be allowed to hold such a card."""
    if not can_see(principal, owner_rep_id=owner_rep_id, team_id=team_id):
        field = "team_id" if principal.role == "manager" or team_id != principal.team_id else "owner_rep_id"
        raise Forbidden(f"you may not create or move a customer to owner {owner_rep_id} in team {team_id}", field=field)
