"""Read-side queries: trading figures from orders and payments, keyset cursors, search filters."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.customers.policy import CustomersPolicy
from shared.errors import DomainError

TRADING_SQL = sa.text(
    """
    SELECT o.customer_id,
           max(o.placed_at) AS last_order_at,
           count(*) FILTER (WHERE o.placed_at >= :since) AS orders_12m,
           coalesce(sum(o.amount) FILTER (WHERE o.placed_at >= :since), 0) AS purchases_12m,
           count(*) FILTER (WHERE o.payment_due < :today AND o.amount > coalesce(p.paid, 0)) AS overdue_orders,
           coalesce(sum(o.amount - coalesce(p.paid, 0)) FILTER (WHERE o.payment_due < :today AND o.amount > coalesce(p.paid, 0)), 0) AS overdue_amount
    FROM customer_orders o
    LEFT JOIN (SELECT order_id, sum(amount) AS paid FROM customer_payments WHERE customer_id = ANY(:ids) GROUP BY order_id) p
           ON p.order_id = o.order_id
    WHERE o.customer_id = ANY(:ids)
    GROUP BY o.customer_id
    """
)

EMPTY_TRADING = {"last_order_at": None, "orders_12m": 0, "purchases_12m": "0.00", "overdue_orders": 0, "overdue_amount": "0.00"}


async def trading_figures(session: AsyncSession, customer_ids: list[str], *, policy: CustomersPolicy) -> dict[str, dict[str, Any]]:
    """Trading status per customer: last order, 12-month purchases, overdue payments (computed now, so windows slide)."""
    if not customer_ids:
        return {}
    now = datetime.now(timezone.utc)
    today = now.astimezone(ZoneInfo(policy.timezone)).date()
    rows = (await session.execute(TRADING_SQL, {"ids": customer_ids, "since": now - policy.purchases_window, "today": today})).all()
    figures = {cid: dict(EMPTY_TRADING) for cid in customer_ids}
    for r in rows:
        figures[r.customer_id] = {
            "last_order_at": r.last_order_at,
            "orders_12m": r.orders_12m,
            "purchases_12m": f"{r.purchases_12m:.2f}",
            "overdue_orders": r.overdue_orders,
            "overdue_amount": f"{r.overdue_amount:.2f}",
        }
    return figures


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, ensure_ascii=False).encode()).decode()


def decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except Exception as exc:
        raise DomainError("the cursor is not one this service issued", field="cursor", code="invalid_input", status=422) from exc
    if not isinstance(values, list) or len(values) != length or not all(isinstance(v, str) for v in values):
        raise DomainError("the cursor is not one this service issued", field="cursor", code="invalid_input", status=422)
    return values


def substring(column: sa.ColumnElement[str], q: str) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match; LIKE wildcards in the query are literal (GIN trigram index helps)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def page_limit(limit: int | None, policy: CustomersPolicy) -> int:
    if limit is None:
        return policy.page_size
    if not 1 <= limit <= policy.max_page_size:
        raise DomainError(f"limit must be between 1 and {policy.max_page_size}", field="limit", code="invalid_input", status=422)
    return limit
