"""The notifier's rules as pure functions (domain.md §5): no I/O; `now` is always passed in.

- cadence by tier, re-anchored by every contact; a tier change reschedules the next one;
- after a first visit a thank-you; an undecided outcome asks for a decision call;
  `not_now` pauses proactive follow-ups and schedules a resume;
- commitments (ours and the customer's) and next steps are reminded before they fall due;
- no harassment: a cap on proactive contacts per customer merges or defers the excess;
- SLA alerts: warning at a share of the allowed time, breach at the deadline, escalation after.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from services.notifier.policy import NotifierPolicy
from shared.business_calendar import BusinessCalendar
from shared.events import VisitLogged

PROACTIVE_PAUSED_KINDS = ("cadence", "decision_call", "resume")  # what `not_now` pauses


@dataclass(frozen=True)
class PlannedFollowUp:
    kind: str
    rep_id: str
    due_at: datetime  # when the rep should act
    fire_at: datetime  # when the reminder goes out
    source: str | None  # what asked for it; unique, so a replayed rule never plans it twice
    content: str = ""


@dataclass(frozen=True)
class ContactPlan:
    """What one contact with the customer (a visit, or a follow-up marked done) leads to."""

    followups: list[PlannedFollowUp] = field(default_factory=list)
    cadence_anchor: datetime | None = None  # the next cadence counts from here
    pause_until: datetime | None = None  # proactive follow-ups paused until then (not now)


@dataclass(frozen=True)
class CapDecision:
    fire: list[str] = field(default_factory=list)  # ids to fire now
    merged: dict[str, str] = field(default_factory=dict)  # id -> the fired id it is merged into
    defer_until: datetime | None = None  # for every id not fired nor merged


class Rules:
    def __init__(self, policy: NotifierPolicy, calendar: BusinessCalendar) -> None:
        self.policy = policy
        self.calendar = calendar

    # --- time placement -------------------------------------------------
    def human(self, moment: datetime) -> datetime:
        """Human-facing follow-ups fall on a working day within working hours."""
        if not self.policy.working_hours_only:
            return moment
        return self.calendar.next_working_moment(moment)

    def last_working_moment_by(self, deadline: datetime, *, not_before: datetime) -> datetime:
        """The latest working moment at or before `deadline` (for "within 24 h"); `not_before` if none."""
        if not self.policy.working_hours_only:
            return deadline
        cal, zone = self.calendar, self.calendar.zone
        cursor = deadline.astimezone(zone)
        while cursor >= not_before:
            day = cursor.date()
            opens = datetime.combine(day, cal.policy.work_start, zone)
            closes = datetime.combine(day, cal.policy.work_end, zone)
            if cal.is_working_day(day) and cursor >= opens:
                return max(min(cursor, closes), not_before).astimezone(deadline.tzinfo)
            cursor = datetime.combine(day, time(0), zone) - timedelta(microseconds=1)
        return self.human(not_before)

    # --- cadence ----------------------------------------------------------
    def cadence_every(self, tier: str | None) -> timedelta:
        return getattr(self.policy.cadence, tier or self.policy.default_tier)

    def next_cadence(self, *, tier: str | None, anchor: datetime, paused_until: datetime | None = None) -> datetime:
        due = anchor + self.cadence_every(tier)
        if paused_until is not None and due < paused_until:
            due = paused_until
        return self.human(due)

    def cadence_followup(self, customer_id: str, *, rep_id: str, tier: str | None, anchor: datetime) -> PlannedFollowUp:
        due = self.next_cadence(tier=tier, anchor=anchor)
        return PlannedFollowUp("cadence", rep_id, due, due, None, "regular contact")  # one open per customer (an index)

    # --- contacts ---------------------------------------------------------
    def after_visit(self, visit: VisitLogged) -> ContactPlan:
        return self.after_contact(
            ref=f"visit:{visit.visit_id}",
            rep_id=visit.rep_id,
            at=visit.started_at,
            outcome=visit.outcome,
            first_visit=visit.first_visit,
            commitments=[(f"{c.party}: {c.content}", c.due_at, visit.rep_id) for c in visit.commitments]
            + ([(f"next step: {visit.next_step.content}", visit.next_step.due_at, visit.next_step.owner_rep_id)] if visit.next_step else []),
        )

    def after_contact(
        self,
        *,
        ref: str,
        rep_id: str,
        at: datetime,
        outcome: str,
        first_visit: bool = False,
        commitments: list[tuple[str, datetime, str]] = (),  # type: ignore[assignment]
    ) -> ContactPlan:
        p = self.policy
        planned: list[PlannedFollowUp] = []
        if first_visit:
            fire = self.human(at)
            due = self.last_working_moment_by(at + p.thank_you_within, not_before=fire)
            planned.append(PlannedFollowUp("thank_you", rep_id, due, fire, f"{ref}:thank_you", "thank the customer for the visit"))
        if outcome == "undecided":
            due = self.human(at + p.decision_call_after)
            planned.append(PlannedFollowUp("decision_call", rep_id, due, due, f"{ref}:decision_call", "call for the decision"))
        pause_until = None
        if outcome == "not_now":
            pause_until = at + p.not_now_pause
            due = self.human(pause_until)
            planned.append(PlannedFollowUp("resume", rep_id, due, due, f"{ref}:resume", "resume with something new to offer"))
        for i, (content, due_at, owner) in enumerate(commitments):
            planned.append(
                PlannedFollowUp("commitment", owner, due_at, self.reminder_at(due_at, now=at), f"{ref}:commitment:{i}", content)
            )
        return ContactPlan(followups=planned, cadence_anchor=at, pause_until=pause_until)

    def reminder_at(self, due_at: datetime, *, now: datetime) -> datetime:
        """Remind `commitment_reminder_before` ahead, at the last working moment by then; at once if already late."""
        raw = due_at - self.policy.commitment_reminder_before
        if raw <= now:
            return min(now, due_at)
        placed = self.last_working_moment_by(raw, not_before=now)
        return placed if placed <= due_at else now

    # --- no harassment ------------------------------------------------------
    def cap_contacts(self, *, due: list[tuple[str, datetime]], recent: list[datetime], now: datetime) -> CapDecision:
        """One customer's proactive follow-ups due now (id, fire_at) against the contacts already made.

        Within the cap, the earliest due fires and the rest due with it merge into it (one contact, not
        several calls a day). Beyond the cap, all are deferred to when the windows have room again.
        """
        if not due:
            return CapDecision()
        cap = self.policy.contact_cap
        room_at = now
        for window, limit in ((cap.day, cap.per_day), (cap.week, cap.per_week)):
            inside = sorted(t for t in recent if now - window < t <= now)
            if len(inside) >= limit:
                # the moment enough old contacts have left the window to allow one more
                room_at = max(room_at, inside[len(inside) - limit] + window)
        if room_at > now:
            return CapDecision(defer_until=self.human(room_at))
        ordered = sorted(due, key=lambda d: (d[1], d[0]))
        first = ordered[0][0]
        return CapDecision(fire=[first], merged={i: first for i, _ in ordered[1:]})

    # --- SLA ----------------------------------------------------------------
    def sla_warning_at(self, *, received_at: datetime, due_at: datetime) -> datetime:
        share = self.policy.sla.warning_share
        if self.policy.sla.clock == "business":
            allowed = self.calendar.working_time_between(received_at, due_at)
            return self.calendar.add(received_at, allowed * share) if allowed > timedelta(0) else due_at
        return received_at + (due_at - received_at) * share

    def next_escalation(self, *, after: datetime, now: datetime) -> datetime:
        """Escalate again one period later; after downtime, one period from now (no burst of stale alerts)."""
        nxt = after + self.policy.sla.escalate_every
        return nxt if nxt > now else now + self.policy.sla.escalate_every

    # --- delivery -------------------------------------------------------------
    def retry_delay(self, attempts: int) -> timedelta:
        d = self.policy.delivery
        return min(d.retry_initial * (2 ** max(attempts - 1, 0)), d.retry_max)


def signature(secret: str, body: bytes) -> str:
    """Webhook signature header value: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
