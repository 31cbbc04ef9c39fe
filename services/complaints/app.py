"""Wiring of the complaints service: policy, SLA clock, consumers, HTTP."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.complaints import handlers, policy
from services.complaints.api import router
from services.complaints.service import Complaints
from services.complaints.settings import ComplaintsSettings
from services.complaints.sla import SlaClock
from services.complaints.workflow import InvalidTransition
from shared import read_models, topics
from shared.business_calendar import BusinessCalendar
from shared.service import ServiceSpec, create_app


def build(settings: ComplaintsSettings | None = None) -> FastAPI:
    complaints_policy, calendar_policy = policy.load()  # a bad policy stops the start-up, naming the key
    ctx = Complaints(policy=complaints_policy, clock=SlaClock(complaints_policy.clock, BusinessCalendar(calendar_policy)))
    app = create_app(
        ServiceSpec(
            settings=settings or ComplaintsSettings(),
            title="CRM complaints",
            description="Complaints workflow with tier-based SLAs on a business calendar.",
            consumes={
                topics.CUSTOMERS: {"CustomerUpdated": read_models.customer_updated},
                topics.GRADING: {"TierChanged": handlers.tier_changed(ctx)},
            },
            publishes=["ComplaintFiled", "ComplaintStatusChanged", "ComplaintResolved"],
            routers=[router],
        )
    )
    app.state.complaints = ctx

    @app.exception_handler(InvalidTransition)
    async def _invalid_transition(_: Request, exc: InvalidTransition) -> JSONResponse:
        body = {"code": exc.code, "message": exc.message, "field": exc.field, "allowed": exc.allowed}
        return JSONResponse(body, status_code=exc.status)

    return app
