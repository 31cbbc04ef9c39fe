"""Wiring of the customers service."""

from fastapi import FastAPI

from services.customers.api import router
from services.customers.settings import CustomersSettings
from shared.service import ServiceSpec, create_app


def build(settings: CustomersSettings | None = None) -> FastAPI:
    return create_app(
        ServiceSpec(
            settings=settings or CustomersSettings(),
            title="CRM customers",
            description="The living customer archive: cards, contacts, visits, orders intake.",
            publishes=["CustomerUpdated", "VisitLogged", "OrderPlaced", "PaymentReceived"],
            routers=[router],
        )
    )
