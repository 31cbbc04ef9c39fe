"""Wiring of the grading service."""

from fastapi import FastAPI

from services.grading import handlers
from services.grading.api import router
from services.grading.settings import GradingSettings
from shared import topics
from shared.service import ServiceSpec, create_app


def build(settings: GradingSettings | None = None) -> FastAPI:
    return create_app(
        ServiceSpec(
            settings=settings or GradingSettings(),
            title="CRM grading",
            description="Explainable A/B/C tiers computed from orders and payments.",
            consumes={
                topics.ORDERS: {"OrderPlaced": handlers.order_placed},
                topics.CUSTOMERS: {"CustomerUpdated": handlers.customer_updated},
            },
            publishes=["TierChanged"],
            routers=[router],
        )
    )
