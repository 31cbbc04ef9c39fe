"""Delivery by e-mail (SMTP, aiosmtplib) and webhook (signed JSON), as rows a worker sends.

A delivery row is staged in the same transaction that fires the notification. The worker
claims due rows with FOR UPDATE SKIP LOCKED, sends them concurrently with a timeout each
(a slow or failing endpoint never holds up the others), logs every attempt, and retries
with exponential backoff until `max_attempts`, then marks the delivery failed.
Delivery to an endpoint is at least once: the `X-CRM-Delivery` header lets a receiver
drop a repeat after a crash between sending and recording.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib
import httpx
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.domain import Rules, signature
from services.notifier.tables import deliveries, delivery_attempts, recipients
from shared import events

log = structlog.get_logger(__name__)
SIGNATURE_HEADER = "X-CRM-Signature"


async def stage(
    session: AsyncSession, *, event: events.CloudEvent, subject: str, recipient_ids: list[str], now: datetime
) -> int:
    return await stage_many(session, [(event, subject, recipient_ids)], now=now)


async def stage_many(session: AsyncSession, items: list[tuple[events.CloudEvent, str, list[str]]], *, now: datetime) -> int:
    """One delivery row per configured channel of each recipient of each event (one query, one insert)."""
    wanted = sorted({r for _, _, ids in items for r in ids if r})
    if not wanted:
        return 0
    channels = {r.recipient_id: r for r in (await session.execute(sa.select(recipients).where(recipients.c.recipient_id.in_(wanted)))).all()}
    staged = []
    for event, subject, ids in items:
        body = None
        for rid in dict.fromkeys(filter(None, ids)):
            r = channels.get(rid)
            if r is None:
                continue
            for channel, target in (("email", r.email), ("webhook", r.webhook_url)):
                if target:
                    body = body or events.encode(event)
                    staged.append(
                        dict(recipient_id=rid, channel=channel, target=target, event_id=event.id,
                             event_type=event.type, subject=subject[:300], body=body, next_attempt_at=now)
                    )
    if staged:
        await session.execute(sa.insert(deliveries), staged)
    return len(staged)


async def manager_of(session: AsyncSession, *, rules: Rules, staff_id: str | None) -> str | None:
    if not staff_id:
        return None
    found = await session.scalar(sa.select(recipients.c.manager_id).where(recipients.c.recipient_id == staff_id))
    return found or rules.policy.sla.managers.get(staff_id)


class Senders:
    """The two channels. SMTP settings come from the service settings (infrastructure, not policy)."""

    def __init__(self, *, smtp_host: str, smtp_port: int, mail_from: str, timeout: float) -> None:
        self.smtp_host, self.smtp_port, self.mail_from, self.timeout = smtp_host, smtp_port, mail_from, timeout
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, delivery: sa.Row, secret: str | None) -> None:
        """Raises on failure, with a message for the delivery log."""
        if delivery.channel == "email":
            await self.email(delivery)
        else:
            await self.webhook(delivery, secret)

    async def email(self, d: sa.Row) -> None:
        event = json.loads(d.body)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.mail_from, d.target, d.subject
        message["X-CRM-Delivery"] = str(d.delivery_id)
        message.set_content(f"{d.subject}\n\n" + json.dumps(event["data"], ensure_ascii=False, indent=2))
        await aiosmtplib.send(message, hostname=self.smtp_host, port=self.smtp_port, timeout=self.timeout)

    async def webhook(self, d: sa.Row, secret: str | None) -> None:
        headers = {
            "content-type": events.CONTENT_TYPE,
            "X-CRM-Delivery": str(d.delivery_id),
            "X-CRM-Event-Type": d.event_type,
        }
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, d.body)
        response = await self.http.post(d.target, content=d.body, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}")


async def send_due(session: AsyncSession, *, rules: Rules, senders: Senders, now: datetime, limit: int = 100) -> int:
    """Claim due deliveries (skipping rows other workers hold), send them concurrently, record the results."""
    due = (
        await session.execute(
            sa.select(deliveries)
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not due:
        return 0
    secrets = dict(
        (
            await session.execute(
                sa.select(recipients.c.recipient_id, recipients.c.webhook_secret).where(
                    recipients.c.recipient_id.in_({d.recipient_id for d in due})
                )
            )
        ).all()
    )
    timeout = rules.policy.delivery.timeout.total_seconds()

    async def attempt(d: sa.Row) -> str | None:
        try:
            await asyncio.wait_for(senders.send(d, secrets.get(d.recipient_id)), timeout)
            return None
        except Exception as exc:  # any failure is this endpoint's, recorded and retried
            return f"{type(exc).__name__}: {exc}"[:1000] or type(exc).__name__

    results = await asyncio.gather(*(attempt(d) for d in due))
    for d, error in zip(due, results, strict=True):
        tries = d.attempts + 1
        if error is None:
            values = dict(status="sent", attempts=tries, sent_at=now, last_error=None)
        elif tries >= rules.policy.delivery.max_attempts:
            values = dict(status="failed", attempts=tries, last_error=error)
            log.warning("delivery failed for good", delivery_id=d.delivery_id, target=d.target, error=error)
        else:
            values = dict(attempts=tries, last_error=error, next_attempt_at=now + rules.retry_delay(tries))
        await session.execute(sa.update(deliveries).where(deliveries.c.delivery_id == d.delivery_id).values(**values))
        await session.execute(
            sa.insert(delivery_attempts).values(delivery_id=d.delivery_id, attempt=tries, at=now, ok=error is None, detail=error)
        )
    return len(due)
