"""Wiring of the notifier service. Follow-up rules and delivery come with the notifier issue;
today it keeps the read models (customer owner/tier, open complaints) the timers will use."""

from fastapi import FastAPI

from services.notifier import handlers
from services.notifier.settings import NotifierSettings
from shared import read_models, topics
from shared.service import ServiceSpec, create_app


def build(settings: NotifierSettings | None = None) -> FastAPI:
    return create_app(
        ServiceSpec(
            settings=settings or NotifierSettings(),
            title="CRM notifier",
            description="Follow-ups on cadence, SLA warnings and breaches, delivered once.",
            consumes={
                topics.CUSTOMERS: {"CustomerUpdated": read_models.customer_updated},
                topics.GRADING: {"TierChanged": read_models.tier_changed},
                topics.COMPLAINTS: {
                    "ComplaintFiled": handlers.complaint_filed,
                    "ComplaintStatusChanged": handlers.complaint_status_changed,
                    "ComplaintResolved": handlers.complaint_resolved,
                },
            },
            publishes=["FollowUpDue", "SlaWarning", "SlaBreached"],
        )
    )
