"""Follow-ups and SLA timers as rows: handlers plan them, the scheduler fires them once (real PostgreSQL, `now` injected)."""

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from services.notifier.tables import recipients
from shared import events
from shared.db import unit_of_work
from tests.notifier.conftest import at, customer, tier, visit


async def open_followups(n, cid="c1"):
    return {
        r.kind: r
        for r in await n.rows("SELECT * FROM followups WHERE customer_id = :c AND state IN ('scheduled','fired') ORDER BY due_at", c=cid)
    }


async def test_a_new_customer_gets_a_cadence_follow_up_by_tier(notifier):
    await notifier.apply(customer(), time=at(23))
    assert (await open_followups(notifier))["cadence"].due_at == at(23, month=12)  # not graded yet: C, 30 days
    await notifier.apply(tier("c1", "A", at(23, 11)))
    cadence = (await open_followups(notifier))["cadence"]
    assert cadence.due_at == at(30, 11)  # a tier change reschedules the next cadence follow-up
    assert await notifier.scalar("SELECT count(*) FROM followups WHERE kind = 'cadence'") == 1


async def test_a_visit_plans_thank_you_decision_call_commitments_and_re_anchors_the_cadence(notifier):
    await notifier.apply(customer(), time=at(20))
    await notifier.apply(tier("c1", "B", at(20)))
    v = visit(first_visit=True, outcome="undecided", started_at=at(23, 15),
              commitments=[{"party": "us", "content": "quotation", "due_at": at(27, 17).isoformat()}])
    await notifier.apply(v)
    await notifier.apply(v)  # the same visit again (another event id): nothing planned twice
    planned = await open_followups(notifier)
    assert set(planned) == {"thank_you", "decision_call", "commitment", "cadence"}
    assert planned["thank_you"].due_at == at(24, 15)
    assert planned["decision_call"].due_at == at(26, 15)
    assert planned["commitment"].fire_at == at(26, 17)
    assert planned["cadence"].due_at == at(7, 15, month=12)  # B: 14 days after the visit
    assert await notifier.scalar("SELECT count(*) FROM followups") == 4


async def test_not_now_pauses_proactive_follow_ups_and_resume_restarts_the_cadence(notifier):
    await notifier.apply(customer(), time=at(20))
    await notifier.apply(tier("c1", "A", at(20)))
    await notifier.apply(visit(outcome="not_now", started_at=at(23)))
    planned = await open_followups(notifier)
    assert set(planned) == {"resume"}  # the cadence is paused
    resume = planned["resume"]
    await notifier.tick(resume.fire_at - timedelta(minutes=1))
    assert (await open_followups(notifier))["resume"].state == "scheduled"
    await notifier.tick(resume.fire_at)
    after = await open_followups(notifier)
    assert after["resume"].state == "fired"
    assert after["cadence"].due_at == notifier.rules.human(resume.due_at + timedelta(days=7))


async def test_a_handover_moves_open_follow_ups_to_the_new_owner(notifier):
    await notifier.apply(customer(), time=at(20))
    await notifier.apply(visit(outcome="undecided"))
    await notifier.apply(customer(owner="rep-9", team="team-west", revision=2))
    rows = await notifier.rows("SELECT rep_id, team_id FROM followups WHERE state = 'scheduled'")
    assert rows and {(r.rep_id, r.team_id) for r in rows} == {("rep-9", "team-west")}
    await notifier.apply(customer(owner="rep-1", revision=1))  # an older snapshot changes nothing
    assert {r.rep_id for r in await notifier.rows("SELECT rep_id FROM followups")} == {"rep-9"}


async def test_a_lost_customer_gets_no_cadence(notifier):
    await notifier.apply(customer(), time=at(20))
    await notifier.apply(customer(lifecycle="lost", revision=2), time=at(21))
    assert "cadence" not in await open_followups(notifier)


async def test_a_visit_for_an_unknown_customer_waits_for_the_customer(notifier):
    await notifier.apply(visit("c-new", outcome="undecided"))
    assert await notifier.scalar("SELECT count(*) FROM followups") == 0
    assert await notifier.scalar("SELECT count(*) FROM parked_events WHERE customer_id = 'c-new'") == 1
    await notifier.apply(customer("c-new"), time=at(20))
    assert set(await open_followups(notifier, "c-new")) == {"decision_call", "cadence"}
    assert await notifier.scalar("SELECT count(*) FROM parked_events") == 0


async def test_due_follow_ups_fire_once_with_event_and_delivery_in_one_transaction(notifier):
    async with unit_of_work(notifier.sessions) as s:
        await s.execute(sa.insert(recipients).values(recipient_id="rep-1", email="rep1@example.com"))
    await notifier.apply(customer(), time=at(20))
    await notifier.apply(visit(commitments=[{"party": "customer", "content": "budget", "due_at": at(25, 12).isoformat()}]))
    assert await notifier.tick(at(24, 11)) == 0  # nothing due yet
    assert await notifier.tick(at(24, 12)) == 1
    assert await notifier.tick(at(24, 13)) == 0  # fired already: never again
    [due] = await notifier.published("FollowUpDue")
    assert due["kind"] == "commitment" and due["rep_id"] == "rep-1" and due["due_at"].startswith("2026-11-25T")
    delivery = (await notifier.rows("SELECT * FROM deliveries"))[0]
    assert delivery.channel == "email" and delivery.target == "rep1@example.com" and delivery.status == "pending"


async def test_what_fell_due_during_downtime_fires_when_the_scheduler_returns(notifier):
    await notifier.apply(customer(), time=at(1))
    await notifier.apply(tier("c1", "A", at(1)))
    # nobody ran the scheduler for weeks: the overdue cadence fires once, the next one is planned ahead
    assert await notifier.tick(at(23)) == 1
    assert len(await notifier.published("FollowUpDue")) == 1
    assert (await open_followups(notifier))["cadence"].state == "scheduled"


async def test_the_contact_cap_merges_and_defers_proactive_follow_ups(notifier):
    await notifier.apply(customer(), time=at(1))
    # first visit + undecided: thank-you on Mon 23rd and a decision call on Thu 26th
    await notifier.apply(visit(first_visit=True, outcome="undecided", started_at=at(23, 10)))
    # a second visit on Tuesday asks for another decision call on Friday
    await notifier.apply(visit(vid="v2", outcome="undecided", started_at=at(24, 10)))
    # the scheduler was down until Friday 11:00: three proactive follow-ups are due at once
    await notifier.tick(at(27, 11))
    states = sorted(r.state for r in await notifier.rows("SELECT state FROM followups WHERE kind <> 'cadence'"))
    assert states == ["fired", "merged", "merged"]  # one contact, not three
    assert len(await notifier.published("FollowUpDue")) == 1

    # three more decision calls fall due on Mon 30th, Tue 1st and Wed 2nd
    await notifier.apply(visit(vid="v3", outcome="undecided", started_at=at(27, 12)))
    await notifier.apply(visit(vid="v4", outcome="undecided", started_at=at(28, 12)))
    await notifier.apply(visit(vid="v5", outcome="undecided", started_at=at(29, 12)))
    for when in (at(30, 12), at(1, 12, month=12), at(2, 12, month=12)):
        await notifier.tick(when)
    fired = await notifier.rows("SELECT fired_at FROM followups WHERE state = 'fired' AND proactive ORDER BY fired_at")
    assert [r.fired_at for r in fired] == [at(27, 11), at(30, 12), at(1, 12, month=12)]
    # the third contact within seven days was Tuesday's: Wednesday's call waits until Friday's contact leaves the week
    deferred = (await notifier.rows("SELECT * FROM followups WHERE source = 'visit:v5:decision_call'"))[0]
    assert deferred.state == "scheduled" and deferred.deferrals == 1
    assert deferred.fire_at == at(4, 11, month=12)
    await notifier.tick(at(4, 11, month=12))
    assert len(await notifier.published("FollowUpDue")) == 4


async def test_sla_warning_breach_and_repeated_escalation_until_resolved(notifier):
    async with unit_of_work(notifier.sessions) as s:
        await s.execute(sa.insert(recipients).values(recipient_id="h-1", email="h1@example.com", manager_id="m-1"))
        await s.execute(sa.insert(recipients).values(recipient_id="m-1", email="m1@example.com"))
    filed = events.ComplaintFiled(complaint_id="K1", customer_id="c1", tier="A", received_at=at(23, 10), due_at=at(26, 10), handler_id="h-1", summary="late delivery")
    await notifier.apply(filed)
    await notifier.tick(at(25, 15, 59))
    assert await notifier.published("SlaWarning") == []
    await notifier.tick(at(25, 16))  # 75 % of 72 h
    [warning] = await notifier.published("SlaWarning")
    assert warning["complaint_id"] == "K1" and warning["handler_id"] == "h-1" and warning["tier"] == "A"
    await notifier.tick(at(26, 10))
    [breach] = await notifier.published("SlaBreached")
    assert breach["due_at"].startswith("2026-11-26T")
    for hour in (14, 18):  # every 4 hours while it stays open, to the manager
        await notifier.tick(at(26, hour))
    assert len(await notifier.published("SlaBreached")) == 3
    sent_to = [(r.event_type, r.recipient_id) for r in await notifier.rows("SELECT event_type, recipient_id FROM deliveries ORDER BY delivery_id")]
    assert sent_to == [("SlaWarning", "h-1"), ("SlaBreached", "h-1"), ("SlaBreached", "m-1"), ("SlaBreached", "m-1"), ("SlaBreached", "m-1")]

    await notifier.apply(events.ComplaintResolved(complaint_id="K1", customer_id="c1", resolved_at=at(26, 19), due_at=at(26, 10), within_sla=False, cause_category="logistics"))
    await notifier.tick(at(30, 10))
    assert len(await notifier.published("SlaBreached")) == 3
    assert await notifier.scalar("SELECT count(*) FROM sla_alerts WHERE state = 'scheduled'") == 0


async def test_a_changed_deadline_re_times_the_alerts(notifier):
    filed = dict(complaint_id="K2", customer_id="c1", tier="C", received_at=at(23, 10), handler_id="h-1", summary="x")
    await notifier.apply(events.ComplaintFiled(due_at=at(27, 10), **filed))
    await notifier.apply(events.ComplaintFiled(due_at=at(27, 10), **filed))  # same deadline again: unchanged
    await notifier.apply(events.ComplaintFiled(due_at=at(1, 10, month=12), **filed))
    scheduled = {r.stage: r.fire_at for r in await notifier.rows("SELECT stage, fire_at FROM sla_alerts WHERE state = 'scheduled'")}
    assert scheduled == {"warning": at(29, 10), "breach": at(1, 10, month=12)}
    assert await notifier.scalar("SELECT count(*) FROM sla_alerts WHERE state = 'cancelled'") == 2


async def test_two_schedulers_at_once_fire_each_follow_up_once(notifier):
    for i in range(40):
        await notifier.apply(customer(f"c{i}"), time=at(1))
        await notifier.apply(visit(f"c{i}", vid=f"v{i}", outcome="undecided", started_at=at(2)))

    async def scheduler():
        total = 0
        while n := await notifier.tick(at(23)):
            total += n
        return total

    await asyncio.gather(scheduler(), scheduler(), scheduler())
    published = await notifier.published("FollowUpDue")
    assert len(published) == 40  # one decision call per customer, each fired once
    assert len({p["customer_id"] for p in published}) == 40


async def test_a_reopened_complaint_escalates_again(notifier):
    filed = events.ComplaintFiled(complaint_id="K3", customer_id="c1", tier="B", received_at=at(23, 10), due_at=at(24, 10), handler_id="h-1", summary="x")
    await notifier.apply(filed)
    await notifier.tick(at(24, 10))  # warning and breach
    await notifier.apply(events.ComplaintResolved(complaint_id="K3", customer_id="c1", resolved_at=at(24, 11), due_at=at(24, 10), within_sla=False, cause_category="product"))
    assert await notifier.scalar("SELECT count(*) FROM sla_alerts WHERE state = 'scheduled'") == 0
    await notifier.apply(events.ComplaintStatusChanged.model_validate(
        {"complaint_id": "K3", "customer_id": "c1", "from": "resolved", "to": "reopened", "actor_id": "h-1", "at": at(25, 9).isoformat()}
    ))
    [again] = await notifier.rows("SELECT stage, fire_at FROM sla_alerts WHERE state = 'scheduled'")
    assert again.stage == "escalation" and again.fire_at == at(25, 13)
    await notifier.tick(at(25, 13))
    assert len(await notifier.published("SlaBreached")) == 2
