"""Wiring of the customers service."""

from fastapi import FastAPI

from services.customers import api, contacts, handlers, handover, orders, portfolio, transfer, visits
from services.customers.policy import load as load_policy
from services.customers.settings import CustomersSettings
from shared import topics
from shared.service import ServiceSpec, create_app


def build(settings: CustomersSettings | None = None) -> FastAPI:
    policy = load_policy()  # a malformed [customers] section stops start-up, naming the key
    app = create_app(
        ServiceSpec(
            settings=settings or CustomersSettings(),
            title="CRM customers",
            description=(
                "The living customer archive: cards with history, contacts, visits and commitments, orders intake, "
                "portfolios, handover. Every endpoint needs `Authorization: Bearer <JWT>` (roles rep, manager, admin; "
                "`crm token`); a rep sees own customers, a manager the team's, an admin all."
            ),
            consumes={
                topics.ORDERS: {"OrderPlaced": handlers.orders_placed, "PaymentReceived": handlers.payments_received},
                topics.GRADING: {"TierChanged": handlers.tier_changed},
            },
            publishes=["CustomerUpdated", "VisitLogged", "OrderPlaced", "PaymentReceived"],
            routers=[transfer.router, api.router, contacts.router, visits.router, orders.router, portfolio.router, handover.router],
        )
    )
    app.state.customers_policy = policy
    return app
