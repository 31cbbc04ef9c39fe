"""HTTP entry points of the grading service (the tier API itself is the grading issue)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request

from services.grading.tables import customer_metrics
from shared.errors import NotFound
from shared.service import runtime_of

router = APIRouter(tags=["grading"])


@router.get("/metrics/{customer_id}", summary="Money facts kept for one customer")
async def get_metrics(customer_id: str, request: Request) -> dict:
    async with runtime_of(request).sessions() as session:
        row = (await session.execute(sa.select(customer_metrics).where(customer_metrics.c.customer_id == customer_id))).mappings().first()
    if row is None:
        raise NotFound(f"no metrics for customer {customer_id}", field="customer_id")
    return {**row, "purchases_total": f"{row['purchases_total']:.2f}"}
