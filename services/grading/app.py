"""Wiring of the grading service."""

from fastapi import FastAPI

from services.grading import jobs
from services.grading.api import router
from services.grading.handlers import build_handlers
from services.grading.policy import GradingPolicy, load
from services.grading.settings import GradingSettings
from shared import topics
from shared.service import ServiceSpec, create_app


def build(settings: GradingSettings | None = None, policy: GradingPolicy | None = None) -> FastAPI:
    policy = policy or load()  # a malformed [grading] section stops the service here, naming the key
    handlers = build_handlers(lambda: policy)
    app = create_app(
        ServiceSpec(
            settings=settings or GradingSettings(),
            title="CRM grading",
            description="Explainable A/B/C tiers computed from orders and payments.",
            consumes={
                topics.ORDERS: {"OrderPlaced": handlers["OrderPlaced"], "PaymentReceived": handlers["PaymentReceived"]},
                topics.CUSTOMERS: {"CustomerUpdated": handlers["CustomerUpdated"]},
            },
            publishes=["TierChanged"],
            routers=[router],
            background=jobs.scheduled(policy),
        )
    )
    app.state.grading_policy = policy
    return app
