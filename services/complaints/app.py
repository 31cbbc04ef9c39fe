"""Wiring of the complaints service. Its workflow and SLA logic come with the complaints issue;
today it keeps the customer/tier read model its deadlines will come from."""

from fastapi import FastAPI

from services.complaints.settings import ComplaintsSettings
from shared import read_models, topics
from shared.service import ServiceSpec, create_app


def build(settings: ComplaintsSettings | None = None) -> FastAPI:
    return create_app(
        ServiceSpec(
            settings=settings or ComplaintsSettings(),
            title="CRM complaints",
            description="Complaints workflow with tier-based SLAs on a business calendar.",
            consumes={
                topics.CUSTOMERS: {"CustomerUpdated": read_models.customer_updated},
                topics.GRADING: {"TierChanged": read_models.tier_changed},
            },
            publishes=["ComplaintFiled", "ComplaintStatusChanged", "ComplaintResolved"],
        )
    )
