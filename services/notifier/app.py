"""Wiring of the notifier service: policy, rules, consumers, scheduler, delivery worker, HTTP."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifier import api, jobs, policy
from services.notifier.clock import Clock
from services.notifier.deliveries import Senders
from services.notifier.domain import Rules
from services.notifier.handlers import NotifierHandlers
from services.notifier.settings import NotifierSettings
from shared.service import ServiceSpec, create_app


def build(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    notifier_policy, calendar = policy.load()  # a malformed policy stops the start-up here, naming the key
    rules = Rules(notifier_policy, calendar)
    clock = Clock(settings.clock_offset)
    senders = Senders(
        smtp_host=settings.smtp_host, smtp_port=settings.smtp_port, mail_from=settings.mail_from,
        timeout=notifier_policy.delivery.timeout.total_seconds(),
    )
    background = []
    if settings.scheduler_enabled:
        background = [
            jobs.scheduler(rules, clock, poll=settings.scheduler_poll_seconds),
            jobs.delivery_worker(rules, clock, senders, poll=settings.delivery_poll_seconds),
        ]
    app = create_app(
        ServiceSpec(
            settings=settings,
            title="CRM notifier",
            description="Follow-ups on cadence, SLA warnings and breaches, delivered once.",
            consumes=NotifierHandlers(rules).table(),
            publishes=["FollowUpDue", "SlaWarning", "SlaBreached"],
            routers=[api.router],
            background=background,
        )
    )
    app.state.rules = rules
    app.state.clock = clock
    return app
