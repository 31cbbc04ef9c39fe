"""Who sees and acts on a complaint (shared/auth.py roles; domain.md §1 confidentiality).

Handlers (role rep) see the complaints they handle and their team's; managers their team's;
admin all. A complaint escalated to a department is also visible to that department's team.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.complaints.tables import complaints
from shared.auth import Principal
from shared.errors import Forbidden


def can_see(principal: Principal, complaint: Any) -> bool:
    if principal.is_admin:
        return True
    if principal.team_id is not None and principal.team_id in (complaint.team_id, complaint.escalated_to):
        return True
    return principal.role == "rep" and complaint.handler_id == principal.user_id


def require_visible(principal: Principal, complaint: Any) -> None:
    if not can_see(principal, complaint):
        raise Forbidden(f"complaint {complaint.complaint_id} belongs to another team", field="complaint_id")


def scope(principal: Principal) -> sa.ColumnElement[bool]:
    """The same rule as `can_see`, as SQL over the complaints table."""
    if principal.is_admin:
        return sa.true()
    rules = [complaints.c.team_id == principal.team_id, complaints.c.escalated_to == principal.team_id]
    if principal.role == "rep":
        rules.append(complaints.c.handler_id == principal.user_id)
    return sa.or_(*rules)
