"""The whole story, four service processes on the real broker and PostgreSQL, with the lifecycle in seconds
(tests/e2e/story_policy.toml, given to every service):

1. rep-1 creates a customer and files a first visit, outcome undecided: notifier plans a thank-you and a decision call;
2. two orders of 600,000.00 lift the customer C -> B -> A: TierChanged, every tier read model shows A, cadence follows A;
3. the customer complains: deadline from tier A; the complaint walks the six steps while notifier warns, reports the
   breach and escalates; resolved late (within_sla false), the remaining alerts are cancelled;
4. rep-1 leaves: the team manager hands everything to rep-2; rep-1's token opens nothing any more;
5. every event is on its topic once and valid against its schema, every consumer applied each event it handles once,
   and all read models agree on owner and tier.
"""

from __future__ import annotations

import importlib
from collections import Counter
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import jsonschema
import pytest

from shared import events, topics
from shared.stack import SERVICES
from tests.harness import auth, cloud_events, eventually, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POLICY = Path(__file__).with_name("story_policy.toml")
# The durations of story_policy.toml this test relies on.
THANK_YOU_WITHIN = timedelta(seconds=60)
DECISION_CALL_AFTER = timedelta(seconds=300)
CADENCE = {"A": timedelta(seconds=900), "B": timedelta(seconds=1800), "C": timedelta(seconds=3600)}
RESOLUTION_A = timedelta(seconds=8)

ADMIN = auth()
REP1 = auth("rep-1", "rep", "team-east")
REP2 = auth("rep-2", "rep", "team-east")
LEAD = auth("lead-east", "manager", "team-east")
DESK = auth("desk-1", "rep", "service-desk")  # the service desk files and handles complaints

STORY_TOPICS = (topics.CUSTOMERS, topics.ORDERS, topics.GRADING, topics.COMPLAINTS, topics.NOTIFICATIONS)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def consumed_by_service() -> dict[str, dict[str, set[str]]]:
    """service -> topic -> event types it applies, read from each service's own wiring."""
    wiring = {}
    for service in SERVICES:
        consumes = importlib.import_module(f"services.{service}.app").build().state.runtime.spec.consumes
        wiring[service] = {topic: set(handlers) for topic, handlers in consumes.items()}
    return wiring


async def test_a_customer_from_first_visit_to_handover(world):
    await world.prepare()
    procs = {name: world.start(name, CRM_POLICY_FILE=str(POLICY)) for name in SERVICES}
    for proc in procs.values():
        proc.wait_ready()

    async with AsyncExitStack() as stack:
        customers, grading, complaints, notifier = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=procs[name].url, timeout=15))
            for name in ("customers", "grading", "complaints", "notifier")
        ]

        # --- 1. a new customer and the first visit -----------------------------------------------------
        created = await customers.post("/customers", headers=REP1, json={
            "number": "CRM-2026-1123", "name": "杭州明远机械有限公司", "owner_rep_id": "rep-1", "team_id": "team-east",
            "lifecycle": "new", "region": "华东",
        })
        assert created.status_code == 201, created.text
        cid = created.json()["customer_id"]
        started = datetime.now(timezone.utc).replace(microsecond=0)
        visit = await customers.post(f"/customers/{cid}/visits", headers=REP1, json={
            "channel": "on_site", "started_at": started.isoformat(), "contact_name": "王经理", "contact_title": "采购经理",
            "needs": {"description": "两条数控生产线", "budget": "1200000.00"}, "objections": ["交期太长"],
            "outcome": "undecided",
        })
        assert visit.status_code == 201, visit.text
        assert visit.json()["first_visit"] is True

        async def open_followups(headers: dict[str, str]) -> dict[str, dict]:
            """The customer's open follow-ups in the caller's GET /followups view (agenda and overdue), by kind."""
            body = (await notifier.get("/followups", headers=headers)).json()
            items = [f for day in body["agenda"] for f in day["followups"]] + body["overdue"]
            return {f["kind"]: f for f in items if f["customer_id"] == cid}

        def planned_after_visit(found: dict[str, dict]) -> bool:
            return {"thank_you", "decision_call"} <= set(found) and at(found["cadence"]["due_at"]) == started + CADENCE["C"]

        planned = await eventually(lambda: open_followups(REP1), until=planned_after_visit, timeout=30)
        assert set(planned) == {"thank_you", "decision_call", "cadence"}
        assert at(planned["thank_you"]["due_at"]) == started + THANK_YOU_WITHIN
        assert at(planned["decision_call"]["due_at"]) == started + DECISION_CALL_AFTER
        assert {f["rep_id"] for f in planned.values()} == {"rep-1"}
        # the thank-you is due at once; the decision call and the cadence wait
        fired = await eventually(lambda: open_followups(REP1), until=lambda f: f["thank_you"]["state"] == "fired", timeout=30)
        assert fired["decision_call"]["state"] == fired["cadence"]["state"] == "scheduled"

        # --- 2. orders lift the customer to A -------------------------------------------------------------
        async def tier_card() -> dict:
            return (await grading.get(f"/tiers/{cid}", headers=REP1)).json()

        # a new customer without orders is graded C first; orders go one at a time, so each step is its own event
        await eventually(tier_card, until=lambda card: card.get("tier") == "C", timeout=30)
        for n, expected in ((1, "B"), (2, "A")):
            order = await customers.post("/orders", headers=REP1, json={
                "order_id": f"SO-2026-{n:04d}", "customer_id": cid, "amount": "600000.00", "cost": "420000.00",
                "placed_at": datetime.now(timezone.utc).isoformat(),
            })
            assert order.status_code == 201, order.text
            await eventually(tier_card, until=lambda card, t=expected: card.get("tier") == t, timeout=30)
        card = await tier_card()
        assert card["metrics"]["purchases_12m"] == "1200000.00" and card["policy"] == "thresholds"
        assert [(h["old_tier"], h["new_tier"]) for h in card["history"]] == [(None, "C"), ("C", "B"), ("B", "A")]

        known_tier = "SELECT tier FROM known_customers WHERE customer_id = :c"
        await eventually(lambda: world.scalar("complaints", known_tier, c=cid), until=lambda t: t == "A", timeout=30)
        await eventually(lambda: world.scalar("notifier", known_tier, c=cid), until=lambda t: t == "A", timeout=30)
        await eventually(lambda: customers.get(f"/customers/{cid}", headers=REP1), until=lambda r: r.json()["tier"] == "A", timeout=30)
        # the next regular contact is one A cadence after the visit (it was one C cadence)
        rescheduled = await open_followups(REP1)
        assert at(rescheduled["cadence"]["due_at"]) == started + CADENCE["A"]
        assert rescheduled["cadence"]["state"] == "scheduled"

        # --- 3. a complaint with an A deadline, walked late through the workflow ---------------------------
        filed = await complaints.post("/complaints", headers=DESK, json={
            "customer_id": cid, "complainant": {"name": "王经理", "role": "采购经理"}, "channel": "phone",
            "content": "第二批设备到货后无法启动，承诺的上门调试没有来", "order_id": "SO-2026-0002",
            "requested_remedy": "三天内派工程师上门",
        })
        assert filed.status_code == 201, filed.text
        complaint = filed.json()
        kid = complaint["complaint_id"]
        assert complaint["tier"] == "A" and complaint["handler_id"] == "desk-1" and complaint["team_id"] == "team-east"
        due_at = at(complaint["sla"]["due_at"])
        assert due_at - at(complaint["received_at"]) == RESOLUTION_A

        async def move(step: dict) -> dict:
            moved = await complaints.post(f"/complaints/{kid}/transitions", headers=DESK, json=step)
            assert moved.status_code == 200, moved.text
            return moved.json()

        async def fired_stages() -> list[str]:
            alerts = (await notifier.get("/alerts", headers=DESK, params={"complaint_id": kid})).json()["alerts"]
            return sorted(a["stage"] for a in alerts)

        await move({"to": "analyzing", "note": "查看现场照片"})
        await eventually(fired_stages, until=lambda s: "warning" in s, timeout=30)
        await move({"to": "solution_proposed", "cause": {"category": "promise_not_kept", "analysis": "调试排期被遗漏"},
                    "plan": {"actions": [{"content": "派工程师上门调试"}], "compensation": "5000.00", "compensation_kind": "voucher"}})
        # past the deadline: the breach goes out, then the first escalation to the handler's manager
        await eventually(fired_stages, until=lambda s: {"breach", "escalation"} <= set(s), timeout=30)
        await move({"to": "communicated"})
        await move({"to": "executing", "feedback": {"accepted": True, "satisfaction": 4}})
        resolved = await move({"to": "resolved", "improvement_measures": "上门调试纳入发货清单"})
        assert resolved["status"] == "resolved" and resolved["within_sla"] is False
        assert resolved["cause"]["category"] == "promise_not_kept"

        async def alerts_in(state: str) -> list[dict]:
            return (await notifier.get("/alerts", headers=ADMIN, params={"complaint_id": kid, "state": state})).json()["alerts"]

        await eventually(lambda: alerts_in("scheduled"), until=lambda a: a == [], timeout=30)
        assert [a["stage"] for a in await alerts_in("cancelled")] == ["escalation"]  # the next one never goes out
        escalations = [a for a in await alerts_in("fired") if a["stage"] == "escalation"]
        assert escalations and all(a["recipients"] == ["desk-lead"] for a in escalations)

        # --- 4. rep-1 leaves: handover to rep-2 --------------------------------------------------------------
        handover = await customers.post("/reps/rep-1/handover", headers=LEAD, json={"successor_rep_id": "rep-2", "reason": "离职"})
        assert handover.status_code == 200, handover.text
        assert handover.json()["moved"] == 1 and handover.json()["customer_ids"] == [cid]
        card_now = (await customers.get(f"/customers/{cid}", headers=REP2)).json()
        assert card_now["owner_rep_id"] == "rep-2" and card_now["revision"] == 2
        for refused in (
            await customers.get(f"/customers/{cid}", headers=REP1),
            await customers.get("/customers", headers=REP1),
            await customers.post("/orders", headers=REP1, json={"order_id": "SO-2026-0003", "customer_id": cid, "amount": "1.00",
                                                               "placed_at": datetime.now(timezone.utc).isoformat()}),
        ):
            assert refused.status_code == 403 and refused.json()["code"] == "access_revoked", refused.text
        taken_over = await eventually(lambda: open_followups(REP2), until=lambda f: set(f) == set(planned), timeout=30)
        assert {f["rep_id"] for f in taken_over.values()} == {"rep-2"}
        assert await open_followups(REP1) == {}

        # --- 5. every event once, valid; every consumer applied each once; the read models agree ------------
        for service in SERVICES:
            await eventually(lambda s=service: world.scalar(s, "SELECT count(*) FROM outbox WHERE published_at IS NULL"),
                             until=lambda n: n == 0, timeout=30)
        docs: dict[str, list[dict]] = {}
        for topic in STORY_TOPICS:
            records = await read_topic(world.bootstrap, world.topic(topic))
            assert {r.key for r in records} == {cid.encode()}, topic  # keyed by the customer
            docs[topic] = cloud_events(records)
            ids = [d["id"] for d in docs[topic]]
            assert len(ids) == len(set(ids)), f"{topic}: an event arrived twice"
            for doc in docs[topic]:
                jsonschema.validate(doc, events.json_schema(doc["type"]))
            assert await read_topic(world.bootstrap, topics.dlq(world.topic(topic)), idle_ms=300) == [], f"{topic}: dead letters"
        # the outboxes hold exactly what reached the topics
        for service in SERVICES:
            staged = await world.rows(service, "SELECT event_id FROM outbox")
            published = {d["id"] for topic in STORY_TOPICS for d in docs[topic] if d["source"] == f"crm/{service}"}
            assert {r.event_id for r in staged} == published, service

        def types(topic: str) -> Counter:
            return Counter(d["type"] for d in docs[topic])

        breaches = await world.scalar("notifier", "SELECT count(*) FROM sla_alerts WHERE complaint_id = :k AND state = 'fired' "
                                                  "AND stage IN ('breach', 'escalation')", k=kid)
        assert breaches >= 2  # the breach and at least one escalation
        assert types(topics.CUSTOMERS) == {"CustomerUpdated": 2, "VisitLogged": 1}
        assert types(topics.ORDERS) == {"OrderPlaced": 2}
        assert types(topics.GRADING) == {"TierChanged": 3}
        assert types(topics.COMPLAINTS) == {"ComplaintFiled": 1, "ComplaintStatusChanged": 5, "ComplaintResolved": 1}
        assert types(topics.NOTIFICATIONS) == {"FollowUpDue": 1, "SlaWarning": 1, "SlaBreached": breaches}

        data = {topic: [(d["type"], d["data"]) for d in docs[topic]] for topic in STORY_TOPICS}
        assert [(d["old_tier"], d["new_tier"]) for _, d in data[topics.GRADING]] == [(None, "C"), ("C", "B"), ("B", "A")]
        assert [d["owner_rep_id"] for t, d in data[topics.CUSTOMERS] if t == "CustomerUpdated"] == ["rep-1", "rep-2"]
        assert [(d["from"], d["to"]) for t, d in data[topics.COMPLAINTS] if t == "ComplaintStatusChanged"] == [
            ("received", "analyzing"), ("analyzing", "solution_proposed"), ("solution_proposed", "communicated"),
            ("communicated", "executing"), ("executing", "resolved"),
        ]
        filed_event = next(d for t, d in data[topics.COMPLAINTS] if t == "ComplaintFiled")
        assert filed_event["tier"] == "A" and at(filed_event["due_at"]) == due_at
        resolved_event = next(d for t, d in data[topics.COMPLAINTS] if t == "ComplaintResolved")
        assert resolved_event["within_sla"] is False and resolved_event["cause_category"] == "promise_not_kept"
        follow_up = next(d for t, d in data[topics.NOTIFICATIONS] if t == "FollowUpDue")
        assert (follow_up["kind"], follow_up["rep_id"]) == ("thank_you", "rep-1")
        alerts = [d for t, d in data[topics.NOTIFICATIONS] if t != "FollowUpDue"]
        assert {(d["complaint_id"], d["tier"], d["handler_id"], at(d["due_at"])) for d in alerts} == {(kid, "A", "desk-1", due_at)}
        assert [t for t, _ in data[topics.NOTIFICATIONS] if t != "FollowUpDue"][:2] == ["SlaWarning", "SlaBreached"]

        # each consumer applied every event it handles exactly once (the inbox is its record)
        for service, consumes in consumed_by_service().items():
            expected = {d["id"] for topic, handled in consumes.items() for d in docs[topic] if d["type"] in handled}
            inbox = "SELECT event_id FROM inbox WHERE consumer = :s"
            applied = await eventually(lambda s=service: world.rows(s, inbox, s=s),
                                       until=lambda rows, e=expected: {r.event_id for r in rows} == e, timeout=30)
            assert len(applied) == len(expected), service

        # owner and tier agree everywhere
        view = (await customers.get(f"/customers/{cid}", headers=ADMIN)).json()
        assert (view["owner_rep_id"], view["tier"]) == ("rep-2", "A")
        assert (await grading.get(f"/tiers/{cid}", headers=REP2)).json()["tier"] == "A"
        graded = await world.rows("grading", "SELECT owner_rep_id, tier FROM grading_customer_metrics WHERE customer_id = :c", c=cid)
        assert [tuple(r) for r in graded] == [("rep-2", "A")]
        for service in ("complaints", "notifier"):
            known = await world.rows(
                service, "SELECT owner_rep_id, team_id, tier, revision FROM known_customers WHERE customer_id = :c", c=cid
            )
            assert [tuple(r) for r in known] == [("rep-2", "team-east", "A", 2)], service
